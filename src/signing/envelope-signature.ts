import type { KeyObject } from 'node:crypto';
import { canonicalJson, EVENT_SIGNATURE_PURPOSE, signingInputOf, type EventEnvelope, type EventSignature, type SignatureAlgorithm } from '../../contracts';
import { leafHash } from '../ledger/merkle/hashes';
import { isValidInclusion } from '../ledger/merkle/verify';
import { verifyWithKey, type DetachedVerification } from './detached-signature';
import { lifecycleFault } from './signing-key';

export const BATCH_STATEMENT_TYPE = 'proofline.event-batch.v1';
export const BATCH_STATEMENT_TYPE_V2 = 'proofline.event-batch.v2';

/** Who signs: a version 2 signed body states both, so neither can be swapped in the signature block. */
export interface SignerIdentity {
  readonly alg: SignatureAlgorithm;
  readonly keyId: string;
}

type HashedEnvelope = Omit<EventEnvelope, 'metadata'> & { metadata: Omit<EventEnvelope['metadata'], 'signature'> };

export interface VerifyingKey {
  readonly publicKey: KeyObject;
  readonly alg: SignatureAlgorithm;
  /** The key's lifecycle, when the verifier knows it (the registry does; a bare PEM does not). */
  readonly retiredAt?: string;
  readonly revokedAt?: string;
}

/** Version 1 (stored events only): UTF-8 of the RFC 8785 JSON of the envelope without metadata.signature. */
export function signingInputBytes(envelope: HashedEnvelope): Buffer {
  return Buffer.from(canonicalJson(envelope), 'utf8');
}

/**
 * Version 2, what every new event signs (or hashes into a batch): the RFC 8785 JSON of the
 * envelope whose signature block is reduced to `{alg, keyId, purpose}` — the value and the
 * batch proof cannot be inside what they sign. A v1 input never has `metadata.signature`, a v2
 * input always has it, so no byte string is both.
 */
export function signingInputBytesV2(envelope: HashedEnvelope, signer: SignerIdentity): Buffer {
  const signature = { alg: signer.alg, keyId: signer.keyId, purpose: EVENT_SIGNATURE_PURPOSE };
  return Buffer.from(canonicalJson({ ...envelope, metadata: { ...envelope.metadata, signature } }), 'utf8');
}

/** Version 1 batch statement (stored events only): its type, Merkle root and size, as RFC 8785 JSON. */
export function batchStatementBytes(rootHex: string, size: number): Buffer {
  return Buffer.from(canonicalJson({ type: BATCH_STATEMENT_TYPE, root: rootHex, size }), 'utf8');
}

/** Version 2 batch statement: the v1 members plus the signer's alg and keyId, under type proofline.event-batch.v2. */
export function batchStatementBytesV2(rootHex: string, size: number, signer: SignerIdentity): Buffer {
  return Buffer.from(canonicalJson({ type: BATCH_STATEMENT_TYPE_V2, alg: signer.alg, keyId: signer.keyId, root: rootHex, size }), 'utf8');
}

/**
 * The bytes an event's signature block says were signed directly or hashed into its batch leaf,
 * and the batch statement builder that goes with them. The version is told by `purpose`, which
 * a v2 input contains: dropping it (to pass a v2 signature as v1) or adding it (v1 as v2)
 * changes the bytes, so the signature no longer verifies. An unknown purpose is refused.
 */
export function signedBytesOf(envelope: EventEnvelope): { readonly input: Buffer; readonly statement: (rootHex: string, size: number) => Buffer } | undefined {
  const signature: EventSignature = envelope.metadata.signature;
  const hashed = signingInputOf(envelope);
  if (signature.purpose === undefined) return { input: signingInputBytes(hashed), statement: batchStatementBytes };
  if (signature.purpose !== EVENT_SIGNATURE_PURPOSE) return undefined;
  return { input: signingInputBytesV2(hashed, signature), statement: (root, size) => batchStatementBytesV2(root, size, signature) };
}

/**
 * Remembers batch statements already verified, so checking the n events of one batch costs one
 * asymmetric verification, not n. Bounded: it forgets everything when full.
 */
export class VerifiedStatements {
  private readonly seen = new Set<string>();

  constructor(private readonly capacity = 10_000) {}

  has(key: string): boolean {
    return this.seen.has(key);
  }

  add(key: string): void {
    if (this.seen.size >= this.capacity) this.seen.clear();
    this.seen.add(key);
  }
}

/**
 * Checks an envelope's signature with the key it names: directly over its signing input, or —
 * for a batch member — its leaf's inclusion in the batch root, then the signature over the
 * batch statement. The same function serves the server and the offline receipt verifier.
 */
export function verifyEnvelopeSignature(
  envelope: EventEnvelope,
  keyFor: (keyId: string) => VerifyingKey | undefined,
  verifiedStatements?: VerifiedStatements,
): DetachedVerification {
  const subject = `event ${envelope.id}`;
  const signature = envelope.metadata.signature;
  const key = keyFor(signature.keyId);
  if (!key) return { valid: false, fault: 'unknown-key', message: `${subject} is signed by unknown key ${signature.keyId}` };
  if (key.alg !== signature.alg) return { valid: false, fault: 'algorithm-mismatch', message: `${subject} claims ${signature.alg}, key ${signature.keyId} is ${key.alg}` };
  const verified = verifySignatureOnly(envelope, key, subject, verifiedStatements);
  if (!verified.valid) return verified;
  // Only a signature that holds is judged by its date: a forgery stays a bad signature.
  const late = lifecycleFault({ keyId: signature.keyId, retiredAt: key.retiredAt, revokedAt: key.revokedAt }, envelope.occurredAt);
  return late ? { valid: false, fault: 'key-lifecycle', message: `${subject}: ${late}` } : verified;
}

function verifySignatureOnly(envelope: EventEnvelope, key: VerifyingKey, subject: string, verified?: VerifiedStatements): DetachedVerification {
  const signature = envelope.metadata.signature;
  const bad = (why: string): DetachedVerification => ({ valid: false, fault: 'bad-signature', message: `${subject}: ${why}` });
  const signed = signedBytesOf(envelope);
  if (!signed) return bad(`unknown signature purpose ${JSON.stringify(signature.purpose)}`);
  const input = signed.input;
  if (!signature.batch) {
    return verifyWithKey(key.publicKey, key.alg, input, signature.value) ? { valid: true } : bad(`signature does not verify with key ${signature.keyId}`);
  }
  const { root, index, size, proof } = signature.batch;
  const rootBytes = Buffer.from(root, 'hex');
  if (!isValidInclusion(leafHash(input), index, size, proof.map((hash) => Buffer.from(hash, 'hex')), rootBytes)) {
    return bad(`not leaf ${index} of the signed batch of ${size} with root ${root}`);
  }
  // The statement's version and signer are part of what was verified, so they are part of the key.
  const statementKey = `${signature.purpose ?? 'v1'}:${signature.alg}:${signature.keyId}:${root}:${size}:${signature.value}`;
  if (verified?.has(statementKey)) return { valid: true };
  if (!verifyWithKey(key.publicKey, key.alg, signed.statement(root, size), signature.value)) return bad(`batch signature does not verify with key ${signature.keyId}`);
  verified?.add(statementKey);
  return { valid: true };
}
