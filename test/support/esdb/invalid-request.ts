import { status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { Metadata } from '@grpc/grpc-js';

/** A request the real server would refuse with INVALID_ARGUMENT; the message says what was wrong. */
export class InvalidRequestError extends Error {
  constructor(what: string) {
    super(`The request carries ${what}`);
    this.name = 'InvalidRequestError';
  }
}

/**
 * A read of $all from a position where no event starts (inside a record, or not this log's):
 * RpcExceptions.InvalidPositionException in 23.10 and 24.10, a status with no exception key,
 * which the 6.2.1 client turns into UnknownError.
 */
export function invalidPosition(): Partial<ServiceError> {
  return { code: status.INVALID_ARGUMENT, details: 'Trying to read from an invalid position.', metadata: new Metadata() };
}

/** The gRPC status for a failed request: INVALID_ARGUMENT for a bad request, INTERNAL for a bug in this server. */
export function toServiceError(error: unknown): Partial<ServiceError> {
  const invalid = error instanceof InvalidRequestError;
  return {
    code: invalid ? status.INVALID_ARGUMENT : status.INTERNAL,
    details: error instanceof Error ? error.message : String(error),
    metadata: new Metadata(),
  };
}
