import type { handleBidiStreamingCall } from '@grpc/grpc-js';
import { Any } from 'google-protobuf/google/protobuf/any_pb';
import { Empty } from 'google-protobuf/google/protobuf/empty_pb';
import { Code } from '@eventstore/db-client/generated/code_pb';
import {
  AllStreamPosition,
  BadRequest,
  MaximumAppendSizeExceeded,
  StreamDeleted,
  StreamIdentifier,
  Timeout,
  UUID,
  WrongExpectedVersion,
} from '@eventstore/db-client/generated/shared_pb';
import { Status } from '@eventstore/db-client/generated/status_pb';
import { BatchAppendReq, BatchAppendResp } from '@eventstore/db-client/generated/streams_pb';
import { proposedEvent, sizeOnDisk, streamIdentifier, streamNameOf, ticksNow, uuidText } from './conversions';
import { send } from './flow-control';
import { InvalidRequestError, toServiceError } from './invalid-request';
import type { AppendOutcome, EsdbLog } from './log';
import type { CurrentRevision, ExpectedRevision, ProposedEsdbEvent } from './model';
import type { AppendRefusal, NodeState } from './node-state';

/** One append being received: its chunks arrive under one correlation id, options on the first only. */
interface PendingAppend {
  readonly correlationId: UUID;
  readonly target?: { readonly streamName: string; readonly expected: ExpectedRevision };
  readonly events: ProposedEsdbEvent[];
  /** Why the append will be refused once its last chunk arrives. */
  rejection?: unknown;
  /** Bytes counted against the maximum append size so far. */
  size: number;
  /** Answers Timeout if the last chunk has not arrived by the deadline. */
  timer?: NodeJS.Timeout;
}

/**
 * Streams.BatchAppend: one long-lived bidi call per client, over which the client multiplexes
 * its appends by correlation id. Each append is answered when its `is_final` chunk arrives;
 * the call itself stays open until the client ends it. Chunks for an unknown correlation id
 * without options are dropped, as the real server does.
 */
export function batchAppendHandler(log: EsdbLog, node: NodeState): handleBidiStreamingCall<BatchAppendReq, BatchAppendResp> {
  return (call) => {
    const pending = new Map<string, PendingAppend>();
    const answerNow = (response: BatchAppendResp) => void send(call, response);
    call.on('data', (message: BatchAppendReq) => {
      let key: string;
      try {
        key = uuidText(message.getCorrelationId());
      } catch (error) {
        call.emit('error', toServiceError(error));
        return;
      }
      let append = pending.get(key);
      if (append === undefined) {
        const options = message.getOptions();
        // Chunks of an append the server is not (or no longer) receiving are dropped.
        if (options === undefined) return;
        append = startAppend(message, options);
        // The deadline is judged by this server's clock and capped at its write timeout; one
        // already past is answered Timeout at once, and nothing is written (Streams.BatchAppend.cs).
        const timeoutMs = Math.min(deadlineOf(options) - node.now(), node.writeTimeoutMs);
        if (timeoutMs <= 0 && append.target) return answerNow(timeoutAnswer(append));
        const started = append;
        append.timer = setTimeout(() => {
          if (pending.get(key) !== started) return;
          pending.delete(key);
          answerNow(timeoutAnswer(started));
        }, Math.max(timeoutMs, 0));
        pending.set(key, append);
      }
      addEvents(append, message);
      if (append.size > node.maxAppendSize) {
        clearTimeout(append.timer);
        pending.delete(key);
        return answerNow(tooLarge(append, node.maxAppendSize));
      }
      if (!message.getIsFinal()) return;
      node.requests.appends++;
      clearTimeout(append.timer);
      pending.delete(key);
      answerNow(answer(log, append, append.target && node.refusalFor(append.target.streamName)));
    });
    call.on('end', () => call.end());
    call.on('cancelled', () => {
      for (const append of pending.values()) clearTimeout(append.timer);
      pending.clear();
    });
  };
}

/** The client sends the deadline as a timestamp (`deadline_21_10_0`); none means no limit but the write timeout. */
function deadlineOf(options: BatchAppendReq.Options): number {
  const deadline = options.getDeadline();
  return deadline === undefined ? Number.POSITIVE_INFINITY : deadline.toDate().getTime();
}

function startAppend(message: BatchAppendReq, options: BatchAppendReq.Options): PendingAppend {
  const correlationId = message.getCorrelationId() ?? new UUID();
  try {
    const target = { streamName: streamNameOf(options.getStreamIdentifier()), expected: expectedRevisionOf(options) };
    return { correlationId, target, events: [], size: 0 };
  } catch (error) {
    return { correlationId, events: [], rejection: error, size: 0 };
  }
}

function addEvents(append: PendingAppend, message: BatchAppendReq): void {
  if (append.rejection !== undefined) return;
  try {
    const events = message.getProposedMessagesList().map(proposedEvent);
    append.events.push(...events);
    append.size += events.reduce((total, event) => total + sizeOnDisk(event), 0);
  } catch (error) {
    append.rejection = error;
  }
}

function expectedRevisionOf(options: BatchAppendReq.Options): ExpectedRevision {
  const Case = BatchAppendReq.Options.ExpectedStreamPositionCase;
  switch (options.getExpectedStreamPositionCase()) {
    case Case.STREAM_POSITION:
      return BigInt(options.getStreamPosition());
    case Case.NO_STREAM:
      return 'no_stream';
    case Case.STREAM_EXISTS:
      return 'stream_exists';
    case Case.ANY:
      return 'any';
    default:
      throw new InvalidRequestError('no expected stream position');
  }
}

/** Every append gets an answer: a bug in this server becomes an INTERNAL error status for that append alone. */
function answer(log: EsdbLog, append: PendingAppend, refusal: AppendRefusal | undefined): BatchAppendResp {
  try {
    return buildAnswer(log, append, refusal);
  } catch (error) {
    return buildAnswer(log, { ...append, rejection: error }, undefined);
  }
}

function buildAnswer(log: EsdbLog, append: PendingAppend, refusal: AppendRefusal | undefined): BatchAppendResp {
  const response = new BatchAppendResp().setCorrelationId(append.correlationId);
  const { target } = append;
  if (target !== undefined && append.rejection === undefined && refusal !== undefined) {
    return response.setStreamIdentifier(streamIdentifier(target.streamName)).setError(notHandled(refusal));
  }
  if (target === undefined || append.rejection !== undefined) {
    if (target) response.setStreamIdentifier(streamIdentifier(target.streamName));
    else response.setStreamIdentifier(new StreamIdentifier());
    return response.setError(badRequest(append.rejection));
  }
  response.setStreamIdentifier(streamIdentifier(target.streamName));
  echoExpected(response, target.expected);
  const outcome = log.append(target.streamName, target.expected, append.events, ticksNow());
  if (outcome.kind === 'stream-deleted') return response.setError(streamDeleted(target.streamName));
  return outcome.kind === 'success'
    ? response.setSuccess(success(outcome))
    : response.setError(wrongExpectedVersion(target.streamName, outcome.currentRevision, target.expected));
}

function echoExpected(response: BatchAppendResp, expected: ExpectedRevision): void {
  if (expected === 'any') response.setAny(new Empty());
  else if (expected === 'no_stream') response.setNoStream(new Empty());
  else if (expected === 'stream_exists') response.setStreamExists(new Empty());
  else response.setStreamPosition(expected.toString());
}

function success(outcome: Extract<AppendOutcome, { kind: 'success' }>): BatchAppendResp.Success {
  const result = new BatchAppendResp.Success();
  if (outcome.currentRevision === 'no_stream') result.setNoStream(new Empty());
  else result.setCurrentRevision(outcome.currentRevision.toString());
  if (outcome.position === undefined) return result.setNoPosition(new Empty());
  return result.setPosition(
    new AllStreamPosition()
      .setCommitPosition(outcome.position.commit.toString())
      .setPreparePosition(outcome.position.prepare.toString()),
  );
}

/** The real server answers a failed expectation with ALREADY_EXISTS and the versions packed in the details. */
function wrongExpectedVersion(streamName: string, current: CurrentRevision, expected: ExpectedRevision): Status {
  const details = new WrongExpectedVersion();
  if (current === 'no_stream') details.setCurrentNoStream(new Empty());
  else details.setCurrentStreamRevision(current.toString());
  if (expected === 'any') details.setExpectedAny(new Empty());
  else if (expected === 'no_stream') details.setExpectedNoStream(new Empty());
  else if (expected === 'stream_exists') details.setExpectedStreamExists(new Empty());
  else details.setExpectedStreamPosition(expected.toString());
  return status(
    Code.ALREADY_EXISTS,
    `WrongExpectedVersion: stream ${streamName} expected ${String(expected)}, actual ${String(current)}`,
    details.serializeBinary(),
    'event_store.client.WrongExpectedVersion',
  );
}

/**
 * A write the node never started (ClientMessage.NotHandled), as 23.10 and 24.10 answer it on
 * BatchAppend: a status whose code is never set (0) and whose details are a packed
 * google.protobuf.Empty, with only the message telling the reasons apart. The client
 * recognises none of it and rejects the append with UnknownError("Could not recognize …").
 */
function notHandled(refusal: AppendRefusal): Status {
  const message = { 'not-ready': 'Server Is Not Ready', 'too-busy': 'Server Is Busy', 'no-leader-info': 'No leader info available in response' }[refusal];
  return status(0 as Code, message, new Empty().serializeBinary(), 'google.protobuf.Empty');
}

/** Status.StreamDeleted: NOT_FOUND with the stream packed in the details. */
function streamDeleted(streamName: string): Status {
  const details = new StreamDeleted().setStreamIdentifier(streamIdentifier(streamName));
  return status(Code.NOT_FOUND, 'StreamDeleted', details.serializeBinary(), 'event_store.client.StreamDeleted');
}

function timeoutAnswer(append: PendingAppend): BatchAppendResp {
  return addressed(append).setError(status(Code.DEADLINE_EXCEEDED, 'Timeout', new Timeout().serializeBinary(), 'event_store.client.Timeout'));
}

function tooLarge(append: PendingAppend, maxAppendSize: number): BatchAppendResp {
  const details = new MaximumAppendSizeExceeded().setMaxappendsize(maxAppendSize);
  return addressed(append).setError(
    status(Code.INVALID_ARGUMENT, 'MaximumAppendSizeExceeded', details.serializeBinary(), 'event_store.client.MaximumAppendSizeExceeded'),
  );
}

function addressed(append: PendingAppend): BatchAppendResp {
  const response = new BatchAppendResp().setCorrelationId(append.correlationId);
  return response.setStreamIdentifier(append.target ? streamIdentifier(append.target.streamName) : new StreamIdentifier());
}

/** A malformed append is INVALID_ARGUMENT with a BadRequest, as on the real server; anything else is a bug here. */
function badRequest(reason: unknown): Status {
  const { code, details } = toServiceError(reason);
  const message = new BadRequest().setMessage(details ?? '');
  // gRPC status codes and google.rpc.Code share their numbers.
  const rpcCode = (code ?? Code.INTERNAL) as number as Code;
  return status(rpcCode, 'BadRequest', message.serializeBinary(), 'event_store.client.BadRequest');
}

/** The client reads `details` unconditionally, so every error status carries a packed message. */
function status(code: Code, message: string, details: Uint8Array, typeName: string): Status {
  const packed = new Any();
  packed.pack(details, typeName);
  return new Status().setCode(code).setMessage(message).setDetails(packed);
}
