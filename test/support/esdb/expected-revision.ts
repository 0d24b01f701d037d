import type { ExpectedRevision } from './model';

/**
 * What an append does to a stream whose event ids, by revision, are `streamIds`:
 * - `write`: append the proposed events after the last one;
 * - `already-written`: the same events were appended before, so the append succeeds and writes
 *   nothing; `lastRevision` is the revision of the last of them;
 * - `wrong-expected-version`: the expectation fails.
 */
export type AppendDecision =
  | { readonly kind: 'write' }
  | { readonly kind: 'already-written'; readonly lastRevision: bigint }
  | { readonly kind: 'wrong-expected-version' };

const WRITE: AppendDecision = { kind: 'write' };
const WRONG_EXPECTED_VERSION: AppendDecision = { kind: 'wrong-expected-version' };

/**
 * EventStoreDB's expected-revision and idempotency rules (its IndexWriter's commit check):
 * `no_stream` is the exact revision -1 and `stream_exists` the current revision. A stale exact
 * revision is a retry when the events after it carry exactly the proposed ids, in order. With
 * `any`, a proposal whose first id is already in the stream is a retry when the ids are the run
 * that starts there, and a wrong expected version otherwise (a half-matching retry cannot be
 * told apart from a conflict). `stream_exists` never deduplicates, like the real server.
 * An empty proposal only checks the expectation: with no ids there is nothing to deduplicate.
 */
export function decideAppend(
  streamIds: readonly string[],
  expected: ExpectedRevision,
  proposedIds: readonly string[],
): AppendDecision {
  const current = BigInt(streamIds.length - 1);
  switch (expected) {
    case 'any':
      return proposedIds.length === 0 ? WRITE : decideAny(streamIds, proposedIds);
    case 'stream_exists':
      return streamIds.length === 0 ? WRONG_EXPECTED_VERSION : WRITE;
    case 'no_stream':
      return decideExact(streamIds, -1n, current, proposedIds);
    default:
      return decideExact(streamIds, expected, current, proposedIds);
  }
}

function decideAny(streamIds: readonly string[], proposedIds: readonly string[]): AppendDecision {
  const start = streamIds.indexOf(proposedIds[0]);
  if (start < 0) return WRITE;
  return matchesRunAt(streamIds, start, proposedIds)
    ? { kind: 'already-written', lastRevision: BigInt(start + proposedIds.length - 1) }
    : WRONG_EXPECTED_VERSION;
}

function decideExact(
  streamIds: readonly string[],
  expected: bigint,
  current: bigint,
  proposedIds: readonly string[],
): AppendDecision {
  if (expected === current) return WRITE;
  if (expected > current || proposedIds.length === 0) return WRONG_EXPECTED_VERSION;
  const start = Number(expected + 1n);
  return matchesRunAt(streamIds, start, proposedIds)
    ? { kind: 'already-written', lastRevision: expected + BigInt(proposedIds.length) }
    : WRONG_EXPECTED_VERSION;
}

function matchesRunAt(streamIds: readonly string[], start: number, proposedIds: readonly string[]): boolean {
  return proposedIds.every((id, offset) => streamIds[start + offset] === id);
}
