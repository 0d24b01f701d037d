import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { comparePositions, type GlobalPosition } from '../../src/eventstore/global-position';
import type { ProjectedEvent, Projector } from './projector';
import type { ProjectorTables } from './tables';

export interface BatchOutcome {
  /** Events handed to the projector (after filtering and deduplication). */
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
}

/** A per-projector lock, taken in every batch transaction and by a rebuild's switch-over. */
export function projectorLockKey(name: string): string {
  return BigInt.asIntN(64, createHash('sha256').update(`proofline.projector.${name}`).digest().readBigUInt64BE(0)).toString();
}

/**
 * Applies a batch in ONE transaction (or, given a transaction, inside it): the projector's rows, its revision guard (the last
 * stream version applied per stream) and its position commit together, or not at all. An
 * event whose stream version is not above the guard has been applied before and is skipped, so
 * any redelivery — a relay re-publishing after a crash, a consumer restarting before its
 * offset commit — has no effect.
 */
export async function applyBatch(knex: Knex, projector: Projector, names: ProjectorTables, events: readonly ProjectedEvent[], positionRow = projector.name): Promise<BatchOutcome> {
  return knex.transaction(async (trx) => {
    await trx.raw('SELECT pg_advisory_xact_lock(?::bigint)', [projectorLockKey(projector.name)]);
    const handled = events.filter((event) => projector.handles.includes(event.envelope.type));
    const guard = await loadGuard(trx, names.guard, handled);
    const fresh: ProjectedEvent[] = [];
    for (const event of handled) {
      const seen = guard.get(event.envelope.streamId) ?? -1;
      if (event.streamVersion <= seen) continue;
      guard.set(event.envelope.streamId, event.streamVersion);
      fresh.push(event);
    }
    const outcome = await applyFresh(trx, projector, names, fresh);
    const appliedEvents = outcome.stoppedAt ? fresh.slice(0, fresh.findIndex((e) => e.envelope.id === outcome.stoppedAt!.eventId)) : fresh;
    await saveGuard(trx, names.guard, appliedEvents.concat(outcome.deadLetteredEvents));
    // Events after a stop are neither applied nor passed: the position stays before the failed one.
    const passed = outcome.stoppedAt ? events.slice(0, events.findIndex((e) => e.envelope.id === outcome.stoppedAt!.eventId)) : events;
    const position = passed.reduce<GlobalPosition | undefined>((latest, e) => (!latest || comparePositions(e.position, latest) > 0 ? e.position : latest), undefined);
    await savePosition(trx, positionRow, position, appliedEvents, outcome.stoppedAt);
    return {
      applied: appliedEvents.length,
      duplicates: handled.length - fresh.length,
      deadLettered: outcome.deadLetteredEvents.length,
      deadLetters: outcome.deadLetters,
      stoppedAt: outcome.stoppedAt,
      position,
      appliedOccurredAt: appliedEvents.map((event) => event.envelope.occurredAt),
    };
  });
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
