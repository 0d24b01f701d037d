import { StreamIdentifier, UUID } from '@eventstore/db-client/generated/shared_pb';
import type { LogPosition, ProposedEsdbEvent } from './model';
import { InvalidRequestError } from './invalid-request';

/** How a reader wants ids: the client asks for `string`; `structured` is two signed 64-bit halves. */
export type UuidForm = 'string' | 'structured';

const JSON_CONTENT_TYPE = 'application/json';
const BINARY_CONTENT_TYPE = 'application/octet-stream';
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function streamNameOf(identifier: StreamIdentifier | undefined): string {
  const name = Buffer.from(identifier?.getStreamName_asU8() ?? new Uint8Array()).toString('utf8');
  if (name === '') throw new InvalidRequestError('a stream identifier with an empty name');
  return name;
}

export function streamIdentifier(streamName: string): StreamIdentifier {
  return new StreamIdentifier().setStreamName(Uint8Array.from(Buffer.from(streamName, 'utf8')));
}

/** The canonical (lower-case, hyphenated) form of a UUID sent in either form. */
export function uuidText(uuid: UUID | undefined): string {
  const structured = uuid?.getStructured();
  const text = structured
    ? formatUuid(structured.getMostSignificantBits(), structured.getLeastSignificantBits())
    : (uuid?.getString() ?? '').toLowerCase();
  if (!UUID_PATTERN.test(text)) throw new InvalidRequestError(`an invalid UUID "${text}"`);
  return text;
}

export function uuidMessage(id: string, form: UuidForm): UUID {
  if (form === 'string') return new UUID().setString(id);
  const hex = id.replaceAll('-', '');
  const signed = (half: string) => BigInt.asIntN(64, BigInt(`0x${half}`)).toString(10);
  return new UUID().setStructured(
    new UUID.Structured().setMostSignificantBits(signed(hex.slice(0, 16))).setLeastSignificantBits(signed(hex.slice(16))),
  );
}

function formatUuid(mostSignificant: string, leastSignificant: string): string {
  const hex = [mostSignificant, leastSignificant]
    .map((half) => BigInt.asUintN(64, BigInt(half)).toString(16).padStart(16, '0'))
    .join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The shape Append and BatchAppend proposed messages share. */
export interface ProposedMessage {
  getId(): UUID | undefined;
  getMetadataMap(): { get(key: string): string | undefined };
  getData_asU8(): Uint8Array;
  getCustomMetadata_asU8(): Uint8Array;
}

/**
 * EventStoreDB refuses an event without `type` or `content-type`, and keeps of the content type
 * only whether it is JSON: any other type reads back as `application/octet-stream`.
 * The bytes are copied as received.
 */
export function proposedEvent(message: ProposedMessage): ProposedEsdbEvent {
  const metadata = message.getMetadataMap();
  const type = metadata.get('type');
  const contentType = metadata.get('content-type');
  if (type === undefined || contentType === undefined) {
    throw new InvalidRequestError('an event without the required metadata "type" and "content-type"');
  }
  return {
    id: uuidText(message.getId()),
    type,
    contentType: contentType === JSON_CONTENT_TYPE ? JSON_CONTENT_TYPE : BINARY_CONTENT_TYPE,
    data: Uint8Array.from(message.getData_asU8()),
    metadata: Uint8Array.from(message.getCustomMetadata_asU8()),
  };
}

/** Positions travel as decimal strings (the client's protos mark every int64 `jstype = JS_STRING`). */
export function logPosition(message: { getCommitPosition(): string; getPreparePosition(): string }): LogPosition {
  return { commit: BigInt(message.getCommitPosition()), prepare: BigInt(message.getPreparePosition()) };
}

export function ticksNow(): bigint {
  const TICKS_PER_MILLISECOND = 10_000n;
  return BigInt(Date.now()) * TICKS_PER_MILLISECOND;
}

/**
 * What an event counts against the maximum append size. EventStoreDB's `Event.SizeOnDisk`
 * (src/EventStore.Core/Data/Event.cs, 23.10 and 24.10) reads
 * `data?.Length ?? 0 + metadata?.Length ?? 0 + eventType.Length * 2`; C#'s `??` binds more
 * loosely than `+`, so for an event with data (every gRPC event has a data array) it is the
 * data's length alone. Modelled as the server computes it, not as it was meant.
 */
export function sizeOnDisk(event: Pick<ProposedEsdbEvent, 'data'>): number {
  return event.data.length;
}
