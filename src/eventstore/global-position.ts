/**
 * A position in the store's global order. Two numbers, as in EventStoreDB's $all:
 * `commit` orders transactions, `prepare` orders events inside one. On PostgreSQL, commit is
 * the appending transaction's id (xid8) and prepare the event's sequence number; reading in
 * (commit, prepare) order below the oldest in-flight transaction is what lets a reader never
 * skip a late commit (docs/event-store.md).
 */
export interface GlobalPosition {
  readonly commit: bigint;
  readonly prepare: bigint;
}

export const START: GlobalPosition = Object.freeze({ commit: 0n, prepare: 0n });

export function comparePositions(a: GlobalPosition, b: GlobalPosition): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

/** The wire form: "<commit>/<prepare>", decimal. Sorts correctly only when parsed. */
export function formatPosition(position: GlobalPosition): string {
  return `${position.commit}/${position.prepare}`;
}

export function parsePosition(text: string): GlobalPosition {
  const match = /^(\d{1,20})\/(\d{1,20})$/.exec(text);
  if (!match) throw new RangeError(`position must look like <commit>/<prepare> with decimal numbers, got ${JSON.stringify(text)}`);
  return { commit: BigInt(match[1]), prepare: BigInt(match[2]) };
}
