import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type { EventStore } from '../../src/eventstore/event-store.port';
import { comparePositions, type GlobalPosition } from '../../src/eventstore/global-position';
import { misfiledFault, storedBytesFault } from '../../src/signing/stored-event';
import type { ProjectedEvent, Projector } from './projector';
import type { ProjectorTables } from './tables';

export interface BatchOutcome {
  /** Events handed to the projector (after filtering and deduplication), gap fills included. */
  readonly applied: number;
  /** Events already applied before (a redelivery or a duplicate publish): no effect. */
  readonly duplicates: number;
  readonly deadLettered: number;
  /** The events set aside, with why: the Kafka runner also publishes them to the dead-letter topic. */
  readonly deadLetters: ReadonlyArray<{ readonly event: ProjectedEvent; readonly error: string }>;
  /** Set when the projector's policy is `stop` and an event failed: it and what follows were not applied. */
  readonly stoppedAt?: { readonly eventId: string; readonly error: string };
  readonly position?: GlobalPosition;
  /** occurredAt of each applied event, for the end-to-end latency metric. */
  readonly appliedOccurredAt: readonly string[];
  /** Events read from the store because a later version of their stream arrived first (see `fillGapsFrom`). */
  readonly gapFills: number;
  /** How many of the given events, from the first, are done with (applied, skipped or set aside): through Kafka, the offsets to commit. */
  readonly passedEvents: number;
  /**
   * Through Kafka: the partition's stored next offset, when the batch starts after it (Kafka's
   * committed offset outlived a lost database commit). Nothing was applied; the runner seeks there.
   */
  readonly seekTo?: string;
}

/** Where a Kafka batch came from: its partition's offset and position are saved in the batch's own transaction. */
export interface KafkaBatchSource {
  readonly topic: string;
  readonly partition: number;
  /** The offset of each event, in the same order. */
  readonly offsets: readonly string[];
  /**
   * The batch may start after the stored next offset: the runner already sought there once in
   * this assignment and the partition's log no longer starts at or before it.
   */
  readonly startAboveStored?: boolean;
}

/**
 * The partition's offsets started over below the offset this projector applied up to: the topic
 * was deleted and created again (or a broker lost committed messages). The stored offset no longer
 * says what was applied, and going on would skip every new message below it. Seen when a message
 * below the stored offset is one the revision guard has not accounted for (a redelivery of what
 * was applied always is). Sticky: kept on the partition's row until `forget-offsets` drops it.
 */
export class PartitionRewoundError extends Error {
  readonly code = 'KAFKA.PARTITION_REWOUND';
  constructor(
    readonly projector: string,
    readonly topic: string,
    readonly partition: number,
    readonly stored: bigint,
    evidence: string,
  ) {
    super(
      `KAFKA.PARTITION_REWOUND: ${topic}/${partition}: ${evidence}, below offset ${stored} up to which projector ${projector} applied this partition: the topic was deleted and created again (or the broker lost messages). Nothing of it is applied until an operator runs 'proofline projections forget-offsets ${projector} --topic ${topic}' and rebuilds the projector (docs/projections.md, "A topic deleted and created again")`,
    );
  }
}

export interface ApplyOptions {
  /** The projector_positions row (a rebuild writes its shadow's). */
  readonly positionRow?: string;
  /**
   * Events that may arrive out of stream order (through Kafka): a stream version above the
   * guard's next one is a gap, filled from this store in the same transaction (the missing
   * versions are read and applied first). Batches read from the store in global order leave
   * it out: they cannot have a gap.
   */
  readonly fillGapsFrom?: EventStore;
  readonly kafka?: KafkaBatchSource;
}

/** A per-projector lock, taken in every batch transaction and by a rebuild's switch-over. */
export function projectorLockKey(name: string): string {
  return BigInt.asIntN(64, createHash('sha256').update(`proofline.projector.${name}`).digest().readBigUInt64BE(0)).toString();
}

/** The domain of an event type: its topic's name part (`workspaces.renamed` → `workspaces`). */
export function domainOf(eventType: string): string {
  return eventType.split('.')[0];
}

/** The domains of the projector's event types: its topics. */
export function domainsOf(projector: Projector): ReadonlySet<string> {
  return new Set(projector.handles.map(domainOf));
}

/** A row of a domain the projector does not take: not its to judge. A row without a type is judged (it may be anyone's). */
export function outsideDomains(domains: ReadonlySet<string>, envelope: unknown): boolean {
  const type = (envelope as { type?: unknown } | undefined)?.type;
  return typeof type === 'string' && !domains.has(domainOf(type));
}

/**
 * Applies a batch in ONE transaction: the projector's rows, its revision guard, its position
 * and (through Kafka) its partition's next offset together, or not at all.
 *
 * The guard keeps, per stream, the version up to which every event of the projector's domains
 * (its topics) is accounted for: applied, dead-lettered, or of a type it does not handle. An
 * event at or below it has been seen before and is skipped, so any redelivery has no effect.
 * An event above the next version is a gap — its stream's earlier events are late (another
 * partition after a repartitioning, an offset that ran ahead): with `fillGapsFrom` the missing
 * versions are read from the store and applied first, in stream order; a gap the store cannot
 * fill fails the batch (it is retried: the projector waits, it never skips).
 */
export async function applyBatch(knex: Knex, projector: Projector, names: ProjectorTables, events: readonly ProjectedEvent[], options: ApplyOptions | string = {}): Promise<BatchOutcome> {
  const { positionRow = projector.name, fillGapsFrom, kafka } = typeof options === 'string' ? { positionRow: options } : options;
  return knex.transaction(async (trx) => {
    await trx.raw('SELECT pg_advisory_xact_lock(?::bigint)', [projectorLockKey(projector.name)]);
    let batch = events;
    let offsets = kafka?.offsets;
    let duplicates = 0;
    const domains = domainsOf(projector);
    if (kafka) {
      const { next: stored, rewound } = await readPartitionOffset(trx, positionRow, kafka);
      if (rewound) throw new PartitionRewoundError(projector.name, kafka.topic, kafka.partition, stored, 'found rewound before and not yet forgotten');
      if (batch.length > 0 && BigInt(kafka.offsets[0]) > stored && !kafka.startAboveStored) {
        return { applied: 0, duplicates: 0, deadLettered: 0, deadLetters: [], appliedOccurredAt: [], gapFills: 0, passedEvents: 0, seekTo: stored.toString() };
      }
      // Below the stored offset: applied by an earlier delivery whose Kafka commit was lost — which the guard must confirm.
      const from = kafka.offsets.findIndex((offset) => BigInt(offset) >= stored);
      const below = from < 0 ? events : events.slice(0, from);
      await requireAccounted(trx, domains, names, below, fillGapsFrom, (i) => new PartitionRewoundError(projector.name, kafka.topic, kafka.partition, stored, `the message at offset ${kafka.offsets[i]} (stream ${below[i].envelope.streamId} version ${below[i].streamVersion}) was never applied`));
      batch = from < 0 ? [] : events.slice(from);
      offsets = from < 0 ? [] : kafka.offsets.slice(from);
      duplicates += events.slice(0, events.length - batch.length).filter((event) => projector.handles.includes(event.envelope.type)).length;
    }
    const ofDomains = batch.filter((event) => domains.has(domainOf(event.envelope.type)));
    const guard = await loadGuard(trx, names.guard, ofDomains);
    const seenBefore = new Map(guard);
    const accounted: ProjectedEvent[] = [];
    let gapFills = 0;
    for (const event of ofDomains) {
      const stream = event.envelope.streamId;
      const seen = guard.get(stream) ?? -1;
      if (event.streamVersion <= seen) {
        if (projector.handles.includes(event.envelope.type)) duplicates += 1;
        continue;
      }
      if (event.streamVersion > seen + 1 && fillGapsFrom) {
        const missing = await fillGap(fillGapsFrom, stream, seen + 1, event.streamVersion - 1, domains);
        const filled = missing.filter((late) => domains.has(domainOf(late.envelope.type)));
        accounted.push(...filled);
        gapFills += filled.filter((late) => projector.handles.includes(late.envelope.type)).length;
      }
      guard.set(stream, event.streamVersion);
      accounted.push(event);
    }
    const fresh = accounted.filter((event) => projector.handles.includes(event.envelope.type));
    const outcome = await applyFresh(trx, projector, names, fresh);
    const stopIndex = outcome.stoppedAt ? accounted.findIndex((e) => e.envelope.id === outcome.stoppedAt!.eventId) : -1;
    // After a stop, neither the failed event nor what follows is accounted for: the guard stays before it.
    await saveGuard(trx, names.guard, stopIndex >= 0 ? accounted.slice(0, stopIndex) : accounted);
    const appliedEvents = outcome.stoppedAt ? fresh.slice(0, fresh.findIndex((e) => e.envelope.id === outcome.stoppedAt!.eventId)) : fresh;
    // Events after a stop are neither applied nor passed: the position stays before the failed one.
    // Passed is the batch's prefix that is done with: of another domain, seen before this batch, or
    // accounted before the failed event (a stop on a gap fill passes none of what needed the fill,
    // even an event the fill made look like a duplicate further on in the batch).
    const doneBeforeStop = new Set(stopIndex >= 0 ? accounted.slice(0, stopIndex).map((e) => e.envelope.id) : []);
    const doneWith = (e: ProjectedEvent) => !domains.has(domainOf(e.envelope.type)) || e.streamVersion <= (seenBefore.get(e.envelope.streamId) ?? -1) || doneBeforeStop.has(e.envelope.id);
    const firstOpen = outcome.stoppedAt ? batch.findIndex((e) => !doneWith(e)) : -1;
    const passed = outcome.stoppedAt ? batch.slice(0, firstOpen < 0 ? batch.length : firstOpen) : batch;
    const position = passed.reduce<GlobalPosition | undefined>((latest, e) => (!latest || comparePositions(e.position, latest) > 0 ? e.position : latest), undefined);
    await savePosition(trx, positionRow, position, appliedEvents, outcome.stoppedAt);
    if (kafka && offsets && passed.length > 0) await savePartitionOffset(trx, positionRow, kafka, offsets[passed.length - 1], position!);
    return {
      applied: appliedEvents.length,
      duplicates,
      deadLettered: outcome.deadLetteredEvents.length,
      deadLetters: outcome.deadLetters,
      stoppedAt: outcome.stoppedAt,
      position,
      appliedOccurredAt: appliedEvents.map((event) => event.envelope.occurredAt),
      gapFills,
      passedEvents: events.length - batch.length + passed.length,
    };
  });
}

/** Versions `from`..`to` of a stream, from the store; all of them, or the batch fails (and is retried). */
async function fillGap(store: EventStore, streamId: string, from: number, to: number, domains: ReadonlySet<string>): Promise<ProjectedEvent[]> {
  const recorded = await store.readStream(streamId, { fromVersion: from, maxCount: to - from + 1 });
  if (recorded.length !== to - from + 1 || recorded.some((event, i) => event.streamVersion !== from + i)) {
    throw new Error(`stream ${streamId}: version ${to + 1} arrived, but versions ${from}..${to} are not all in the event store (found ${recorded.length}); the projector waits rather than skip them`);
  }
  // The relay publishes neither a misfiled row nor bytes other than the signed ones; a fill must not take them in either.
  for (const event of recorded) {
    // Rows of other domains count toward the versions but are not this projector's to judge.
    if (outsideDomains(domains, event.envelope)) continue;
    const fault = storedBytesFault(event)?.message ?? misfiledFault(event);
    if (fault) throw new Error(`stream ${streamId}: version ${event.streamVersion} in the event store cannot fill the gap: ${fault}; the projector waits rather than apply it`);
  }
  return recorded.map((event) => ({ envelope: event.envelope, streamVersion: event.streamVersion, position: event.position }));
}

async function readPartitionOffset(trx: Knex.Transaction, projector: string, kafka: KafkaBatchSource): Promise<{ next: bigint; rewound: boolean }> {
  const row = await trx('projector_partition_offsets').where({ projector, topic: kafka.topic, kafka_partition: kafka.partition }).first('next_offset', 'rewound_at');
  // No row: nothing of this partition is known to be applied, so it is read from its beginning (the guard absorbs what was).
  return { next: row ? BigInt(row.next_offset) : 0n, rewound: row?.rewound_at != null };
}

/**
 * Messages below the stored offset are taken for redeliveries of what was applied; the guard
 * must agree. An event of the projector's domains above its stream's guarded version was never
 * applied — and if the store holds that very event, the offsets cannot be the ones stored:
 * `rewound(i)` is thrown for the first such message. A message of an event the store no longer
 * holds (a removed row, after a rebuild lowered the guard) is no such evidence.
 */
async function requireAccounted(trx: Knex.Transaction, domains: ReadonlySet<string>, names: ProjectorTables, below: readonly ProjectedEvent[], store: EventStore | undefined, rewound: (index: number) => Error): Promise<void> {
  const guard = await loadGuard(trx, names.guard, below.filter((event) => domains.has(domainOf(event.envelope.type))));
  for (let i = 0; i < below.length; i++) {
    const event = below[i];
    if (!domains.has(domainOf(event.envelope.type)) || event.streamVersion <= (guard.get(event.envelope.streamId) ?? -1)) continue;
    if (!store) throw rewound(i);
    const [stored] = await store.readStream(event.envelope.streamId, { fromVersion: event.streamVersion, maxCount: 1 });
    if (stored?.streamVersion === event.streamVersion && stored.envelope.id === event.envelope.id) throw rewound(i);
  }
}

async function savePartitionOffset(trx: Knex.Transaction, projector: string, kafka: KafkaBatchSource, lastOffset: string, position: GlobalPosition): Promise<void> {
  await trx.raw(
    `INSERT INTO projector_partition_offsets (projector, topic, kafka_partition, next_offset, position_commit, position_prepare, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, now())
     ON CONFLICT (projector, topic, kafka_partition) DO UPDATE SET
       next_offset      = greatest(projector_partition_offsets.next_offset, EXCLUDED.next_offset),
       position_commit  = CASE WHEN EXCLUDED.next_offset > projector_partition_offsets.next_offset THEN EXCLUDED.position_commit ELSE projector_partition_offsets.position_commit END,
       position_prepare = CASE WHEN EXCLUDED.next_offset > projector_partition_offsets.next_offset THEN EXCLUDED.position_prepare ELSE projector_partition_offsets.position_prepare END,
       last_error       = CASE WHEN projector_partition_offsets.rewound_at IS NOT NULL THEN projector_partition_offsets.last_error END,
       failing_since    = CASE WHEN projector_partition_offsets.rewound_at IS NOT NULL THEN projector_partition_offsets.failing_since END,
       updated_at       = now()`,
    [projector, kafka.topic, kafka.partition, (BigInt(lastOffset) + 1n).toString(), String(position.commit), String(position.prepare)],
  );
}

interface FreshOutcome {
  readonly deadLetteredEvents: ProjectedEvent[];
  readonly deadLetters: Array<{ event: ProjectedEvent; error: string }>;
  readonly stoppedAt?: { eventId: string; error: string };
}

/** The whole batch at once; if that throws, one event at a time under savepoints, to find and set aside the event that fails. */
async function applyFresh(trx: Knex.Transaction, projector: Projector, names: ProjectorTables, fresh: ProjectedEvent[]): Promise<FreshOutcome> {
  if (fresh.length === 0) return { deadLetteredEvents: [], deadLetters: [] };
  try {
    await trx.transaction((savepoint) => projector.apply(fresh, { trx: savepoint, tables: names.tables }));
    return { deadLetteredEvents: [], deadLetters: [] };
  } catch {
    const deadLetteredEvents: ProjectedEvent[] = [];
    const deadLetters: Array<{ event: ProjectedEvent; error: string }> = [];
    for (const event of fresh) {
      try {
        await trx.transaction((savepoint) => projector.apply([event], { trx: savepoint, tables: names.tables }));
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        await deadLetter(trx, projector.name, event, message);
        deadLetters.push({ event, error: message });
        if (projector.onFailure === 'stop') return { deadLetteredEvents, deadLetters, stoppedAt: { eventId: event.envelope.id, error: message } };
        deadLetteredEvents.push(event);
      }
    }
    return { deadLetteredEvents, deadLetters };
  }
}

async function loadGuard(trx: Knex.Transaction, guard: string, events: readonly ProjectedEvent[]): Promise<Map<string, number>> {
  const streams = [...new Set(events.map((event) => event.envelope.streamId))];
  if (streams.length === 0) return new Map();
  const rows: Array<{ stream_id: string; version: string }> = await trx(guard).whereIn('stream_id', streams).select('stream_id', 'version');
  return new Map(rows.map((row) => [row.stream_id, Number(row.version)]));
}

async function saveGuard(trx: Knex.Transaction, guard: string, events: readonly ProjectedEvent[]): Promise<void> {
  const latest = new Map<string, number>();
  for (const event of events) latest.set(event.envelope.streamId, Math.max(latest.get(event.envelope.streamId) ?? -1, event.streamVersion));
  if (latest.size === 0) return;
  const rows = [...latest].map(([stream_id, version]) => ({ stream_id, version }));
  await trx(guard).insert(rows).onConflict('stream_id').merge();
}

async function savePosition(trx: Knex.Transaction, projector: string, position: GlobalPosition | undefined, applied: readonly ProjectedEvent[], stoppedAt?: { error: string }): Promise<void> {
  const lastOccurredAt = applied.length > 0 ? applied.reduce((latest, e) => (e.envelope.occurredAt > latest ? e.envelope.occurredAt : latest), '') : undefined;
  // A stop stays until `projections resume`: batches of the projector's other partitions must not report it running again.
  await trx.raw(
    `INSERT INTO projector_positions (projector, position_commit, position_prepare, applied, last_occurred_at, state, last_error, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, now())
     ON CONFLICT (projector) DO UPDATE SET
       position_commit  = CASE WHEN (EXCLUDED.position_commit, EXCLUDED.position_prepare) > (projector_positions.position_commit, projector_positions.position_prepare) THEN EXCLUDED.position_commit ELSE projector_positions.position_commit END,
       position_prepare = CASE WHEN (EXCLUDED.position_commit, EXCLUDED.position_prepare) > (projector_positions.position_commit, projector_positions.position_prepare) THEN EXCLUDED.position_prepare ELSE projector_positions.position_prepare END,
       applied          = projector_positions.applied + EXCLUDED.applied,
       last_occurred_at = coalesce(greatest(projector_positions.last_occurred_at, EXCLUDED.last_occurred_at), projector_positions.last_occurred_at),
       state            = CASE WHEN projector_positions.state = 'stopped' THEN 'stopped' ELSE EXCLUDED.state END,
       last_error       = CASE WHEN projector_positions.state = 'stopped' THEN projector_positions.last_error ELSE EXCLUDED.last_error END,
       updated_at       = now()`,
    [projector, String(position?.commit ?? 0n), String(position?.prepare ?? 0n), applied.length, lastOccurredAt ?? null, stoppedAt ? 'stopped' : 'running', stoppedAt?.error ?? null],
  );
}

async function deadLetter(trx: Knex.Transaction, projector: string, event: ProjectedEvent, error: string): Promise<void> {
  await trx('projection_dead_letters')
    .insert({
      projector,
      event_id: event.envelope.id,
      event_type: event.envelope.type,
      stream_id: event.envelope.streamId,
      stream_version: event.streamVersion,
      error: error.slice(0, 2000),
      envelope: JSON.stringify(event.envelope),
    })
    .onConflict(['projector', 'event_id'])
    .merge(['error', 'failed_at']);
}
