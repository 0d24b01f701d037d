import { randomUUID } from 'node:crypto';
import { decideAppend } from './expected-revision';
import { revisionOf } from './model';
import type { CurrentRevision, ExpectedRevision, LogPosition, ProposedEsdbEvent, StoredEsdbEvent } from './model';

/**
 * What an append answered. `position` is that of the last event written (or, for a retry, of
 * the last event the earlier write left); it is absent when nothing was or had been written.
 */
export type AppendOutcome =
  | { readonly kind: 'success'; readonly currentRevision: CurrentRevision; readonly position?: LogPosition }
  | { readonly kind: 'wrong-expected-version'; readonly currentRevision: CurrentRevision }
  | { readonly kind: 'stream-deleted' };

/** What a read of a stream finds: its readable events, nothing, or a tombstone. */
export type StreamRead =
  | { readonly kind: 'events'; readonly events: readonly StoredEsdbEvent[]; readonly firstRevision: bigint }
  | { readonly kind: 'not-found' }
  | { readonly kind: 'deleted' };

/** What a delete answered. */
export type DeleteOutcome =
  | { readonly kind: 'deleted'; readonly position: LogPosition }
  | { readonly kind: 'wrong-expected-version'; readonly currentRevision: CurrentRevision }
  | { readonly kind: 'stream-deleted' };

/**
 * A stream's state besides its events: a soft delete hides every event before `truncateBefore`
 * (the stream reads as not found while `softDeleted`); a tombstone ends the stream for good.
 */
interface StreamState {
  readonly events: StoredEsdbEvent[];
  truncateBefore: bigint;
  softDeleted: boolean;
  tombstoned: boolean;
}

/** The revision EventStoreDB gives the tombstone record (long.MaxValue). */
const TOMBSTONE_REVISION = 9_223_372_036_854_775_807n;

/** (0, 0) is where $all starts, so no event may sit there; a real log begins after its chunk header. */
const FIRST_LOG_POSITION = 128n;
/**
 * Roughly the fixed fields of a prepare record. The exact number is irrelevant: positions only
 * have to grow with the bytes written, as real ones do, so tests cannot assume consecutive values.
 */
const RECORD_OVERHEAD_BYTES = 80n;

/**
 * The in-memory store: streams by name and the $all log, with EventStoreDB's positions. One
 * write of N events shares a commit position (where the write starts) and gives each event its
 * own prepare position, so (commit, prepare) strictly increases along $all.
 * Listeners hear of every write after it is stored, synchronously, in log order.
 */
export class EsdbLog {
  private readonly streams = new Map<string, StreamState>();
  private readonly log: StoredEsdbEvent[] = [];
  /** The node's cache of committed events (IndexWriter._committedEvents): in memory, emptied by a restart. */
  private committed = new Map<string, { readonly streamName: string; readonly revision: bigint }>();
  private readonly listeners = new Set<() => void>();
  private nextPosition = FIRST_LOG_POSITION;

  append(
    streamName: string,
    expected: ExpectedRevision,
    proposed: readonly ProposedEsdbEvent[],
    createdTicks: bigint,
  ): AppendOutcome {
    const state = this.state(streamName);
    const stream = state.events;
    const facts = { name: streamName, ids: stream.map((event) => event.id), softDeleted: state.softDeleted, tombstoned: state.tombstoned };
    const decision = decideAppend(facts, expected, proposed.map((event) => event.id), (id) => this.committed.get(id));
    switch (decision.kind) {
      case 'stream-deleted':
        return { kind: 'stream-deleted' };
      case 'wrong-expected-version':
        return { kind: 'wrong-expected-version', currentRevision: revisionOf(stream) };
      case 'already-written': {
        const last = stream[Number(decision.lastRevision)];
        return { kind: 'success', currentRevision: last.revision, position: positionOf(last) };
      }
      case 'write':
        if (proposed.length === 0) return { kind: 'success', currentRevision: revisionOf(stream) };
        return this.write(streamName, proposed, createdTicks);
    }
  }

  /** The stream's events by revision, hidden ones included; empty when it does not exist. */
  stream(streamName: string): readonly StoredEsdbEvent[] {
    return this.streams.get(streamName)?.events ?? [];
  }

  /** What a read of the stream sees: events from the truncation point on, not found, or deleted. */
  readStream(streamName: string): StreamRead {
    const state = this.streams.get(streamName);
    if (state?.tombstoned) return { kind: 'deleted' };
    if (state === undefined || state.softDeleted || BigInt(state.events.length) <= state.truncateBefore) return { kind: 'not-found' };
    return { kind: 'events', events: state.events.slice(Number(state.truncateBefore)), firstRevision: state.truncateBefore };
  }

  /**
   * A soft delete (`tombstone` false) or a tombstone, after the same expected-revision check as
   * an append. A soft delete writes the stream's metadata (`$tb` = long.MaxValue) to `$$<stream>`;
   * a tombstone writes a `$streamDeleted` record to the stream. Both show in $all.
   */
  delete(streamName: string, expected: ExpectedRevision, tombstone: boolean, createdTicks: bigint): DeleteOutcome {
    const state = this.state(streamName);
    if (state.tombstoned) return { kind: 'stream-deleted' };
    const current = revisionOf(state.events);
    const holds =
      expected === 'any' ||
      (expected === 'no_stream' && current === 'no_stream') ||
      (expected === 'stream_exists' && current !== 'no_stream') ||
      expected === current;
    if (!holds) return { kind: 'wrong-expected-version', currentRevision: current };
    this.streams.set(streamName, state);
    const record = tombstone
      ? { streamName, type: '$streamDeleted', revision: TOMBSTONE_REVISION, data: new Uint8Array() }
      : { streamName: `$$${streamName}`, type: '$metadata', revision: BigInt(this.stream(`$$${streamName}`).length), data: Buffer.from('{"$tb":9223372036854775807}') };
    const stored: StoredEsdbEvent = Object.freeze({
      id: randomUUID(),
      contentType: 'application/json',
      metadata: new Uint8Array(),
      ...record,
      createdTicks,
      commit: this.nextPosition,
      prepare: this.nextPosition,
    });
    this.nextPosition += recordSize(stored);
    this.log.push(stored);
    if (tombstone) state.tombstoned = true;
    else {
      state.softDeleted = true;
      this.state(stored.streamName).events.push(stored);
      this.streams.set(stored.streamName, this.state(stored.streamName));
    }
    for (const listener of [...this.listeners]) listener();
    return { kind: 'deleted', position: positionOf(stored) };
  }

  /** A node restart: the data stays, the in-memory cache of committed events is gone. */
  restart(): void {
    this.committed = new Map();
  }

  /** Where the next write will start: every position at or past it is past the end of $all. */
  end(): LogPosition {
    return { commit: this.nextPosition, prepare: this.nextPosition };
  }

  /** Every event in $all order. The array is the live log: callers index it, never change it. */
  all(): readonly StoredEsdbEvent[] {
    return this.log;
  }

  /** Calls `listener` after each write; returns the function that stops it. */
  onWrite(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private state(streamName: string): StreamState {
    return this.streams.get(streamName) ?? { events: [], truncateBefore: 0n, softDeleted: false, tombstoned: false };
  }

  private write(streamName: string, proposed: readonly ProposedEsdbEvent[], createdTicks: bigint): AppendOutcome {
    const state = this.state(streamName);
    this.streams.set(streamName, state);
    const stream = state.events;
    // Writing to a soft-deleted stream undeletes it: reads start at the first new event.
    if (state.softDeleted) {
      state.softDeleted = false;
      state.truncateBefore = BigInt(stream.length);
    }
    const commit = this.nextPosition;
    let prepare = commit;
    for (const event of proposed) {
      const stored: StoredEsdbEvent = Object.freeze({
        ...event,
        streamName,
        revision: BigInt(stream.length),
        createdTicks,
        commit,
        prepare,
      });
      stream.push(stored);
      this.log.push(stored);
      this.committed.set(stored.id, { streamName, revision: stored.revision });
      prepare += recordSize(stored);
    }
    this.nextPosition = prepare;
    const last = stream[stream.length - 1];
    for (const listener of [...this.listeners]) listener();
    return { kind: 'success', currentRevision: last.revision, position: positionOf(last) };
  }
}

function positionOf(event: StoredEsdbEvent): LogPosition {
  return { commit: event.commit, prepare: event.prepare };
}

function recordSize(event: StoredEsdbEvent): bigint {
  const textBytes = Buffer.byteLength(event.streamName) + Buffer.byteLength(event.type) + Buffer.byteLength(event.contentType);
  return RECORD_OVERHEAD_BYTES + BigInt(textBytes + event.data.length + event.metadata.length);
}
