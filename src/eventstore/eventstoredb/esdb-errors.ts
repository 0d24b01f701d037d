import {
  AccessDeniedError,
  CancelledError,
  DeadlineExceededError,
  MaxAppendSizeExceededError,
  NotLeaderError,
  StreamDeletedError,
  TimeoutError,
  UnavailableError,
  UnknownError,
} from '@eventstore/db-client';
import { ProoflineError } from '../../errors/proofline-error';
import { StoreUnavailableError } from '../errors';

/**
 * Failures after which an append may or may not have been stored: the request may have reached
 * the server before the answer was lost (a deadline, a commit timeout, a cancelled call, a
 * dropped connection). Claims made for such an append are kept and judged by what landed.
 */
export function outcomeUnknown(error: unknown): boolean {
  if (refusedBeforeWriting(error)) return false;
  return error instanceof DeadlineExceededError || error instanceof TimeoutError || error instanceof CancelledError || error instanceof UnavailableError || unconvertedUnavailable(error);
}

/**
 * A gRPC UNAVAILABLE the client passes on as grpc-js gave it, without its own error class: the
 * server-features probe the 6.2.1 client makes before its first append (Client.supports) does.
 */
function unconvertedUnavailable(error: unknown): boolean {
  return error instanceof Error && !(error instanceof UnavailableError) && (error as { code?: unknown }).code === GRPC_UNAVAILABLE && 'details' in error;
}

/** gRPC's status code UNAVAILABLE (grpc-js is the client's dependency, not Proofline's). */
const GRPC_UNAVAILABLE = 14;

/** grpc-js's words for a call that never had a connection to go out on: nothing was sent. */
function neverConnected(error: unknown): boolean {
  return unconvertedUnavailable(error) && /No connection established/.test((error as Error).message);
}

/**
 * The messages of a node refusing a write it never started (EventStoreDB's NotHandled: not
 * ready, too busy, a follower without leader info). On BatchAppend, 23.10 and 24.10 send them
 * as a status with no code and an empty details message (Streams.BatchAppend.cs), which the
 * 6.2.1 client turns into UnknownError("Could not recognize <message>"); on Append they are
 * UNAVAILABLE or UNKNOWN statuses (RpcExceptions.TryHandleNotHandled). The message is all
 * that tells them apart from a failure whose outcome is unknown.
 */
const NOT_HANDLED = /(?:Server Is Not Ready|Server Is Busy|Server Is Too Busy|No leader info available in response)$/;

/** True when EventStoreDB refused the operation before writing anything (a start-up, an election, an overload), or it was never sent. */
export function refusedBeforeWriting(error: unknown): boolean {
  return ((error instanceof UnknownError || error instanceof UnavailableError) && NOT_HANDLED.test(error.message)) || neverConnected(error);
}

/**
 * The client's failures as the port's errors. `duringAppend`: the failure of an append call,
 * whose outcome a lost connection leaves unknown. A follower refusing a write (NotLeader) wrote
 * nothing. Anything unrecognised is passed on as it is.
 */
export function translateEsdbError(error: unknown, duringAppend = false): unknown {
  if (error instanceof ProoflineError) return error;
  if (error instanceof NotLeaderError || refusedBeforeWriting(error)) return new StoreUnavailableError(error);
  if ((error instanceof UnavailableError || unconvertedUnavailable(error)) && !duringAppend) return new StoreUnavailableError(error);
  if (outcomeUnknown(error)) return new StoreUnavailableError(error, { outcomeUnknown: true });
  if (error instanceof MaxAppendSizeExceededError) {
    return new ProoflineError('STORE.APPEND_TOO_LARGE', `EventStoreDB refused the append as larger than its maximum append size; nothing was written (${error.message})`, 413, {});
  }
  if (error instanceof StreamDeletedError) {
    return new ProoflineError(
      'STREAM.DELETED',
      `EventStoreDB refused the write: stream ${error.streamName} was deleted in EventStoreDB (a tombstone or a soft delete), which Proofline never does; nothing was written (docs/eventstoredb.md, "Operating it")`,
      500,
      { streamId: error.streamName },
    );
  }
  if (error instanceof AccessDeniedError) {
    return new ProoflineError('STORE.ACCESS_DENIED', 'EventStoreDB refused the operation: the user in ESDB_CONNECTION_STRING lacks the permission (docs/eventstoredb.md, "Operating it")', 500, {});
  }
  return error;
}
