import { sign, verify, type KeyObject } from 'node:crypto';
import type { EventSignature, SignatureAlgorithm } from '../../contracts';
import type { KeyRegistry } from './key-registry';

/** RS256 signs a SHA-256 digest (PKCS#1 v1.5); EdDSA signs the message itself. */
function digestFor(alg: SignatureAlgorithm): 'sha256' | null {
  return alg === 'RS256' ? 'sha256' : null;
}

export function signBytes(keys: KeyRegistry, input: Buffer): EventSignature {
  const key = keys.active();
  return { alg: key.alg, keyId: key.keyId, value: sign(digestFor(key.alg), input, key.privateKey).toString('base64') };
}

export type DetachedVerification = { readonly valid: true } | { readonly valid: false; readonly fault: 'unknown-key' | 'algorithm-mismatch' | 'bad-signature'; readonly message: string };

/** Checks `signature` over `input` with the registry key it names (retired keys included). */
export function verifyBytes(keys: KeyRegistry, input: Buffer, signature: EventSignature, subject: string): DetachedVerification {
  const key = keys.get(signature.keyId);
  if (!key) return { valid: false, fault: 'unknown-key', message: `${subject} is signed by unknown key ${signature.keyId}` };
  if (key.alg !== signature.alg) return { valid: false, fault: 'algorithm-mismatch', message: `${subject} claims ${signature.alg}, key ${key.keyId} is ${key.alg}` };
  return verifyWithKey(key.publicKey, key.alg, input, signature.value)
    ? { valid: true }
    : { valid: false, fault: 'bad-signature', message: `${subject}: signature does not verify with key ${key.keyId}` };
}

/** The bare check, for offline verifiers that hold a public key and nothing else. */
export function verifyWithKey(publicKey: KeyObject, alg: SignatureAlgorithm, input: Buffer, base64Signature: string): boolean {
  return verify(digestFor(alg), input, publicKey, Buffer.from(base64Signature, 'base64'));
}
