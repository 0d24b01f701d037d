import { Metadata, status } from '@grpc/grpc-js';
import type { handleUnaryCall, ServiceError } from '@grpc/grpc-js';
import { DeleteReq, DeleteResp, TombstoneReq, TombstoneResp } from '@eventstore/db-client/generated/streams_pb';
import { streamDeleted } from './append-handler';
import { streamNameOf, ticksNow } from './conversions';
import { InvalidRequestError, toServiceError } from './invalid-request';
import type { EsdbLog } from './log';
import type { ExpectedRevision } from './model';

type DeleteOptions = DeleteReq.Options | TombstoneReq.Options;

/**
 * Streams.Delete (a soft delete: the stream reads as not found, its events stay in $all, and an
 * append with `no_stream` or `any` brings it back, numbered after the hidden events) and
 * Streams.Tombstone (the stream is gone for good: reads and appends fail with StreamDeleted).
 * Proofline never deletes a stream; these exist so tests can do what an operator might.
 */
export function deleteHandler(log: EsdbLog): handleUnaryCall<DeleteReq, DeleteResp> {
  return (call, callback) => {
    const answer = removal(log, call.request.getOptions(), false);
    if ('error' in answer) return callback(answer.error);
    const position = new DeleteResp.Position().setCommitPosition(answer.commit).setPreparePosition(answer.prepare);
    callback(null, new DeleteResp().setPosition(position));
  };
}

export function tombstoneHandler(log: EsdbLog): handleUnaryCall<TombstoneReq, TombstoneResp> {
  return (call, callback) => {
    const answer = removal(log, call.request.getOptions(), true);
    if ('error' in answer) return callback(answer.error);
    const position = new TombstoneResp.Position().setCommitPosition(answer.commit).setPreparePosition(answer.prepare);
    callback(null, new TombstoneResp().setPosition(position));
  };
}

function removal(log: EsdbLog, options: DeleteOptions | undefined, tombstone: boolean): { commit: string; prepare: string } | { error: Partial<ServiceError> } {
  try {
    if (options === undefined) throw new InvalidRequestError('no delete options');
    const streamName = streamNameOf(options.getStreamIdentifier());
    const expected = expectedOf(options);
    const outcome = log.delete(streamName, expected, tombstone, ticksNow());
    if (outcome.kind === 'stream-deleted') return { error: streamDeleted(streamName) };
    if (outcome.kind === 'wrong-expected-version') return { error: wrongExpectedVersion(streamName, expected, outcome.currentRevision) };
    return { commit: outcome.position.commit.toString(), prepare: outcome.position.prepare.toString() };
  } catch (error) {
    return { error: toServiceError(error) };
  }
}

function expectedOf(options: DeleteOptions): ExpectedRevision {
  if (options.hasRevision()) return BigInt(options.getRevision());
  if (options.hasNoStream()) return 'no_stream';
  if (options.hasStreamExists()) return 'stream_exists';
  if (options.hasAny()) return 'any';
  throw new InvalidRequestError('no expected stream revision');
}

/** RpcExceptions.WrongExpectedVersion: FAILED_PRECONDITION, with the versions in the trailers. */
function wrongExpectedVersion(streamName: string, expected: ExpectedRevision, current: bigint | 'no_stream'): Partial<ServiceError> {
  const metadata = new Metadata();
  metadata.set('exception', 'wrong-expected-version');
  metadata.set('stream-name', streamName);
  // The server's numbers for the named expectations: any -2, no_stream -1, stream_exists -4.
  const named = { any: '-2', no_stream: '-1', stream_exists: '-4' } as const;
  metadata.set('expected-version', typeof expected === 'bigint' ? expected.toString() : named[expected]);
  metadata.set('actual-version', current === 'no_stream' ? '-1' : current.toString());
  return { code: status.FAILED_PRECONDITION, details: 'Wrong expected version.', metadata };
}
