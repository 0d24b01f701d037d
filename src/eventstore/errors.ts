import { ProoflineError } from '../errors/proofline-error';
import type { ExpectedVersion } from './event-store.port';

export class WrongExpectedVersionError extends ProoflineError {
  constructor(streamId: string, expected: ExpectedVersion, actual: number | undefined) {
    const shown = actual === undefined ? 'no stream' : `version ${actual}`;
    super('STREAM.WRONG_EXPECTED_VERSION', `stream ${streamId}: expected ${describeExpected(expected)}, found ${shown}`, 409, {
      streamId,
      expectedVersion: expected,
      actualVersion: actual ?? null,
    });
  }
}

export class DuplicateEventError extends ProoflineError {
  constructor(eventIds: readonly string[]) {
    super('STREAM.DUPLICATE_EVENT', `an event with one of these ids is already stored: ${eventIds.join(', ')}`, 409, { eventIds });
  }
}

export class IdempotencyKeyUsedError extends ProoflineError {
  constructor(tenantId: string, key: string) {
    super('IDEMPOTENCY.KEY_USED', `idempotency key ${JSON.stringify(key)} was already used by tenant ${tenantId}`, 409, { key });
  }
}

export class StoreUnavailableError extends ProoflineError {
  /**
   * `outcomeUnknown`: the store was reached but its answer was lost (a deadline, a leader
   * election), so a write may have landed; a retry with the same Idempotency-Key is safe.
   */
  constructor(cause: unknown, options: { outcomeUnknown?: boolean } = {}) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    const outcome = options.outcomeUnknown
      ? 'its answer was lost, so a write may or may not have been stored; retry with the same Idempotency-Key'
      : 'nothing was written';
    super('STORE.UNAVAILABLE', `the event store is unreachable; ${outcome} (${reason})`, 503, {});
  }
}

function describeExpected(expected: ExpectedVersion): string {
  return typeof expected === 'number' ? `version ${expected}` : expected;
}
