import { createHash } from 'node:crypto';
import { canonicalJson } from '../../contracts';
import { formatPosition } from '../eventstore/global-position';
import type { RecordedEvent } from '../eventstore/event-store.port';

export const RECEIPT_FORMAT = 1;
/** prevHash of a chain's first receipt: 32 zero bytes, hex. */
export const GENESIS_PREV_HASH = '0'.repeat(64);

/** The fields of a receipt that are hashed; the hash itself is kept beside them. See docs/ledger.md. */
export interface ReceiptBody {
  readonly v: typeof RECEIPT_FORMAT;
  readonly tenantId: string;
  /** 0-based place in the tenant's chain; also the Merkle leaf index. */
  readonly sequence: number;
  readonly eventId: string;
  /** The event's global position, "<commit>/<prepare>". */
  readonly position: string;
  /** SHA-256 of the event's stored canonical bytes (the signed envelope, RFC 8785), hex. */
  readonly eventHash: string;
  readonly prevHash: string;
}

export interface Receipt extends ReceiptBody {
  /** SHA-256 of receiptBytes(body), hex: the next receipt's prevHash. */
  readonly receiptHash: string;
}

export function sha256Hex(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The receipt's canonical bytes: the Merkle leaf, and what receiptHash hashes. */
export function receiptBytes(body: ReceiptBody): Buffer {
  const { v, tenantId, sequence, eventId, position, eventHash, prevHash } = body;
  return Buffer.from(canonicalJson({ v, tenantId, sequence, eventId, position, eventHash, prevHash }), 'utf8');
}

export function eventHashOf(event: Pick<RecordedEvent, 'raw'>): string {
  return sha256Hex(event.raw); // a string is hashed as UTF-8, without a copy into a Buffer
}

/** The receipt for `event` at `sequence` following a receipt whose hash is `prevHash`. Pure. */
export function receiptFor(event: RecordedEvent, sequence: number, prevHash: string): Receipt {
  return receiptAndBytesFor(event, sequence, prevHash).receipt;
}

/** The receipt and its canonical bytes (its Merkle leaf), computed once. */
export function receiptAndBytesFor(event: RecordedEvent, sequence: number, prevHash: string): { receipt: Receipt; bytes: Buffer } {
  const body: ReceiptBody = {
    v: RECEIPT_FORMAT,
    tenantId: event.envelope.tenantId,
    sequence,
    eventId: event.envelope.id,
    position: formatPosition(event.position),
    eventHash: eventHashOf(event),
    prevHash,
  };
  const bytes = receiptBytes(body);
  return { receipt: { ...body, receiptHash: sha256Hex(bytes) }, bytes };
}
