import type { handleBidiStreamingCall } from '@grpc/grpc-js';
import { Any } from 'google-protobuf/google/protobuf/any_pb';
import { Empty } from 'google-protobuf/google/protobuf/empty_pb';
import { Code } from '@eventstore/db-client/generated/code_pb';
import { AllStreamPosition, BadRequest, StreamIdentifier, UUID, WrongExpectedVersion } from '@eventstore/db-client/generated/shared_pb';
import { Status } from '@eventstore/db-client/generated/status_pb';
import { BatchAppendReq, BatchAppendResp } from '@eventstore/db-client/generated/streams_pb';
import { proposedEvent, streamIdentifier, streamNameOf, ticksNow, uuidText } from './conversions';
import { send } from './flow-control';
import { InvalidRequestError, toServiceError } from './invalid-request';
import type { AppendOutcome, EsdbLog } from './log';
import type { CurrentRevision, ExpectedRevision, ProposedEsdbEvent } from './model';

/** One append being received: its chunks arrive under one correlation id, options on the first only. */
interface PendingAppend {
  readonly correlationId: UUID;
  readonly target?: { readonly streamName: string; readonly expected: ExpectedRevision };
  readonly events: ProposedEsdbEvent[];
  /** Why the append will be refused once its last chunk arrives. */
  rejection?: unknown;
}

/**
 * Streams.BatchAppend: one long-lived bidi call per client, over which the client multiplexes
 * its appends by correlation id. Each append is answered when its `is_final` chunk arrives;
 * the call itself stays open until the client ends it. Chunks for an unknown correlation id
 * without options are dropped, as the real server does.
 */
export function batchAppendHandler(log: EsdbLog): handleBidiStreamingCall<BatchAppendReq, BatchAppendResp> {
  return (call) => {
    const pending = new Map<string, PendingAppend>();
    call.on('data', (message: BatchAppendReq) => {
      let key: string;
      try {
        key = uuidText(message.getCorrelationId());
      } catch (error) {
        call.emit('error', toServiceError(error));
        return;
      }
      const append = pending.get(key) ?? startAppend(message);
      if (append === undefined) return;
      pending.set(key, append);
      addEvents(append, message);
      if (!message.getIsFinal()) return;
      pending.delete(key);
      void send(call, answer(log, append));
    });
    call.on('end', () => call.end());
    call.on('cancelled', () => pending.clear());
  };
}

function startAppend(message: BatchAppendReq): PendingAppend | undefined {
  const options = message.getOptions();
  if (options === undefined) return undefined;
  const correlationId = message.getCorrelationId() ?? new UUID();
  try {
    const target = { streamName: streamNameOf(options.getStreamIdentifier()), expected: expectedRevisionOf(options) };
    return { correlationId, target, events: [] };
  } catch (error) {
    return { correlationId, events: [], rejection: error };
  }
}

function addEvents(append: PendingAppend, message: BatchAppendReq): void {
  if (append.rejection !== undefined) return;
  try {
    append.events.push(...message.getProposedMessagesList().map(proposedEvent));
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
function answer(log: EsdbLog, append: PendingAppend): BatchAppendResp {
  try {
    return buildAnswer(log, append);
  } catch (error) {
    return buildAnswer(log, { ...append, rejection: error });
  }
}

function buildAnswer(log: EsdbLog, append: PendingAppend): BatchAppendResp {
  const response = new BatchAppendResp().setCorrelationId(append.correlationId);
  const { target } = append;
  if (target === undefined || append.rejection !== undefined) {
    if (target) response.setStreamIdentifier(streamIdentifier(target.streamName));
    else response.setStreamIdentifier(new StreamIdentifier());
    return response.setError(refusal(append.rejection));
  }
  response.setStreamIdentifier(streamIdentifier(target.streamName));
  echoExpected(response, target.expected);
  const outcome = log.append(target.streamName, target.expected, append.events, ticksNow());
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

/** A malformed append is INVALID_ARGUMENT with a BadRequest, as on the real server; anything else is a bug here. */
function refusal(reason: unknown): Status {
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
