import type { handleServerStreamingCall, ServerWritableStream } from '@grpc/grpc-js';
import type { ReadReq, ReadResp } from '@eventstore/db-client/generated/streams_pb';
import { streamDeleted } from './append-handler';
import { send } from './flow-control';
import { invalidPosition, toServiceError } from './invalid-request';
import type { EsdbLog } from './log';
import type { StoredEsdbEvent } from './model';
import { eventResponse, streamNotFoundResponse } from './read-responses';
import { readRequestOf } from './read-request';
import type { ReadRequest } from './read-request';
import { placeOf, selectFromAll, selectFromStream } from './read-selection';
import { subscribe } from './subscriptions';

/**
 * Streams.Read: a finite read of a stream or of $all, or (with `subscription` options) a
 * catch-up subscription. A read answers from the log as it is when the request arrives.
 */
export function readHandler(log: EsdbLog): handleServerStreamingCall<ReadReq, ReadResp> {
  return (call) => {
    let request: ReadRequest;
    try {
      request = readRequestOf(call.request);
    } catch (error) {
      call.emit('error', toServiceError(error));
      return;
    }
    // Only a subscription comes without a count: it has no end.
    if (request.count === undefined) return subscribe(call, log, request);
    void read(call, log, request, request.count).catch((error: unknown) => call.emit('error', toServiceError(error)));
  };
}

async function read(
  call: ServerWritableStream<ReadReq, ReadResp>,
  log: EsdbLog,
  request: ReadRequest,
  count: bigint,
): Promise<void> {
  let events: StoredEsdbEvent[];
  if (request.kind === 'stream') {
    const stream = log.readStream(request.streamName);
    // A tombstoned stream is a gRPC error (RpcExceptions.StreamDeleted), which the client makes StreamDeletedError.
    if (stream.kind === 'deleted') {
      call.emit('error', streamDeleted(request.streamName));
      return;
    }
    // The client turns this message, not a gRPC status, into its StreamNotFoundError; a soft-deleted stream reads so too.
    if (stream.kind === 'not-found') {
      if (await send(call, streamNotFoundResponse(request.streamName))) call.end();
      return;
    }
    events = selectFromStream(stream.events, request.from, request.direction, count, stream.firstRevision);
  } else {
    // 23.10 and 24.10 read $all by log position and refuse one no record starts at.
    if (typeof request.from === 'object' && placeOf(log.all(), request.from, log.end()) === 'invalid') {
      call.emit('error', invalidPosition());
      return;
    }
    events = selectFromAll(log.all(), request.from, request.direction, count, request.filter);
  }
  for (const event of events) {
    if (!(await send(call, eventResponse(event, request.uuidForm, request.kind === 'all')))) return;
  }
  call.end();
}
