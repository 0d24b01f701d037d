import type { KeyObject } from 'node:crypto';
import { canonicalJson, signingInputOf, type EventEnvelope, type SignatureAlgorithm } from '../../contracts';
import { leafHash } from '../ledger/merkle/hashes';
import { isValidInclusion } from '../ledger/merkle/verify';
import { verifyWithKey, type DetachedVerification } from './detached-signature';
import { lifecycleFault } from './signing-key';

export const BATCH_STATEMENT_TYPE = 'proofline.event-batch.v1';

export interface VerifyingKey {
  readonly publicKey: KeyObject;
  readonly alg: SignatureAlgorithm;
  /** The key's lifecycle, when the verifier knows it (the registry does; a bare PEM does not). */
  readonly retiredAt?: string;
  readonly revokedAt?: string;
}

/** UTF-8 of the RFC 8785 JSON of the envelope without metadata.signature: what is signed, or hashed into a batch. */
export function signingInputBytes(envelope: Omit<EventEnvelope, 'metadata'> & { metadata: Omit<EventEnvelope['metadata'], 'signature'> }): Buffer {
  return Buffer.from(canonicalJson(envelope), 'utf8');
}

/** What one signature covers for a whole batch: its type, Merkle root and size, as RFC 8785 JSON. */
export function batchStatementBytes(rootHex: string, size: number): Buffer {
  return Buffer.from(canonicalJson({ type: BATCH_STATEMENT_TYPE, root: rootHex, size }), 'utf8');
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
  const input = signingInputBytes(signingInputOf(envelope));
  const bad = (why: string): DetachedVerification => ({ valid: false, fault: 'bad-signature', message: `${subject}: ${why}` });
  if (!signature.batch) {
    return verifyWithKey(key.publicKey, key.alg, input, signature.value) ? { valid: true } : bad(`signature does not verify with key ${signature.keyId}`);
  }
  const { root, index, size, proof } = signature.batch;
  const rootBytes = Buffer.from(root, 'hex');
  if (!isValidInclusion(leafHash(input), index, size, proof.map((hash) => Buffer.from(hash, 'hex')), rootBytes)) {
    return bad(`not leaf ${index} of the signed batch of ${size} with root ${root}`);
  }
  const statementKey = `${signature.keyId}:${root}:${size}:${signature.value}`;
  if (verified?.has(statementKey)) return { valid: true };
  if (!verifyWithKey(key.publicKey, key.alg, batchStatementBytes(root, size), signature.value)) return bad(`batch signature does not verify with key ${signature.keyId}`);
  verified?.add(statementKey);
  return { valid: true };
}
