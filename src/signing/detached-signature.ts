import { sign, verify, type KeyObject } from 'node:crypto';
import type { EventSignature, SignatureAlgorithm } from '../../contracts';
import type { KeyRegistry } from './key-registry';
import { lifecycleFault } from './signing-key';

/** RS256 signs a SHA-256 digest (PKCS#1 v1.5); EdDSA signs the message itself. */
function digestFor(alg: SignatureAlgorithm): 'sha256' | null {
  return alg === 'RS256' ? 'sha256' : null;
}

/**
 * Signs the body `bodyFor` builds for the active key's alg and keyId — a version 2 body states
 * its signer — with that same key (read once, so a rotation in between cannot split the two).
 */
export function signBound(keys: KeyRegistry, bodyFor: (signer: { readonly alg: SignatureAlgorithm; readonly keyId: string }) => Buffer): EventSignature {
  const key = keys.active();
  const input = bodyFor({ alg: key.alg, keyId: key.keyId });
  return { alg: key.alg, keyId: key.keyId, value: sign(digestFor(key.alg), input, key.privateKey).toString('base64') };
}

export type DetachedVerification =
  | { readonly valid: true }
  | { readonly valid: false; readonly fault: 'unknown-key' | 'algorithm-mismatch' | 'bad-signature' | 'key-lifecycle'; readonly message: string };

/**
 * Checks `signature` over `input` with the registry key it names (retired keys included), and —
 * given `signedAt`, the date the signed bytes state — that the key was neither retired before
 * nor revoked by then.
 */
export function verifyBytes(keys: KeyRegistry, input: Buffer, signature: Pick<EventSignature, 'alg' | 'keyId' | 'value'>, subject: string, signedAt?: string): DetachedVerification {
  const key = keys.get(signature.keyId);
  if (!key) return { valid: false, fault: 'unknown-key', message: `${subject} is signed by unknown key ${signature.keyId}` };
  if (key.alg !== signature.alg) return { valid: false, fault: 'algorithm-mismatch', message: `${subject} claims ${signature.alg}, key ${key.keyId} is ${key.alg}` };
  if (!verifyWithKey(key.publicKey, key.alg, input, signature.value)) return { valid: false, fault: 'bad-signature', message: `${subject}: signature does not verify with key ${key.keyId}` };
  const late = lifecycleFault(key, signedAt);
  return late ? { valid: false, fault: 'key-lifecycle', message: `${subject}: ${late}` } : { valid: true };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The signature bytes of a base64 value written exactly as Proofline writes it (RFC 4648 §4,
 * padded, no white space, no URL alphabet, re-encoding to the same text), else undefined.
 * Node's own decoder skips junk and accepts base64url, which would give one signature many
 * spellings — and one event many byte strings, each with its own event hash.
 */
export function decodeSignatureValue(value: unknown): Buffer | undefined {
  if (typeof value !== 'string' || value.length === 0 || !BASE64.test(value)) return undefined;
  const bytes = Buffer.from(value, 'base64');
  return bytes.toString('base64') === value ? bytes : undefined;
}

/** The bare check, for offline verifiers that hold a public key and nothing else. A value not in strict base64 never verifies. */
export function verifyWithKey(publicKey: KeyObject, alg: SignatureAlgorithm, input: Buffer, base64Signature: string): boolean {
  const signature = decodeSignatureValue(base64Signature);
  return signature !== undefined && verify(digestFor(alg), input, publicKey, signature);
}
