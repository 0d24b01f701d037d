import type { ExpectedRevision } from './model';

/**
 * What an append does to a stream:
 * - `write`: append the proposed events after the last one;
 * - `already-written`: the same events were appended before, so the append succeeds and writes
 *   nothing; `lastRevision` is the revision of the last of them;
 * - `wrong-expected-version`: the expectation fails;
 * - `stream-deleted`: the stream is tombstoned, or soft-deleted and the append asks for `stream_exists`.
 */
export type AppendDecision =
  | { readonly kind: 'write' }
  | { readonly kind: 'already-written'; readonly lastRevision: bigint }
  | { readonly kind: 'wrong-expected-version' }
  | { readonly kind: 'stream-deleted' };

/** What the decision reads of a stream. */
export interface StreamFacts {
  readonly name: string;
  /** Every event id the stream's index holds, by revision (a soft delete hides them from reads, not from the index). */
  readonly ids: readonly string[];
  readonly softDeleted: boolean;
  readonly tombstoned: boolean;
}

/** Where a recently committed event went: the node's in-memory cache of committed events (lost on restart). */
export type CommittedEvents = (eventId: string) => { readonly streamName: string; readonly revision: bigint } | undefined;

const WRITE: AppendDecision = { kind: 'write' };
const WRONG_EXPECTED_VERSION: AppendDecision = { kind: 'wrong-expected-version' };
const STREAM_DELETED: AppendDecision = { kind: 'stream-deleted' };

/**
 * EventStoreDB's commit check (IndexWriter.CheckCommit, 23.10 and 24.10), for a stream that
 * might exist:
 * - a tombstoned stream refuses every append; a soft-deleted one refuses `stream_exists`, and
 *   `stream_exists` on a stream that never existed is a wrong expected version;
 * - `any` and `stream_exists` are deduplicated only through the cache of committed events
 *   (event id -> stream and revision), which a restart empties: when every proposed id is in it
 *   for this stream the append is a retry; when the first is not, the events are written (even
 *   if the same ids were stored before the restart); when only a later one is not, it is a
 *   wrong expected version ("corrupted idempotency");
 * - an exact revision (`no_stream` is -1) behind the head is a retry when the events after it
 *   carry the proposed ids, judged through the index (durable); `no_stream` on a soft-deleted
 *   stream whose first id does not match is written, numbered after the hidden events;
 * - the exact head writes; past the head is a wrong expected version.
 * An empty proposal only checks the expectation.
 */
export function decideAppend(
  stream: StreamFacts,
  expected: ExpectedRevision,
  proposedIds: readonly string[],
  committed: CommittedEvents,
): AppendDecision {
  const current = BigInt(stream.ids.length - 1);
  if (stream.tombstoned) return STREAM_DELETED;
  if (expected === 'stream_exists') {
    if (stream.softDeleted) return STREAM_DELETED;
    if (stream.ids.length === 0) return WRONG_EXPECTED_VERSION;
  }
  if (expected === 'any' || expected === 'stream_exists') return decideFromCache(stream.name, proposedIds, committed);
  const exact = expected === 'no_stream' ? -1n : expected;
  if (exact === current) return WRITE;
  if (exact > current || proposedIds.length === 0) return WRONG_EXPECTED_VERSION;
  const start = Number(exact + 1n);
  if (proposedIds.every((id, offset) => stream.ids[start + offset] === id)) {
    return { kind: 'already-written', lastRevision: exact + BigInt(proposedIds.length) };
  }
  const firstMatches = stream.ids[start] === proposedIds[0];
  if (!firstMatches && expected === 'no_stream' && stream.softDeleted) return WRITE;
  return WRONG_EXPECTED_VERSION;
}

function decideFromCache(streamName: string, proposedIds: readonly string[], committed: CommittedEvents): AppendDecision {
  let last: bigint | undefined;
  for (const [index, id] of proposedIds.entries()) {
    const known = committed(id);
    if (known === undefined || known.streamName !== streamName) return index === 0 ? WRITE : WRONG_EXPECTED_VERSION;
    last = known.revision;
  }
  return last === undefined ? WRITE : { kind: 'already-written', lastRevision: last };
}
