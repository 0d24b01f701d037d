import { UnknownError, type EventStoreDBClient, type ResolvedEvent } from '@eventstore/db-client';
import { ProoflineError } from '../../errors/proofline-error';
import { comparePositions, formatPosition, START, type GlobalPosition } from '../global-position';
import { translateEsdbError } from './esdb-errors';

/**
 * A read of $all from a position that is no event's start: 23.10 and 24.10 answer
 * INVALID_ARGUMENT "Trying to read from an invalid position." (RpcExceptions.InvalidPositionException),
 * a status without an exception key, which the 6.2.1 client makes an UnknownError.
 */
export function isInvalidPosition(error: unknown): boolean {
  return error instanceof UnknownError && /invalid position/i.test(error.message);
}

/**
 * A position this EventStoreDB holds no event at. Reading or subscribing on from it would skip
 * events without a word: a 24.10 filtered subscription from at or past the last indexed
 * position goes live and drops every event at or before it. So the checkpoint is refused.
 */
export function positionNotInStore(from: GlobalPosition, found: GlobalPosition | 'invalid' | undefined): ProoflineError {
  const what =
    found === 'invalid'
      ? 'EventStoreDB answered InvalidPosition: it is not the start of an event'
      : found === undefined
        ? '$all ends before it'
        : `the first event at or after it is at ${formatPosition(found)}`;
  return new ProoflineError(
    'STORE.POSITION_NOT_IN_STORE',
    `no event of this EventStoreDB starts at $all position ${formatPosition(from)} (${what}): the position was not taken from this store ` +
      `(a PostgreSQL checkpoint, another EventStoreDB, or a backup older than the checkpoint), and reading on from it would skip events. ` +
      `Restore the checkpoints together with the store they were taken from, or reset them to the start of this store ` +
      `(docs/eventstoredb.md, "Checkpoints belong to one store")`,
    500,
    { position: formatPosition(from), ...(typeof found === 'object' ? { found: formatPosition(found) } : {}) },
  );
}

/** Throws unless `first`, the first entry of a forwards read of $all from `from`, sits exactly at `from`. */
export function checkFirstAt(from: GlobalPosition, first: ResolvedEvent | undefined): void {
  if (comparePositions(from, START) === 0) return;
  const found = first?.event?.position;
  if (found === undefined || comparePositions(found, from) !== 0) throw positionNotInStore(from, found);
}

/** Reads exactly one event at `from` (unless it is the start) and throws unless it is there. */
export async function checkEventAt(client: EventStoreDBClient, from: GlobalPosition): Promise<void> {
  if (comparePositions(from, START) === 0) return;
  let first: ResolvedEvent | undefined;
  try {
    // Read to the end rather than break: the client never releases a read left early.
    for await (const resolved of client.readAll({ fromPosition: from, maxCount: 1 })) first ??= resolved;
  } catch (error) {
    if (isInvalidPosition(error)) throw positionNotInStore(from, 'invalid');
    throw translateEsdbError(error);
  }
  checkFirstAt(from, first);
}
