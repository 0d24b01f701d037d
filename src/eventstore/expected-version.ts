import type { ExpectedVersion } from './event-store.port';

/** Whether a stream at `actual` (undefined: no stream) meets the caller's expectation. */
export function expectationHolds(expected: ExpectedVersion, actual: number | undefined): boolean {
  if (expected === 'any') return true;
  if (expected === 'no-stream') return actual === undefined;
  if (expected === 'stream-exists') return actual !== undefined;
  return actual === expected;
}
