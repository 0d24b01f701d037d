/**
 * How a node refuses a write it never started (EventStoreDB's `ClientMessage.NotHandled`):
 * - `not-ready`: the node is starting up or catching up with the cluster;
 * - `too-busy`: its queues are full;
 * - `no-leader-info`: it is a follower (or read-only replica) that does not know the leader yet,
 *   as during an election. A follower that knows the leader answers NotLeader instead.
 */
export type AppendRefusal = 'not-ready' | 'too-busy' | 'no-leader-info';

/**
 * What a node is doing besides storing events, set by tests: whether it refuses writes, and its
 * clock (for BatchAppend deadlines, which the real server judges by its own clock).
 */
export class NodeState {
  refusal: AppendRefusal | undefined;
  /** Only appends to streams whose names start with this are refused (all when undefined). */
  refusedPrefix: string | undefined;
  /** Added to Date.now() wherever the server reads its clock. */
  clockSkewMs = 0;
  /** EventStoreDB's default write timeout (`--write-timeout-ms`, 2,000 ms): BatchAppend caps a deadline at it. */
  writeTimeoutMs = 2_000;
  /** EventStoreDB's default `--max-append-size`: 1,048,576 bytes per append. */
  maxAppendSize = 1_048_576;
  /** Requests served, for tests that count an operation's round trips: reads (and subscriptions), appends. */
  readonly requests = { reads: 0, appends: 0 };

  /** The refusal an append to `streamName` gets now, if any. */
  refusalFor(streamName: string): AppendRefusal | undefined {
    if (this.refusal === undefined) return undefined;
    return this.refusedPrefix === undefined || streamName.startsWith(this.refusedPrefix) ? this.refusal : undefined;
  }

  now(): number {
    return Date.now() + this.clockSkewMs;
  }
}
