import { Metadata, status } from '@grpc/grpc-js';
import type { handleClientStreamingCall, ServiceError } from '@grpc/grpc-js';
import { Empty } from '@eventstore/db-client/generated/shared_pb';
import { AppendReq, AppendResp } from '@eventstore/db-client/generated/streams_pb';
import { proposedEvent, sizeOnDisk, streamNameOf, ticksNow } from './conversions';
import { InvalidRequestError, toServiceError } from './invalid-request';
import type { EsdbLog, AppendOutcome } from './log';
import type { ExpectedRevision, ProposedEsdbEvent } from './model';
import type { AppendRefusal, NodeState } from './node-state';

interface AppendTarget {
  readonly streamName: string;
  readonly expected: ExpectedRevision;
}

/**
 * Streams.Append: one `options` message, then one message per proposed event; the answer comes
 * when the client ends its side. A failed expectation is an answer (`wrong_expected_version`),
 * not a gRPC error; a malformed request is INVALID_ARGUMENT.
 */
export function appendHandler(log: EsdbLog, node: NodeState): handleClientStreamingCall<AppendReq, AppendResp> {
  return (call, callback) => {
    let target: AppendTarget | undefined;
    const events: ProposedEsdbEvent[] = [];
    let size = 0;
    let failed = false;
    const fail = (error: unknown) => {
      if (failed) return;
      failed = true;
      callback(isServiceError(error) ? error : toServiceError(error));
    };

    call.on('data', (message: AppendReq) => {
      if (failed) return;
      try {
        if (target === undefined) target = appendTarget(message);
        else {
          const event = proposedEvent(proposedMessageOf(message));
          size += sizeOnDisk(event);
          if (size > node.maxAppendSize) return fail(maxAppendSizeExceeded(node.maxAppendSize));
          events.push(event);
        }
      } catch (error) {
        fail(error);
      }
    });
    call.on('end', () => {
      if (failed) return;
      node.requests.appends++;
      if (target === undefined) return fail(new InvalidRequestError('no append options'));
      const refusal = node.refusalFor(target.streamName);
      if (refusal !== undefined) return fail(notHandled(refusal));
      let response: AppendResp;
      try {
        const outcome = log.append(target.streamName, target.expected, events, ticksNow());
        if (outcome.kind === 'stream-deleted') return fail(streamDeleted(target.streamName));
        response = appendResponse(outcome, target.expected);
      } catch (error) {
        return fail(error);
      }
      callback(null, response);
    });
  };
}

function appendTarget(message: AppendReq): AppendTarget {
  const options = message.getOptions();
  if (options === undefined) throw new InvalidRequestError('an event before the append options');
  return { streamName: streamNameOf(options.getStreamIdentifier()), expected: expectedRevisionOf(options) };
}

function expectedRevisionOf(options: AppendReq.Options): ExpectedRevision {
  const Case = AppendReq.Options.ExpectedStreamRevisionCase;
  switch (options.getExpectedStreamRevisionCase()) {
    case Case.REVISION:
      return BigInt(options.getRevision());
    case Case.NO_STREAM:
      return 'no_stream';
    case Case.STREAM_EXISTS:
      return 'stream_exists';
    case Case.ANY:
      return 'any';
    default:
      throw new InvalidRequestError('no expected stream revision');
  }
}

function proposedMessageOf(message: AppendReq): AppendReq.ProposedMessage {
  const proposed = message.getProposedMessage();
  if (proposed === undefined) throw new InvalidRequestError('a second options message');
  return proposed;
}

function appendResponse(outcome: Exclude<AppendOutcome, { kind: 'stream-deleted' }>, expected: ExpectedRevision): AppendResp {
  if (outcome.kind === 'wrong-expected-version') {
    const wrong = new AppendResp.WrongExpectedVersion();
    if (outcome.currentRevision === 'no_stream') wrong.setCurrentNoStream(new Empty());
    else wrong.setCurrentRevision(outcome.currentRevision.toString());
    if (expected === 'any') wrong.setExpectedAny(new Empty());
    else if (expected === 'no_stream') wrong.setExpectedNoStream(new Empty());
    else if (expected === 'stream_exists') wrong.setExpectedStreamExists(new Empty());
    else wrong.setExpectedRevision(expected.toString());
    return new AppendResp().setWrongExpectedVersion(wrong);
  }
  const success = new AppendResp.Success();
  if (outcome.currentRevision === 'no_stream') success.setNoStream(new Empty());
  else success.setCurrentRevision(outcome.currentRevision.toString());
  if (outcome.position === undefined) success.setNoPosition(new Empty());
  else {
    success.setPosition(
      new AppendResp.Position()
        .setCommitPosition(outcome.position.commit.toString())
        .setPreparePosition(outcome.position.prepare.toString()),
    );
  }
  return new AppendResp().setSuccess(success);
}

/** A gRPC status this handler answers as it is (not a bug, not a malformed request). */
type StatusAnswer = Partial<ServiceError> & { readonly answer: true };

function isServiceError(error: unknown): error is StatusAnswer {
  return typeof error === 'object' && error !== null && (error as StatusAnswer).answer === true;
}

/**
 * A write the node never started, as Append answers it (RpcExceptions.TryHandleNotHandled):
 * UNAVAILABLE "Server Is Not Ready" / "Server Is Too Busy", and UNKNOWN "No leader info
 * available in response" for a follower that does not know the leader.
 */
function notHandled(refusal: AppendRefusal): StatusAnswer {
  const [code, details] = {
    'not-ready': [status.UNAVAILABLE, 'Server Is Not Ready'],
    'too-busy': [status.UNAVAILABLE, 'Server Is Too Busy'],
    'no-leader-info': [status.UNKNOWN, 'No leader info available in response'],
  }[refusal] as [status, string];
  return { answer: true, code, details, metadata: new Metadata() };
}

/** RpcExceptions.MaxAppendSizeExceeded: INVALID_ARGUMENT, with the exception named in the trailers. */
function maxAppendSizeExceeded(maxAppendSize: number): StatusAnswer {
  const metadata = new Metadata();
  metadata.set('exception', 'maximum-append-size-exceeded');
  metadata.set('maximum-append-size', String(maxAppendSize));
  return { answer: true, code: status.INVALID_ARGUMENT, details: `Maximum Append Size of ${maxAppendSize} Exceeded.`, metadata };
}

/** RpcExceptions.StreamDeleted: FAILED_PRECONDITION, with the exception and the stream named in the trailers. */
export function streamDeleted(streamName: string): StatusAnswer {
  const metadata = new Metadata();
  metadata.set('exception', 'stream-deleted');
  metadata.set('stream-name', streamName);
  return { answer: true, code: status.FAILED_PRECONDITION, details: `Event stream '${streamName}' is deleted.`, metadata };
}
