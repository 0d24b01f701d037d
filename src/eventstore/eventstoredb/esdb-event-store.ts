import { randomUUID } from 'node:crypto';
import {
  END,
  EventStoreDBClient,
  jsonEvent,
  NO_STREAM,
  STREAM_EXISTS,
  START as ESDB_START,
  WrongExpectedVersionError as EsdbWrongExpectedVersion,
  type AppendExpectedRevision,
  type ResolvedEvent,
} from '@eventstore/db-client';
import { Logger } from '@nestjs/common';
import type { Knex } from 'knex';
import type { EventEnvelope } from '../../../contracts';
import { ProoflineError } from '../../errors/proofline-error';
import { expectationHolds } from '../expected-version';
import { DuplicateEventError, StoreUnavailableError, WrongExpectedVersionError } from '../errors';
import type {
  AppendOptions,
  AppendResult,
  BatchSubscription,
  EventStore,
  EventsAfter,
  EventSubscription,
  ExpectedVersion,
  IdempotencyClaim,
  IdempotentAppend,
  ReadAllFilter,
  ReadStreamOptions,
  RecordedEvent,
  StoreIdentity,
  SubscribeOptions,
} from '../event-store.port';
import { comparePositions, START, type GlobalPosition } from '../global-position';
import { AppendClaims } from './append-claims';
import { ClaimRegistry } from './claim-registry';
import { recoverClaims } from './claim-recovery';
import { outcomeUnknown, translateEsdbError } from './esdb-errors';
import { BOOKKEEPING_PREFIX, isEnvelopeEvent, tenantOf, toProposedEvent, toRecordedEvent } from './esdb-events';
import { checkFirstAt, isInvalidPosition, positionNotInStore } from './esdb-positions';
import { readStreamOrEmpty } from './esdb-reads';
import { flattened, subscribeToAllInBatches } from './esdb-subscription';
import { StateCache } from '../../commands/state-cache';

interface StreamHead {
  readonly version: number;
  readonly tenantId: string | undefined;
}

/** Appends under 'any' or 'stream-exists' retry this often when other writers keep moving the stream. */
const MAX_APPEND_RACES = 16;

/**
 * The stream holding this store's identity: one event, written by the first Proofline process
 * that asks, with a random id. It lives in the log, so a backup restored keeps it.
 */
export const IDENTITY_STREAM = `${BOOKKEEPING_PREFIX}store-identity`;
const IDENTITY_TYPE = '_store-identity';

/** countAfter reads at most this many events. */
export const COUNT_LIMIT = 10_000;

/**
 * The EventStore port on EventStoreDB, through `@eventstore/db-client` (docs/eventstoredb.md).
 *
 * EventStoreDB gives atomic, optimistically concurrent appends to one stream, ordered reads of
 * a stream and of $all, and catch-up subscriptions. The port asks for three things more, which
 * this adapter builds on those:
 * - a stream belongs to one tenant: every append is pinned to the exact stream head it checked
 *   the tenant against, so a racing writer of another tenant makes it fail rather than mix;
 * - event ids are unique store-wide (EventStoreDB only deduplicates recent writes to a
 *   stream): each id is claimed in the claim registry (PostgreSQL) before its event is appended;
 * - idempotency claims: claimed the same way before the append, released if the append fails,
 *   and judged by what landed if the outcome was never learnt.
 */
export class EsdbEventStore implements EventStore {
  private readonly claims: AppendClaims;
  /**
   * The tenant of each recently used stream. A stream's tenant never changes and Proofline
   * deletes no stream, so a remembered answer stays true; it saves reading the stream's head
   * before an append that names its expected version.
   */
  private readonly tenants = new StateCache<string>(10_000);
  private readonly subscriptions = new Set<BatchSubscription>();
  private identityOnce?: Promise<StoreIdentity>;
  private readonly logger = new Logger('eventstoredb');

  private claimsRecovered?: Promise<void>;

  /** `knex`: the PostgreSQL (or PGlite) database holding the claim registry (eventstoredb_claims). */
  constructor(
    private readonly client: EventStoreDBClient,
    private readonly knex: Knex,
  ) {
    this.claims = new AppendClaims(client, new ClaimRegistry(knex, () => this.claimStoreId()));
  }

  static fromConnectionString(connectionString: string, knex: Knex): EsdbEventStore {
    return new EsdbEventStore(EventStoreDBClient.connectionString(connectionString), knex);
  }

  async append(streamId: string, events: readonly EventEnvelope[], expected: ExpectedVersion, options: AppendOptions = {}): Promise<AppendResult> {
    refuseBookkeepingName(streamId);
    const tenantId = checkBatch(streamId, events);
    if (tenantId === undefined) return this.appendNothing(streamId, expected, options.idempotency);
    const reserved = await this.claims.reserveIds(streamId, events);
    const attempt = { mayHaveLanded: false };
    try {
      for (let race = 0; ; race++) {
        const head = await this.headFor(streamId, expected);
        if (head && head.tenantId !== tenantId) throw notFound(streamId, tenantId);
        if (!expectationHolds(expected, head?.version)) throw new WrongExpectedVersionError(streamId, expected, head?.version);
        const outcome = await this.appendOnce(streamId, events, expected, head, options.idempotency, attempt);
        if (outcome !== 'moved') return outcome;
        // The stream moved between our check and the append.
        this.tenants.delete(streamId);
        if (race >= MAX_APPEND_RACES) throw new ProoflineError('STREAM.CONTENDED', `stream ${streamId} kept moving; nothing was written, try again`, 503, { streamId });
      }
    } catch (error) {
      // Ids of an append that may have landed stay claimed: they may be stored.
      if (!attempt.mayHaveLanded) await this.claims.release(reserved);
      throw error;
    }
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const backwards = options.direction === 'backwards';
    const fromRevision = options.fromVersion === undefined ? (backwards ? END : ESDB_START) : BigInt(options.fromVersion);
    const read = await readStreamOrEmpty(this.client, streamId, {
      direction: backwards ? 'backwards' : 'forwards',
      fromRevision,
      maxCount: options.maxCount ?? Number.MAX_SAFE_INTEGER,
    });
    return read.map(toRecordedEvent);
  }

  async readAll(from: GlobalPosition, batchSize: number, filter: ReadAllFilter = {}): Promise<RecordedEvent[]> {
    const found: RecordedEvent[] = [];
    if (batchSize <= 0) return found;
    await this.scanAll(from, Math.max(batchSize + 1, 100), filter.includeFrom === true, (resolved) => {
      if (filter.tenantId !== undefined && tenantOf(resolved) !== filter.tenantId) return true;
      found.push(toRecordedEvent(resolved));
      return found.length < batchSize;
    });
    return found;
  }

  /**
   * Counts by reading, as EventStoreDB keeps no count of $all: at most COUNT_LIMIT events, so a
   * status call stays cheap however far behind a reader is ("10,000" then means "at least").
   */
  async countAfter(from: GlobalPosition, limit: number): Promise<EventsAfter> {
    const cap = Math.min(limit, COUNT_LIMIT);
    let count = 0;
    let oldestOccurredAt: string | undefined;
    if (cap <= 0) return { count };
    await this.scanAll(from, 1000, false, (resolved) => {
      if (count === 0) oldestOccurredAt = toRecordedEvent(resolved).envelope.occurredAt;
      count++;
      return count < cap;
    });
    return { count, oldestOccurredAt };
  }

  subscribe(from: GlobalPosition, options?: SubscribeOptions): EventSubscription {
    return flattened(this.subscribeBatches(from, options));
  }

  subscribeBatches(from: GlobalPosition, options?: SubscribeOptions): BatchSubscription {
    const subscription: BatchSubscription = subscribeToAllInBatches(this.client, from, options, () => this.subscriptions.delete(subscription));
    this.subscriptions.add(subscription);
    return subscription;
  }

  async streamVersion(streamId: string): Promise<number | undefined> {
    return (await this.readHead(streamId))?.version;
  }

  identity(): Promise<StoreIdentity> {
    this.identityOnce ??= this.readOrWriteIdentity().catch((error: unknown) => {
      this.identityOnce = undefined;
      throw error;
    });
    return this.identityOnce;
  }

  /** This store's id, once the registry holds a claim for every event the store holds (claim-recovery.ts). */
  private async claimStoreId(): Promise<string> {
    const { id } = await this.identity();
    this.claimsRecovered ??= recoverClaims(this.client, this.knex, id).then(
      (recovered) => {
        if (recovered.eventIds + recovered.keys > 0) {
          this.logger.log(`claim registry: ${recovered.eventIds} event ids and ${recovered.keys} idempotency keys of EventStoreDB store ${id} ${recovered.kind === 'imported' ? 'imported (first use of this store)' : 'recovered: their events were stored but PostgreSQL had no claim for them (a database restored from an older backup?)'}`);
        }
      },
      (error: unknown) => {
        this.claimsRecovered = undefined;
        throw error instanceof ProoflineError ? error : new StoreUnavailableError(error);
      },
    );
    await this.claimsRecovered;
    return id;
  }

  findIdempotentAppend(tenantId: string, key: string): Promise<IdempotentAppend | undefined> {
    return this.claims.findLanded(tenantId, key);
  }

  async ping(): Promise<void> {
    try {
      // Read to the end rather than break: the client never releases a read left early, and dispose() would wait on it.
      for await (const _ of this.client.readAll({ direction: 'backwards', fromPosition: END, maxCount: 1, deadline: 3_000 })) void _;
    } catch (error) {
      throw translateEsdbError(error);
    }
  }

  async close(): Promise<void> {
    for (const subscription of this.subscriptions) subscription.close();
    await this.client.dispose();
  }

  /**
   * One attempt: claims the key (if any), then appends, pinned to the head whose tenant was
   * checked. 'moved' when the stream moved under us and the caller's expectation allows trying
   * again. Without a key, 'any' and 'stream-exists' on an existing stream append with
   * EventStoreDB's stream_exists: the tenant cannot change, so concurrent writers never race.
   */
  private async appendOnce(
    streamId: string,
    events: readonly EventEnvelope[],
    expected: ExpectedVersion,
    head: StreamHead | undefined,
    claim: IdempotencyClaim | undefined,
    attempt: { mayHaveLanded: boolean },
  ): Promise<AppendResult | 'moved'> {
    const keyClaim = claim && (await this.claims.claimKey(claim, streamId, (head?.version ?? -1) + 1, events));
    const unpinned = !keyClaim && head !== undefined && (expected === 'any' || expected === 'stream-exists');
    const revision: AppendExpectedRevision = unpinned ? STREAM_EXISTS : head === undefined ? NO_STREAM : BigInt(head.version);
    let last: number;
    try {
      attempt.mayHaveLanded = true;
      const keyed = claim && { key: claim.key, requestHash: claim.requestHash, eventCount: events.length };
      const proposed = events.map((envelope, index) => toProposedEvent(envelope, index === 0 ? keyed : undefined));
      last = Number((await this.client.appendToStream(streamId, proposed, { expectedRevision: revision })).nextExpectedRevision);
    } catch (error) {
      attempt.mayHaveLanded = outcomeUnknown(error);
      // A key of an append that may have landed stays claimed: a retry is answered by what landed.
      if (keyClaim && !attempt.mayHaveLanded) await this.claims.release([keyClaim]);
      if (error instanceof EsdbWrongExpectedVersion) return 'moved';
      throw translateEsdbError(error, true);
    }
    const firstVersion = last - events.length + 1;
    const pinnedFirst = (head?.version ?? -1) + 1;
    if (!unpinned && firstVersion !== pinnedFirst) {
      // EventStoreDB lets `no_stream` recreate a soft-deleted stream, numbering the new events after
      // the hidden ones (IndexWriter.CheckCommit): the stream was deleted behind Proofline's back,
      // perhaps another tenant's. The events are stored; say so loudly rather than carry on.
      this.tenants.delete(streamId);
      throw new ProoflineError(
        'STREAM.DELETED',
        `stream ${streamId} was deleted in EventStoreDB and written again: its events were to be version ${pinnedFirst} on, EventStoreDB stored them from version ${firstVersion}, after the deleted ones. Proofline never deletes streams (docs/eventstoredb.md, "Operating it")`,
        500,
        { streamId, expectedFirstVersion: pinnedFirst, storedFirstVersion: firstVersion },
      );
    }
    this.tenants.set(streamId, events[0].tenantId);
    return this.landedAt(streamId, events, firstVersion);
  }

  /** Positions are per event, but EventStoreDB answers an append with one: read them back. */
  private async landedAt(streamId: string, events: readonly EventEnvelope[], firstVersion: number): Promise<AppendResult> {
    let landed: RecordedEvent[];
    try {
      landed = await this.readStream(streamId, { fromVersion: firstVersion, maxCount: events.length });
    } catch (error) {
      throw new StoreUnavailableError(error, { outcomeUnknown: true });
    }
    if (landed.length !== events.length || landed.some((recorded, index) => recorded.envelope.id !== events[index].id)) {
      throw new StoreUnavailableError(new Error(`the events appended to ${streamId} at version ${firstVersion} did not read back`), { outcomeUnknown: true });
    }
    return {
      nextExpectedVersion: firstVersion + events.length - 1,
      streamVersions: landed.map((recorded) => recorded.streamVersion),
      positions: landed.map((recorded) => recorded.position),
    };
  }

  /** No events: the expectation is still checked, and a keyed no-op is recorded, so its retry stays a no-op. */
  private async appendNothing(streamId: string, expected: ExpectedVersion, claim: IdempotencyClaim | undefined): Promise<AppendResult> {
    const head = await this.readHead(streamId);
    if (!expectationHolds(expected, head?.version)) throw new WrongExpectedVersionError(streamId, expected, head?.version);
    if (claim) await this.claims.claimKey(claim, streamId, (head?.version ?? -1) + 1, []);
    return { nextExpectedVersion: head?.version ?? -1, positions: [], streamVersions: [] };
  }

  /**
   * The head to check and pin to: read, unless the caller names the version and we know the
   * stream's tenant (then the pinned append itself checks the version).
   */
  private async headFor(streamId: string, expected: ExpectedVersion): Promise<StreamHead | undefined> {
    const knownTenant = this.tenants.get(streamId);
    if (typeof expected === 'number' && knownTenant !== undefined) return { version: expected, tenantId: knownTenant };
    return this.readHead(streamId);
  }

  private async readHead(streamId: string): Promise<StreamHead | undefined> {
    const [last] = await readStreamOrEmpty(this.client, streamId, { direction: 'backwards', fromRevision: END, maxCount: 1 });
    if (!last?.event) return undefined;
    const tenantId = tenantOf(last);
    if (tenantId !== undefined) this.tenants.set(streamId, tenantId);
    return { version: Number(last.event.revision), tenantId };
  }

  /** The first event of IDENTITY_STREAM; written (no_stream, so one writer wins) when there is none yet. */
  private async readOrWriteIdentity(): Promise<StoreIdentity> {
    for (;;) {
      const [first] = await readStreamOrEmpty(this.client, IDENTITY_STREAM, { direction: 'forwards', fromRevision: ESDB_START, maxCount: 1 });
      if (first?.event) {
        const id = (first.event.data as { id?: unknown } | undefined)?.id;
        if (typeof id !== 'string') throw new ProoflineError('STREAM.CORRUPT_ROW', `the first event of ${IDENTITY_STREAM} names no store id`, 500, {});
        return { kind: 'eventstoredb', id };
      }
      try {
        await this.client.appendToStream(IDENTITY_STREAM, jsonEvent({ type: IDENTITY_TYPE, data: { id: randomUUID() } }), { expectedRevision: NO_STREAM });
      } catch (error) {
        // Another process wrote it first: read theirs.
        if (!(error instanceof EsdbWrongExpectedVersion)) throw translateEsdbError(error);
      }
    }
  }

  /**
   * Hands each envelope event after `from` (from `from` on with `includeFrom`) to `visit` in
   * $all order until it returns false or $all ends. $all also holds events that are not
   * envelopes (system, bookkeeping): those are passed over. A read from a position includes the
   * event at it, and the first page must start with it: a position where no event of this store
   * starts is refused (positionNotInStore), never read past.
   */
  private async scanAll(from: GlobalPosition, pageSize: number, includeFrom: boolean, visit: (resolved: ResolvedEvent) => boolean): Promise<void> {
    let position = from;
    let include = includeFrom;
    for (let first = true; ; first = false) {
      const page = await this.readAllPage(position, pageSize);
      if (first) checkFirstAt(from, page[0]);
      for (const resolved of page) {
        const order = comparePositions(positionOf(resolved), position);
        if (order < 0 || (order === 0 && !include) || !isEnvelopeEvent(resolved)) continue;
        if (!visit(resolved)) return;
      }
      if (page.length < pageSize) return;
      position = positionOf(page[page.length - 1]);
      include = false;
    }
  }

  private async readAllPage(from: GlobalPosition, maxCount: number): Promise<ResolvedEvent[]> {
    const read: ResolvedEvent[] = [];
    try {
      const fromPosition = comparePositions(from, START) === 0 ? ESDB_START : from;
      for await (const resolved of this.client.readAll({ fromPosition, maxCount })) read.push(resolved);
    } catch (error) {
      if (isInvalidPosition(error)) throw positionNotInStore(from, 'invalid');
      throw translateEsdbError(error);
    }
    return read;
  }
}

/** Every envelope names this stream and one tenant; no id twice. Returns the tenant (none for an empty batch). */
function checkBatch(streamId: string, events: readonly EventEnvelope[]): string | undefined {
  if (events.length === 0) return undefined;
  const tenantId = events[0].tenantId;
  const seen = new Set<string>();
  for (const envelope of events) {
    if (envelope.streamId !== streamId || envelope.tenantId !== tenantId) {
      throw new ProoflineError('STREAM.MIXED_BATCH', `event ${envelope.id} belongs to stream ${envelope.streamId} of tenant ${envelope.tenantId}, not ${streamId} of ${tenantId}`, 500);
    }
    if (seen.has(envelope.id)) throw new DuplicateEventError([envelope.id]);
    seen.add(envelope.id);
  }
  return tenantId;
}

function refuseBookkeepingName(streamId: string): void {
  if (streamId.startsWith(BOOKKEEPING_PREFIX) || streamId.startsWith('$')) {
    throw new ProoflineError('STREAM.RESERVED_NAME', `stream names starting with ${BOOKKEEPING_PREFIX} or $ are reserved`, 500, { streamId });
  }
}

function notFound(streamId: string, tenantId: string): ProoflineError {
  return new ProoflineError('STREAM.NOT_FOUND', `stream ${streamId} does not exist for tenant ${tenantId}`, 404, { streamId });
}


function positionOf(resolved: ResolvedEvent): GlobalPosition {
  const position = resolved.event?.position;
  if (!position) throw new ProoflineError('STREAM.CORRUPT_ROW', 'EventStoreDB returned a $all entry without a position', 500, {});
  return position;
}
