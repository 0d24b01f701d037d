/** A place in the $all log. EventStoreDB orders $all by (commit, prepare), commit first. */
export interface LogPosition {
  readonly commit: bigint;
  readonly prepare: bigint;
}

/** The client's own vocabulary for an append's expectation (`ANY`, `NO_STREAM`, `STREAM_EXISTS` or an exact revision). */
export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | bigint;

/** A stream's last revision, or `no_stream` while it has no event. */
export type CurrentRevision = bigint | 'no_stream';

/** An event as a client proposes it: bytes exactly as received, id in canonical lower-case form. */
export interface ProposedEsdbEvent {
  readonly id: string;
  readonly type: string;
  readonly contentType: string;
  readonly data: Uint8Array;
  readonly metadata: Uint8Array;
}

/** An event as the test server stored it. */
export interface StoredEsdbEvent extends ProposedEsdbEvent, LogPosition {
  readonly streamName: string;
  readonly revision: bigint;
  /** .NET ticks (100 ns) since the Unix epoch, the unit the client divides by 10,000 to get milliseconds. */
  readonly createdTicks: bigint;
}

export function comparePositions(a: LogPosition, b: LogPosition): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

export function revisionOf(events: readonly StoredEsdbEvent[]): CurrentRevision {
  return events.length === 0 ? 'no_stream' : BigInt(events.length - 1);
}
