import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import {
  AccessDeniedError,
  DeadlineExceededError,
  MaxAppendSizeExceededError,
  NotLeaderError,
  StreamDeletedError,
  StreamNotFoundError,
  TimeoutError,
  UnavailableError,
  UnknownError,
} from '@eventstore/db-client';
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

/** A gRPC UNAVAILABLE as grpc-js raises it, which the client passes on without its own error class. */
function grpcUnavailable(details: string): ServiceError {
  return Object.assign(new Error(`14 UNAVAILABLE: ${details}`), { code: status.UNAVAILABLE, details, metadata: new Metadata() });
}

describe('translateEsdbError', () => {
  it.each([
    ['an unreachable EventStoreDB, outside an append', new UnavailableError(undefined, 'connection refused'), false],
    ['a follower refusing a write', new NotLeaderError(notLeaderAnswer()), true],
    // BatchAppend's NotHandled answers, as the 6.2.1 client reports them (issue 26, item 3).
    ['a node not ready, on BatchAppend', new UnknownError(undefined, 'Could not recognize Server Is Not Ready'), true],
    ['a node too busy, on BatchAppend', new UnknownError(undefined, 'Could not recognize Server Is Busy'), true],
    ['a follower without leader info, on BatchAppend', new UnknownError(undefined, 'Could not recognize No leader info available in response'), true],
    ['a node not ready, on Append', new UnavailableError(undefined, '14 UNAVAILABLE: Server Is Not Ready'), true],
    // The client's server-features probe before its first append fails with grpc-js's own error, unconverted.
    ['no connection for the first append (the server-features probe)', grpcUnavailable('No connection established. Last error: connect ECONNREFUSED 127.0.0.1:2113.'), true],
    ['no connection, outside an append', grpcUnavailable('No connection established. Last error: connect ECONNREFUSED 127.0.0.1:2113.'), false],
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
    ['a connection lost during an append, as grpc-js reports it', grpcUnavailable('Connection dropped'), true],
  ])('given %s, then 503 STORE.UNAVAILABLE saying the write may have landed and a keyed retry is safe', (_label, error, duringAppend) => {
    const translated = translateEsdbError(error, duringAppend);
    expect(translated).toMatchObject({ status: 503, code: 'STORE.UNAVAILABLE' });
    expect((translated as Error).message).toMatch(/may or may not have been stored.*same Idempotency-Key/);
  });

  it('given an append over the server\'s maximum size, then 413 STORE.APPEND_TOO_LARGE; given a missing permission, a 500 naming the connection string', () => {
    expect(translateEsdbError(MaxAppendSizeExceededError.fromMaxAppendSize(1_048_576))).toMatchObject({ status: 413, code: 'STORE.APPEND_TOO_LARGE' });
    expect(translateEsdbError(new AccessDeniedError(undefined, 'denied'))).toMatchObject({ status: 500, code: 'STORE.ACCESS_DENIED', message: expect.stringContaining('ESDB_CONNECTION_STRING') });
  });

  it('given a write to a stream deleted in EventStoreDB, then 500 STREAM.DELETED naming the stream', () => {
    expect(translateEsdbError(StreamDeletedError.fromStreamName('workspace-t1'), true)).toMatchObject({ status: 500, code: 'STREAM.DELETED', details: { streamId: 'workspace-t1' } });
  });

  it('passes any other error on unchanged', () => {
    const error = new StreamNotFoundError(undefined, 'stream');
    expect(translateEsdbError(error)).toBe(error);
  });
});
