import { CancelledError, DeadlineExceededError, NotLeaderError, UnavailableError } from '@eventstore/db-client';
import { StoreUnavailableError } from '../errors';

/**
 * The client's connection failures become the port's StoreUnavailableError (a 503 that says
 * nothing was written); everything else is passed on as it is. A deadline or a lost leader
 * leaves an append's outcome unknown: callers that claimed something keep the claim, and the
 * claim is judged later by what landed.
 */
export function translateEsdbError(error: unknown): unknown {
  if (error instanceof StoreUnavailableError) return error;
  if (error instanceof UnavailableError || error instanceof DeadlineExceededError || error instanceof NotLeaderError || error instanceof CancelledError) {
    return new StoreUnavailableError(error);
  }
  return error;
}
