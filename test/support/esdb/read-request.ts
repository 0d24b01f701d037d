import { ReadReq } from '@eventstore/db-client/generated/streams_pb';
import { logPosition, streamNameOf } from './conversions';
import type { UuidForm } from './conversions';
import { checkpointIntervalOf, eventFilterOf } from './event-filter';
import type { EventFilter } from './event-filter';
import { InvalidRequestError } from './invalid-request';
import type { LogPosition } from './model';

export type Direction = 'forwards' | 'backwards';
export type StreamStart = 'start' | 'end' | bigint;
export type AllStart = 'start' | 'end' | LogPosition;

interface ReadShape {
  readonly uuidForm: UuidForm;
  /** Absent for a subscription, which has no end. */
  readonly count?: bigint;
  readonly direction: Direction;
}

/** A Read request in the test server's terms: a stream or $all, a start, and a read or a subscription. */
export type ReadRequest =
  | (ReadShape & { readonly kind: 'stream'; readonly streamName: string; readonly from: StreamStart })
  | (ReadShape & {
      readonly kind: 'all';
      readonly from: AllStart;
      readonly filter?: EventFilter;
      /** Set only for a filtered subscription: checkpoints are how it reports progress through events it skips. */
      readonly checkpointInterval?: number;
    });

export function readRequestOf(request: ReadReq): ReadRequest {
  const options = request.getOptions();
  if (options === undefined) throw new InvalidRequestError('no read options');
  const isSubscription = options.hasSubscription();
  const shape: ReadShape = {
    uuidForm: options.getUuidOption()?.hasStructured() ? 'structured' : 'string',
    count: isSubscription ? undefined : BigInt(options.getCount()),
    direction: options.getReadDirection() === ReadReq.Options.ReadDirection.BACKWARDS ? 'backwards' : 'forwards',
  };
  const stream = options.getStream();
  if (stream) {
    return { ...shape, kind: 'stream', streamName: streamNameOf(stream.getStreamIdentifier()), from: streamStartOf(stream) };
  }
  const all = options.getAll();
  if (!all) throw new InvalidRequestError('neither a stream nor $all to read');
  const filter = eventFilterOf(options);
  const checkpointInterval = isSubscription ? checkpointIntervalOf(options) : undefined;
  return { ...shape, kind: 'all', from: allStartOf(all), filter, checkpointInterval };
}

function streamStartOf(stream: ReadReq.Options.StreamOptions): StreamStart {
  if (stream.hasStart()) return 'start';
  if (stream.hasEnd()) return 'end';
  if (stream.hasRevision()) return BigInt(stream.getRevision());
  throw new InvalidRequestError('a stream read without a start');
}

function allStartOf(all: ReadReq.Options.AllOptions): AllStart {
  if (all.hasStart()) return 'start';
  if (all.hasEnd()) return 'end';
  const position = all.getPosition();
  if (position) return logPosition(position);
  throw new InvalidRequestError('an $all read without a start');
}
