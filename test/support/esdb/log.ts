import { decideAppend } from './expected-revision';
import { revisionOf } from './model';
import type { CurrentRevision, ExpectedRevision, LogPosition, ProposedEsdbEvent, StoredEsdbEvent } from './model';

/**
 * What an append answered. `position` is that of the last event written (or, for a retry, of
 * the last event the earlier write left); it is absent when nothing was or had been written.
 */
export type AppendOutcome =
  | { readonly kind: 'success'; readonly currentRevision: CurrentRevision; readonly position?: LogPosition }
  | { readonly kind: 'wrong-expected-version'; readonly currentRevision: CurrentRevision };

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
  private readonly streams = new Map<string, StoredEsdbEvent[]>();
  private readonly log: StoredEsdbEvent[] = [];
  private readonly listeners = new Set<() => void>();
  private nextPosition = FIRST_LOG_POSITION;

  append(
    streamName: string,
    expected: ExpectedRevision,
    proposed: readonly ProposedEsdbEvent[],
    createdTicks: bigint,
  ): AppendOutcome {
    const stream = this.stream(streamName);
    const decision = decideAppend(stream.map((event) => event.id), expected, proposed.map((event) => event.id));
    switch (decision.kind) {
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

  /** The stream's events by revision; empty when it does not exist. */
  stream(streamName: string): readonly StoredEsdbEvent[] {
    return this.streams.get(streamName) ?? [];
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

  private write(streamName: string, proposed: readonly ProposedEsdbEvent[], createdTicks: bigint): AppendOutcome {
    const stream = this.streams.get(streamName) ?? [];
    this.streams.set(streamName, stream);
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
