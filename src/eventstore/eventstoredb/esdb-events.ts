import { binaryEvent, type EventData, type ResolvedEvent } from '@eventstore/db-client';
import { canonicalJson, type EventEnvelope } from '../../../contracts';
import { ProoflineError } from '../../errors/proofline-error';
import type { RecordedEvent } from '../event-store.port';

/**
 * How a Proofline envelope sits in EventStoreDB.
 *
 * - The event's data is the signed envelope's RFC 8785 text, byte for byte, as a binary event:
 *   a JSON event would be parsed by the client on the way out and its bytes lost.
 * - The event's id and type are the envelope's, so EventStoreDB's own tools show them.
 * - The event's metadata carries the envelope's metadata, the tenant and the schema version,
 *   plus `$correlationId`/`$causationId` under the names EventStoreDB's system projections
 *   read. It is an index, never the source of truth: readers judge the data bytes.
 */

/** Marks an EventStoreDB event as one of Proofline's envelopes; $all may hold others. */
export const ENVELOPE_FORMAT = 'proofline.envelope.v1';

/**
 * Stream names Proofline's domain never uses: the adapter's own bookkeeping (idempotency
 * claims, event-id reservations) lives under this prefix, and its event types start with `_`.
 */
export const BOOKKEEPING_PREFIX = '_proofline-';

/**
 * Event types a $all subscription is sent: not EventStoreDB's system events (`$…`) and not the
 * adapter's bookkeeping (`_…`). Proofline's own types are `domain.action`, lowercase.
 */
export const PROOFLINE_EVENT_TYPES = '^[^$_]';

/** A type alias, not an interface: the client wants an index-signature object. */
export type StoredMetadata = {
  readonly format: typeof ENVELOPE_FORMAT;
  readonly tenantId: string;
  readonly schemaVersion: number;
  readonly $correlationId: string;
  readonly $causationId: string;
  readonly envelopeMetadata: EventEnvelope['metadata'];
  /**
   * On the first event of an append made under an idempotency key: the key, the request's hash
   * and the append's size, so the claim registry can be rebuilt from the store (claim-recovery.ts).
   */
  readonly idempotency?: KeyedAppend;
};

export interface KeyedAppend {
  readonly key: string;
  readonly requestHash: string;
  readonly eventCount: number;
}

export function toProposedEvent(envelope: EventEnvelope, keyed?: KeyedAppend): EventData {
  const metadata: StoredMetadata = {
    format: ENVELOPE_FORMAT,
    tenantId: envelope.tenantId,
    schemaVersion: envelope.schemaVersion,
    $correlationId: envelope.metadata.correlationId,
    $causationId: envelope.metadata.causationId,
    envelopeMetadata: envelope.metadata,
    ...(keyed ? { idempotency: { key: keyed.key, requestHash: keyed.requestHash, eventCount: keyed.eventCount } } : {}),
  };
  return binaryEvent({
    id: envelope.id,
    type: envelope.type,
    data: Buffer.from(canonicalJson(envelope), 'utf8'),
    // A plain object: the client sends it as JSON (a Buffer would be serialised as {type, data}).
    metadata,
  });
}

/** True for an event Proofline wrote as an envelope (not a system, bookkeeping or foreign event). */
export function isEnvelopeEvent(resolved: ResolvedEvent): boolean {
  const event = resolved.event;
  if (!event || event.isJson || event.type.startsWith('$') || event.type.startsWith('_')) return false;
  return metadataOf(resolved)?.format === ENVELOPE_FORMAT;
}

export function tenantOf(resolved: ResolvedEvent): string | undefined {
  return metadataOf(resolved)?.tenantId;
}

/** The idempotency key an event's append was made under, if it is the append's first event. */
export function keyedAppendOf(resolved: ResolvedEvent): KeyedAppend | undefined {
  const keyed = metadataOf(resolved)?.idempotency;
  if (!keyed || typeof keyed.key !== 'string' || typeof keyed.requestHash !== 'string' || typeof keyed.eventCount !== 'number') return undefined;
  return keyed;
}

/**
 * The port's view of a stored event. `storedAs` is what EventStoreDB filed it under (its event
 * id, its stream, the tenant in its metadata); the reader compares that with the signed envelope.
 */
export function toRecordedEvent(resolved: ResolvedEvent): RecordedEvent {
  const event = resolved.event;
  if (!event) throw corrupt('an entry without an event (a link to a deleted event?)', 'unknown');
  if (!event.position) throw corrupt('an event read without its $all position', event.id);
  if (!(event.data instanceof Uint8Array)) throw corrupt('an event whose data is JSON, not the signed bytes', event.id);
  const raw = Buffer.from(event.data.buffer, event.data.byteOffset, event.data.byteLength).toString('utf8');
  return {
    envelope: parseEnvelope(raw, event.id),
    raw,
    streamVersion: Number(event.revision),
    position: { commit: event.position.commit, prepare: event.position.prepare },
    storedAs: { eventId: event.id, streamId: event.streamId, tenantId: tenantOf(resolved) ?? '' },
  };
}

function metadataOf(resolved: ResolvedEvent): Partial<StoredMetadata> | undefined {
  const metadata: unknown = resolved.event?.metadata;
  if (metadata === null || typeof metadata !== 'object' || metadata instanceof Uint8Array) return undefined;
  return metadata as Partial<StoredMetadata>;
}

function parseEnvelope(raw: string, eventId: string): EventEnvelope {
  try {
    return JSON.parse(raw) as EventEnvelope;
  } catch {
    throw corrupt('an event whose data is not JSON', eventId);
  }
}

function corrupt(what: string, eventId: string): ProoflineError {
  return new ProoflineError('STREAM.CORRUPT_ROW', `EventStoreDB returned ${what} (event ${eventId})`, 500, { eventId });
}
