import type { JsonObject } from './json';

/** Signature algorithms, by their JOSE names: RSA-2048 PKCS#1 v1.5 with SHA-256, or Ed25519. */
export type SignatureAlgorithm = 'RS256' | 'EdDSA';
export const SIGNATURE_ALGORITHMS: readonly SignatureAlgorithm[] = ['RS256', 'EdDSA'];

export interface Actor {
  readonly id: string;
  readonly role: string;
}

/**
 * Where an event sits in the batch it was appended with: the batch's events are the leaves of
 * an RFC 6962 Merkle tree whose root was signed once (docs/events.md, "Batches").
 */
export interface BatchInclusion {
  /** Hex Merkle root over the leaf hashes SHA-256(0x00 ‖ signing input) of the batch's events. */
  readonly root: string;
  readonly index: number;
  readonly size: number;
  /** Hex RFC 6962 inclusion proof of this event's leaf in the batch tree. */
  readonly proof: readonly string[];
}

/**
 * The purpose tag of a version 2 event signature. Its presence in `metadata.signature` is what
 * makes the signing input version 2, and it is itself inside those bytes (docs/events.md, ADR 0005).
 */
export const EVENT_SIGNATURE_PURPOSE = 'proofline.event.v2';

export interface EventSignature {
  readonly alg: SignatureAlgorithm;
  /** Names a key in the key registry (see GET /.well-known/proofline/keys). */
  readonly keyId: string;
  /** Base64 (RFC 4648 §4) of the signature over the signing input, or over the batch statement when `batch` is present (see docs/events.md). */
  readonly value: string;
  /** Present when the event was signed as part of a batch of two or more. */
  readonly batch?: BatchInclusion;
  /**
   * Version 2 signatures (every new write): the signing input is the envelope with the signature
   * block reduced to `{alg, keyId, purpose}`, so the key, the algorithm and the purpose are signed.
   * Absent on version 1 signatures (stored before), whose input leaves the block out entirely.
   */
  readonly purpose?: typeof EVENT_SIGNATURE_PURPOSE;
}

export interface EnvelopeMetadata {
  readonly correlationId: string;
  readonly causationId: string;
  readonly commandId: string;
  readonly idempotencyKey?: string;
  /** Lowercase hex SHA-256 of the RFC 8785 canonical JSON of `data`. */
  readonly dataHash: string;
  readonly signature: EventSignature;
}

/**
 * The one shape of every event, in every store and on every topic (schema:
 * contracts/schemas/event-envelope.v1.schema.json). Store-assigned positions are not part of
 * it: they travel beside it in a RecordedEvent, so the signed bytes never change.
 */
export interface EventEnvelope<TType extends string = string, TData extends JsonObject = JsonObject> {
  readonly id: string;
  readonly type: TType;
  readonly schemaVersion: number;
  readonly streamId: string;
  readonly tenantId: string;
  /** ISO-8601 UTC instant with milliseconds, e.g. 2026-11-21T20:55:45.123Z. */
  readonly occurredAt: string;
  readonly actor: Actor;
  readonly data: TData;
  readonly metadata: EnvelopeMetadata;
}

export type UnsignedMetadata = Omit<EnvelopeMetadata, 'signature' | 'dataHash'>;

/** An envelope before the append hook hashes its data and signs it. */
export type UnsignedEnvelope<TType extends string = string, TData extends JsonObject = JsonObject> = Omit<
  EventEnvelope<TType, TData>,
  'metadata'
> & { readonly metadata: UnsignedMetadata };

/** What a version 1 signature covers: the envelope with `metadata.signature` removed (dataHash included). */
export type SigningInput = Omit<EventEnvelope, 'metadata'> & { readonly metadata: Omit<EnvelopeMetadata, 'signature'> };

export function signingInputOf(envelope: EventEnvelope): SigningInput {
  const { signature: _signature, ...metadata } = envelope.metadata;
  return { ...envelope, metadata };
}
