import type { EventEnvelope } from '../../contracts';
import type { GlobalPosition } from './global-position';

/**
 * `'no-stream'`: the stream must not exist. `'stream-exists'`: it must. `'any'`: no check.
 * A number: the version (0-based revision) of the stream's last event.
 */
export type ExpectedVersion = number | 'no-stream' | 'stream-exists' | 'any';

/** An event as the store holds it: the signed envelope, its exact bytes, and where it sits. */
export interface RecordedEvent {
  readonly envelope: EventEnvelope;
  /** The stored UTF-8 text of the signed envelope (RFC 8785), byte for byte as appended. */
  readonly raw: string;
  readonly streamVersion: number;
  readonly position: GlobalPosition;
  /**
   * The ids the store filed the event under. They must equal the envelope's: a signed
   * envelope copied into another row (another id, stream or tenant) is caught here, since its
   * signature alone still verifies.
   */
  readonly storedAs: { readonly eventId: string; readonly streamId: string; readonly tenantId: string };
}

export interface IdempotencyClaim {
  readonly tenantId: string;
  readonly key: string;
  /** SHA-256 of the request that first used the key: the same key with another request is refused. */
  readonly requestHash: string;
}

export interface AppendOptions {
  /** Recorded in the same transaction as the events; a second append with the same claim fails. */
  readonly idempotency?: IdempotencyClaim;
}

export interface AppendResult {
  /** The version of the stream's last event after the append. */
  readonly nextExpectedVersion: number;
  /** One per appended event, in order. */
  readonly positions: readonly GlobalPosition[];
  readonly streamVersions: readonly number[];
}

export interface IdempotentAppend {
  readonly requestHash: string;
  readonly streamId: string;
  readonly firstVersion: number;
  readonly eventCount: number;
}

export type ReadDirection = 'forwards' | 'backwards';

export interface ReadStreamOptions {
  readonly direction?: ReadDirection;
  /** Inclusive. Forwards defaults to 0, backwards to the last event. */
  readonly fromVersion?: number;
  readonly maxCount?: number;
}

/** Narrows a global read; the order is still the global order. */
export interface ReadAllFilter {
  readonly tenantId?: string;
  /**
   * Also return the event at `from` itself (when it passes the filter). For a reader that holds
   * an event's own position (a receipt, a relay halt) and wants that event: a position just
   * before it is not one EventStoreDB can read from.
   */
  readonly includeFrom?: boolean;
}

/**
 * Which store positions belong to. A position means something only in the store that gave it:
 * PostgreSQL's are transaction ids, EventStoreDB's are byte offsets in its log. Checkpoints
 * record this, so a process pointed at another store refuses to resume from them.
 */
export interface StoreIdentity {
  readonly kind: 'postgresql' | 'eventstoredb';
  /** Stable for the life of the store's data; a backup restored keeps it. */
  readonly id: string;
}

export interface SubscribeOptions {
  readonly batchSize?: number;
  /** How often an idle subscription looks for events appended by other processes. */
  readonly pollIntervalMs?: number;
  readonly signal?: AbortSignal;
}

/**
 * A catch-up subscription: every event after `from` in global order, then live ones.
 * Pull-based, so a slow consumer is never flooded: the store reads the next batch only when
 * the consumer asks for more. Ends when `signal` aborts or `close()` is called.
 */
export interface EventSubscription extends AsyncIterable<RecordedEvent> {
  close(): void;
}

/** A catch-up subscription that hands on events a batch at a time (each at most `batchSize`). */
export interface BatchSubscription extends AsyncIterable<RecordedEvent[]> {
  close(): void;
}

/** How far behind a reader at some position is. */
export interface EventsAfter {
  /** Events readable after the position, counted up to the limit asked for (an adapter may stop sooner, see its doc). */
  readonly count: number;
  /** When the first of them occurred (its envelope's occurredAt), if there is one. */
  readonly oldestOccurredAt?: string;
}

export interface EventStore {
  /**
   * Appends already-signed envelopes atomically. Throws WrongExpectedVersionError on a version
   * conflict, DuplicateEventError when an event id exists, IdempotencyKeyUsedError when the
   * idempotency claim was already recorded.
   * Precondition: every envelope's streamId and tenantId match the stream's.
   */
  append(streamId: string, events: readonly EventEnvelope[], expected: ExpectedVersion, options?: AppendOptions): Promise<AppendResult>;
  readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  /**
   * Events strictly after `from` in global order (from `from` on with `includeFrom`); only ones
   * no later commit can precede. `from` is the start or the position of an event of this store:
   * an adapter may refuse any other (EventStoreDB does, rather than skip events).
   */
  readAll(from: GlobalPosition, batchSize: number, filter?: ReadAllFilter): Promise<RecordedEvent[]>;
  subscribe(from: GlobalPosition, options?: SubscribeOptions): EventSubscription;
  /** The same, in batches: for consumers that work a batch at a time (relay, projectors). */
  subscribeBatches(from: GlobalPosition, options?: SubscribeOptions): BatchSubscription;
  /** For lag: the events after `from` in global order, counted up to `limit`. */
  countAfter(from: GlobalPosition, limit: number): Promise<EventsAfter>;
  /** The version of the stream's last event, or undefined when the stream does not exist. */
  streamVersion(streamId: string): Promise<number | undefined>;
  findIdempotentAppend(tenantId: string, key: string): Promise<IdempotentAppend | undefined>;
  /** Which store this is (cached after the first call); see StoreIdentity. */
  identity(): Promise<StoreIdentity>;
  /** Liveness of the backing store, for /health. Throws StoreUnavailableError when down. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export const EVENT_STORE = Symbol('EventStore');
