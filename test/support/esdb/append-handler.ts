import type { handleClientStreamingCall } from '@grpc/grpc-js';
import { Empty } from '@eventstore/db-client/generated/shared_pb';
import { AppendReq, AppendResp } from '@eventstore/db-client/generated/streams_pb';
import { proposedEvent, streamNameOf, ticksNow } from './conversions';
import { InvalidRequestError, toServiceError } from './invalid-request';
import type { EsdbLog, AppendOutcome } from './log';
import type { ExpectedRevision, ProposedEsdbEvent } from './model';

interface AppendTarget {
  readonly streamName: string;
  readonly expected: ExpectedRevision;
}

/**
 * Streams.Append: one `options` message, then one message per proposed event; the answer comes
 * when the client ends its side. A failed expectation is an answer (`wrong_expected_version`),
 * not a gRPC error; a malformed request is INVALID_ARGUMENT.
 */
export function appendHandler(log: EsdbLog): handleClientStreamingCall<AppendReq, AppendResp> {
  return (call, callback) => {
    let target: AppendTarget | undefined;
    const events: ProposedEsdbEvent[] = [];
    let failed = false;
    const fail = (error: unknown) => {
      if (failed) return;
      failed = true;
      callback(toServiceError(error));
    };

    call.on('data', (message: AppendReq) => {
      if (failed) return;
      try {
        if (target === undefined) target = appendTarget(message);
        else events.push(proposedEvent(proposedMessageOf(message)));
      } catch (error) {
        fail(error);
      }
    });
    call.on('end', () => {
      if (failed) return;
      if (target === undefined) return fail(new InvalidRequestError('no append options'));
      let response: AppendResp;
      try {
        response = appendResponse(log.append(target.streamName, target.expected, events, ticksNow()), target.expected);
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

function appendResponse(outcome: AppendOutcome, expected: ExpectedRevision): AppendResp {
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
