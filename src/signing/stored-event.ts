import { canonicalJson, validateEnvelopeShape } from '../../contracts';
import { ProoflineError } from '../errors/proofline-error';
import type { RecordedEvent } from '../eventstore/event-store.port';
import { formatPosition } from '../eventstore/global-position';

export type StoredBytesFault = { readonly fault: 'malformed' | 'not-canonical'; readonly message: string };

/**
 * One byte string per event: the stored bytes must be exactly the RFC 8785 form of the envelope
 * they parse to, and that envelope must have the v1 shape (closed objects, the signature block
 * with nothing but alg, keyId, value and batch, its value in strict padded base64). Otherwise
 * the row is refused, whatever its signature says: the signature covers the parsed value, while
 * hashes, receipts and Kafka carry the bytes — `"amount":999999,"amount":100` parses to 100.
 *
 * Needs no key, so the relay can call it before publishing a row (undefined: publish).
 */
export function storedBytesFault(event: Pick<RecordedEvent, 'envelope' | 'raw'>): StoredBytesFault | undefined {
  const id = (event.envelope as { id?: unknown } | undefined)?.id;
  const shape = validateEnvelopeShape(event.envelope);
  if (!shape.valid) return { fault: 'malformed', message: `event ${String(id)} does not have the envelope's shape: ${shape.errors.join('; ')}` };
  let canonical: string;
  try {
    canonical = canonicalJson(event.envelope);
  } catch (error) {
    return { fault: 'malformed', message: `event ${String(id)} has no canonical form: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (canonical !== event.raw) {
    return { fault: 'not-canonical', message: `event ${String(id)}: the stored bytes are not the canonical JSON of what they parse to (a duplicate key, white space, key order or number spelling), so they are not the bytes that were signed` };
  }
  return undefined;
}

/**
 * A row filed under another event, stream or tenant than its envelope names (only someone who can
 * rewrite rows makes one): its bytes must not reach another tenant's read model through the
 * envelope's fields, which consumers trust. Undefined when row and envelope agree. Needs no key.
 */
export function misfiledFault(event: Pick<RecordedEvent, 'envelope' | 'storedAs'>): string | undefined {
  const { envelope, storedAs } = event;
  if (envelope?.id === storedAs.eventId && envelope.streamId === storedAs.streamId && envelope.tenantId === storedAs.tenantId) return undefined;
  return `event ${String(envelope?.id)} of stream ${String(envelope?.streamId)} (tenant ${String(envelope?.tenantId)}) is stored as event ${storedAs.eventId} of stream ${storedAs.streamId} (tenant ${storedAs.tenantId})`;
}

/**
 * For the relay, before a row becomes a Kafka message: throws EVENT.NOT_CANONICAL naming the
 * event and its position, so a byte string other than the signed one is never published.
 */
export function requireOneByteString(event: Pick<RecordedEvent, 'envelope' | 'raw' | 'position' | 'storedAs'>): void {
  const fault = storedBytesFault(event);
  if (fault) {
    throw new ProoflineError('EVENT.NOT_CANONICAL', `${fault.message} (at ${formatPosition(event.position)}); it is not published`, 500, {
      eventId: event.storedAs.eventId,
      position: formatPosition(event.position),
      fault: fault.fault,
    });
  }
}
