import { createHash } from 'node:crypto';
import {
  END,
  EventStoreDBClient,
  NO_STREAM,
  START as ESDB_START,
  WrongExpectedVersionError as EsdbWrongExpectedVersion,
  type AppendExpectedRevision,
  type ResolvedEvent,
} from '@eventstore/db-client';
import type { EventEnvelope, JsonObject } from '../../../contracts';
import { ProoflineError } from '../../errors/proofline-error';
import { DuplicateEventError, IdempotencyKeyUsedError, WrongExpectedVersionError } from '../errors';
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
  SubscribeOptions,
} from '../event-store.port';
import { comparePositions, START, type GlobalPosition } from '../global-position';
import { ClaimRegistry } from './claim-registry';
import { translateEsdbError } from './esdb-errors';
import { BOOKKEEPING_PREFIX, isEnvelopeEvent, tenantOf, toProposedEvent, toRecordedEvent } from './esdb-events';
import { readStreamOrEmpty } from './esdb-reads';
import { flattened, subscribeToAllInBatches } from './esdb-subscription';
import { StreamTenants } from './stream-tenants';

/** What an idempotency claim records: enough to answer a retry, and to tell whether its append landed. */
type KeyClaim = JsonObject & {
  readonly tenantId: string;
  readonly key: string;
  readonly requestHash: string;
  readonly streamId: string;
  readonly firstVersion: number;
  readonly eventCount: number;
  readonly firstEventId: string | null;
};

interface StreamHead {
  readonly version: number;
  readonly tenantId: string | undefined;
}

/** Appends under 'any' or 'stream-exists' retry this often when other writers keep moving the stream. */
const MAX_APPEND_RACES = 16;

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
 *   stream): each id is claimed in a bookkeeping stream before its event is appended;
 * - idempotency claims: claimed the same way before the append, released if the append fails,
 *   and judged by what landed if the outcome was never learnt.
 */
export class EsdbEventStore implements EventStore {
  private readonly claims: ClaimRegistry;
  private readonly tenants = new StreamTenants();
  private readonly subscriptions = new Set<BatchSubscription>();

  constructor(private readonly client: EventStoreDBClient) {
    this.claims = new ClaimRegistry(client);
  }

  static fromConnectionString(connectionString: string): EsdbEventStore {
    return new EsdbEventStore(EventStoreDBClient.connectionString(connectionString));
  }

  async append(streamId: string, events: readonly EventEnvelope[], expected: ExpectedVersion, options: AppendOptions = {}): Promise<AppendResult> {
    refuseBookkeepingName(streamId);
    const tenantId = checkBatch(streamId, events);
    for (let race = 0; ; race++) {
      const head = await this.headFor(streamId, expected, events.length);
      if (head && tenantId !== undefined && head.tenantId !== tenantId) throw notFound(streamId, tenantId);
      if (!expectationHolds(expected, head?.version)) throw new WrongExpectedVersionError(streamId, expected, head?.version);
      const attempt = await this.appendAt(streamId, events, head?.version, options.idempotency);
      if (attempt !== 'moved') return attempt;
      // The stream moved between our check and the append.
      this.tenants.forget(streamId);
      if (race >= MAX_APPEND_RACES) throw new ProoflineError('STREAM.CONTENDED', `stream ${streamId} kept moving; nothing was written, try again`, 503, { streamId });
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
    await this.scanAll(from, Math.max(batchSize + 1, 100), (resolved) => {
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
    await this.scanAll(from, 1000, (resolved) => {
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

  async findIdempotentAppend(tenantId: string, key: string): Promise<IdempotentAppend | undefined> {
    const claim = await this.claims.current<KeyClaim>(keyClaimName(tenantId, key));
    if (!claim || claim.released || (await this.keyClaimOutcome(claim.record)) !== 'landed') return undefined;
    const { requestHash, streamId, firstVersion, eventCount } = claim.record;
    return { requestHash, streamId, firstVersion, eventCount };
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
   * One attempt at the append, pinned to the head we checked: 'moved' when the stream moved
   * under us and the caller's expectation allows trying again.
   */
  private async appendAt(streamId: string, events: readonly EventEnvelope[], headVersion: number | undefined, claim: IdempotencyClaim | undefined): Promise<AppendResult | 'moved'> {
    const firstVersion = (headVersion ?? -1) + 1;
    const keyClaim = claim && (await this.claimKey(claim, streamId, firstVersion, events));
    if (events.length === 0) return { nextExpectedVersion: headVersion ?? -1, positions: [], streamVersions: [] };
    const reserved: Array<[string, bigint]> = [];
    const releaseAll = async () => {
      await Promise.all(reserved.map(([name, revision]) => this.claims.release(name, revision)));
      if (keyClaim) await this.claims.release(keyClaim.name, keyClaim.revision);
    };
    try {
      await this.reserveIds(streamId, events, reserved);
    } catch (error) {
      await releaseAll();
      throw error;
    }
    const pinned: AppendExpectedRevision = headVersion === undefined ? NO_STREAM : BigInt(headVersion);
    try {
      await this.client.appendToStream(streamId, events.map(toProposedEvent), { expectedRevision: pinned });
    } catch (error) {
      if (!(error instanceof EsdbWrongExpectedVersion)) throw translateEsdbError(error); // outcome unknown: claims stay, judged by what landed
      await releaseAll();
      return 'moved';
    }
    if (events[0].tenantId) this.tenants.remember(streamId, events[0].tenantId);
    const landed = await this.readStream(streamId, { fromVersion: firstVersion, maxCount: events.length });
    return {
      nextExpectedVersion: firstVersion + events.length - 1,
      streamVersions: landed.map((recorded) => recorded.streamVersion),
      positions: landed.map((recorded) => recorded.position),
    };
  }

  /**
   * The head to check and pin to: read, unless events are appended, the caller names the
   * version and we know the stream's tenant (then the pinned append itself checks the version).
   */
  private async headFor(streamId: string, expected: ExpectedVersion, eventCount: number): Promise<StreamHead | undefined> {
    const knownTenant = this.tenants.of(streamId);
    if (eventCount > 0 && typeof expected === 'number' && knownTenant !== undefined) return { version: expected, tenantId: knownTenant };
    return this.readHead(streamId);
  }

  private async readHead(streamId: string): Promise<StreamHead | undefined> {
    const [last] = await readStreamOrEmpty(this.client, streamId, { direction: 'backwards', fromRevision: END, maxCount: 1 });
    if (!last?.event) return undefined;
    const tenantId = tenantOf(last);
    if (tenantId !== undefined) this.tenants.remember(streamId, tenantId);
    return { version: Number(last.event.revision), tenantId };
  }

  private async claimKey(claim: IdempotencyClaim, streamId: string, firstVersion: number, events: readonly EventEnvelope[]) {
    const name = keyClaimName(claim.tenantId, claim.key);
    const record: KeyClaim = {
      tenantId: claim.tenantId,
      key: claim.key,
      requestHash: claim.requestHash,
      streamId,
      firstVersion,
      eventCount: events.length,
      firstEventId: events[0]?.id ?? null,
    };
    const outcome = await this.claims.take(name, record, async (holder) => (await this.keyClaimOutcome(holder)) !== 'dead');
    if (!outcome.won) throw new IdempotencyKeyUsedError(claim.tenantId, claim.key);
    return { name, revision: outcome.revision };
  }

  /**
   * A claim whose append was pinned to one stream version either landed there, can still land
   * (its stream has not reached that version: the append is in flight, or its process died and
   * the key waits for the stream to move), or never will (another event holds that version).
   */
  private async keyClaimOutcome(claim: KeyClaim): Promise<'landed' | 'pending' | 'dead'> {
    if (claim.eventCount === 0 || claim.firstEventId === null) return 'landed';
    const [atVersion] = await readStreamOrEmpty(this.client, claim.streamId, { fromRevision: BigInt(claim.firstVersion), maxCount: 1 });
    if (!atVersion?.event) return 'pending';
    return atVersion.event.id === claim.firstEventId ? 'landed' : 'dead';
  }

  private async reserveIds(streamId: string, events: readonly EventEnvelope[], reserved: Array<[string, bigint]>): Promise<void> {
    const outcomes = await Promise.allSettled(
      events.map(async (envelope) => {
        const name = `event-${envelope.id}`;
        const outcome = await this.claims.take(name, { streamId }, async () => true);
        if (outcome.won) reserved.push([name, outcome.revision]);
        return outcome.won ? undefined : envelope.id;
      }),
    );
    const failed = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (failed) throw translateEsdbError(failed.reason);
    const duplicates = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' && outcome.value ? [outcome.value] : []));
    if (duplicates.length > 0) throw new DuplicateEventError(duplicates);
  }

  /**
   * Hands each envelope event after `from` to `visit` in $all order until it returns false or
   * $all ends. $all also holds events that are not envelopes (system, bookkeeping): those are
   * passed over. Reads from a position include the event at it, which is skipped.
   */
  private async scanAll(from: GlobalPosition, pageSize: number, visit: (resolved: ResolvedEvent) => boolean): Promise<void> {
    let position = from;
    for (;;) {
      const page = await this.readAllPage(position, pageSize);
      for (const resolved of page) {
        if (comparePositions(positionOf(resolved), position) <= 0 || !isEnvelopeEvent(resolved)) continue;
        if (!visit(resolved)) return;
      }
      if (page.length < pageSize) return;
      position = positionOf(page[page.length - 1]);
    }
  }

  private async readAllPage(from: GlobalPosition, maxCount: number): Promise<ResolvedEvent[]> {
    const read: ResolvedEvent[] = [];
    try {
      const fromPosition = comparePositions(from, START) === 0 ? ESDB_START : from;
      for await (const resolved of this.client.readAll({ fromPosition, maxCount })) read.push(resolved);
    } catch (error) {
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

/** Keys are the caller's text: hashed into a stream name of fixed shape. */
function keyClaimName(tenantId: string, key: string): string {
  return `idempotency-${createHash('sha256').update(tenantId).update('\0').update(key).digest('hex')}`;
}

function positionOf(resolved: ResolvedEvent): GlobalPosition {
  const position = resolved.event?.position;
  if (!position) throw new ProoflineError('STREAM.CORRUPT_ROW', 'EventStoreDB returned a $all entry without a position', 500, {});
  return position;
}

function expectationHolds(expected: ExpectedVersion, actual: number | undefined): boolean {
  if (expected === 'any') return true;
  if (expected === 'no-stream') return actual === undefined;
  if (expected === 'stream-exists') return actual !== undefined;
  return actual === expected;
}
