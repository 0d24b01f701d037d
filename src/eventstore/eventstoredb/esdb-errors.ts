import {
  AccessDeniedError,
  CancelledError,
  DeadlineExceededError,
  MaxAppendSizeExceededError,
  NotLeaderError,
  TimeoutError,
  UnavailableError,
} from '@eventstore/db-client';
import { ProoflineError } from '../../errors/proofline-error';
import { StoreUnavailableError } from '../errors';

/**
 * Failures after which an append may or may not have been stored: the request may have reached
 * the server before the answer was lost (a deadline, a commit timeout, a cancelled call, a
 * dropped connection). Claims made for such an append are kept and judged by what landed.
 */
export function outcomeUnknown(error: unknown): boolean {
  return error instanceof DeadlineExceededError || error instanceof TimeoutError || error instanceof CancelledError || error instanceof UnavailableError;
}

/**
 * The client's failures as the port's errors. `duringAppend`: the failure of an append call,
 * whose outcome a lost connection leaves unknown. A follower refusing a write (NotLeader) wrote
 * nothing. Anything unrecognised is passed on as it is.
 */
export function translateEsdbError(error: unknown, duringAppend = false): unknown {
  if (error instanceof ProoflineError) return error;
  if (error instanceof NotLeaderError) return new StoreUnavailableError(error);
  if (error instanceof UnavailableError && !duringAppend) return new StoreUnavailableError(error);
  if (outcomeUnknown(error)) return new StoreUnavailableError(error, { outcomeUnknown: true });
  if (error instanceof MaxAppendSizeExceededError) {
    return new ProoflineError('STORE.APPEND_TOO_LARGE', `EventStoreDB refused the append as larger than its maximum append size; nothing was written (${error.message})`, 413, {});
  }
  if (error instanceof AccessDeniedError) {
    return new ProoflineError('STORE.ACCESS_DENIED', 'EventStoreDB refused the operation: the user in ESDB_CONNECTION_STRING lacks the permission (docs/eventstoredb.md, "Operating it")', 500, {});
  }
  return error;
}
