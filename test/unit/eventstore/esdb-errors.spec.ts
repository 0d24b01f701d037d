import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { AccessDeniedError, DeadlineExceededError, MaxAppendSizeExceededError, NotLeaderError, StreamNotFoundError, TimeoutError, UnavailableError } from '@eventstore/db-client';
import { StoreUnavailableError } from '../../../src/eventstore/errors';
import { translateEsdbError } from '../../../src/eventstore/eventstoredb/esdb-errors';

/** What a follower answers a write with: NOT_LEADER and where the leader is. */
function notLeaderAnswer(): ServiceError {
  const metadata = new Metadata();
  metadata.set('exception', 'not-leader');
  metadata.set('leader-endpoint-host', 'node-2');
  metadata.set('leader-endpoint-port', '2113');
  return Object.assign(new Error('Leader info available'), { code: status.NOT_FOUND, details: 'Leader info available', metadata });
}

describe('translateEsdbError', () => {
  it.each([
    ['an unreachable EventStoreDB, outside an append', new UnavailableError(undefined, 'connection refused'), false],
    ['a follower refusing a write', new NotLeaderError(notLeaderAnswer()), true],
  ])('given %s, then 503 STORE.UNAVAILABLE saying nothing was written', (_label, error, duringAppend) => {
    const translated = translateEsdbError(error, duringAppend);
    expect(translated).toBeInstanceOf(StoreUnavailableError);
    expect(translated).toMatchObject({ status: 503, code: 'STORE.UNAVAILABLE' });
    expect((translated as Error).message).toMatch(/nothing was written/);
  });

  it.each([
    ['a missed deadline', new DeadlineExceededError(undefined, 'deadline'), false],
    ['a commit timeout', new TimeoutError(undefined, 'commit timeout'), false],
    ['a connection lost during an append', new UnavailableError(undefined, 'connection reset'), true],
  ])('given %s, then 503 STORE.UNAVAILABLE saying the write may have landed and a keyed retry is safe', (_label, error, duringAppend) => {
    const translated = translateEsdbError(error, duringAppend);
    expect(translated).toMatchObject({ status: 503, code: 'STORE.UNAVAILABLE' });
    expect((translated as Error).message).toMatch(/may or may not have been stored.*same Idempotency-Key/);
  });

  it('given an append over the server\'s maximum size, then 413 STORE.APPEND_TOO_LARGE; given a missing permission, a 500 naming the connection string', () => {
    expect(translateEsdbError(MaxAppendSizeExceededError.fromMaxAppendSize(1_048_576))).toMatchObject({ status: 413, code: 'STORE.APPEND_TOO_LARGE' });
    expect(translateEsdbError(new AccessDeniedError(undefined, 'denied'))).toMatchObject({ status: 500, code: 'STORE.ACCESS_DENIED', message: expect.stringContaining('ESDB_CONNECTION_STRING') });
  });

  it('passes any other error on unchanged', () => {
    const error = new StreamNotFoundError(undefined, 'stream');
    expect(translateEsdbError(error)).toBe(error);
  });
});
