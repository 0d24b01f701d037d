import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { SignatureAlgorithm } from '../../contracts';
import type { SigningKeyType } from '../config/proofline-config';

export type KeyStatus = 'active' | 'retired';

/** What the registry publishes about a key: enough to verify, nothing to sign. */
export interface PublishedKey {
  readonly keyId: string;
  readonly alg: SignatureAlgorithm;
  readonly status: KeyStatus;
  readonly createdAt: string;
  readonly retiredAt?: string;
  readonly publicKeyPem: string;
  readonly certificatePem: string;
}

export interface SigningKey extends PublishedKey {
  readonly publicKey: KeyObject;
  /** Absent for keys we only verify with (retired keys whose private half is gone, or another instance's). */
  readonly privateKey?: KeyObject;
}

export function algorithmOf(key: KeyObject): SignatureAlgorithm {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  throw new Error(`unsupported signing key type ${key.asymmetricKeyType ?? 'unknown'}: use RSA (2048 bits or more) or Ed25519`);
}

/** The key id: lowercase hex of the first 16 bytes of SHA-256 over the key's DER SubjectPublicKeyInfo. */
export function keyIdOf(publicKey: KeyObject): string {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('hex').slice(0, 32);
}

export function generateKeyPair(type: SigningKeyType): { privateKey: KeyObject; publicKey: KeyObject } {
  return type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 0x10001 }) : generateKeyPairSync('ed25519');
}

export function keyTypeOf(alg: SignatureAlgorithm): SigningKeyType {
  return alg === 'RS256' ? 'rsa' : 'ed25519';
}
