import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { SignatureAlgorithm } from '../../contracts';
import type { SigningKeyType } from '../config/proofline-config';

export type KeyStatus = 'active' | 'retired' | 'revoked';

/**
 * What the registry publishes about a key: enough to verify, nothing to sign. Its lifecycle:
 * it signs from activeFrom; a signature dated after retiredAt, or at or after revokedAt, is invalid.
 */
export interface PublishedKey {
  readonly keyId: string;
  readonly alg: SignatureAlgorithm;
  readonly status: KeyStatus;
  readonly createdAt: string;
  /** When it became the active key (createdAt for entries written before this field). */
  readonly activeFrom?: string;
  readonly retiredAt?: string;
  /** Everything this key signed from this instant on is invalid (a compromise). */
  readonly revokedAt?: string;
  readonly publicKeyPem: string;
  readonly certificatePem: string;
}

export interface SigningKey extends PublishedKey {
  readonly publicKey: KeyObject;
  /** Absent for keys we only verify with (retired keys whose private half is gone, or another instance's). */
  readonly privateKey?: KeyObject;
}

/**
 * Why a signature of `key` dated `signedAt` (an event's occurredAt, a checkpoint's issuedAt) is
 * invalid by the key's lifecycle, or undefined when the date is within it. The date is the one
 * the signed bytes state: a holder of a stolen key can backdate, which only a witness or an
 * auditor's kept checkpoint can expose.
 */
export function lifecycleFault(key: Pick<PublishedKey, 'keyId' | 'retiredAt' | 'revokedAt'>, signedAt: string | undefined): string | undefined {
  if (signedAt === undefined || (key.retiredAt === undefined && key.revokedAt === undefined)) return undefined;
  const at = Date.parse(signedAt);
  if (Number.isNaN(at)) return `the signature's date ${signedAt} is not a date`;
  if (key.revokedAt !== undefined && at >= Date.parse(key.revokedAt)) return `key ${key.keyId} was revoked from ${key.revokedAt}; this was signed ${signedAt}`;
  if (key.retiredAt !== undefined && at > Date.parse(key.retiredAt)) return `key ${key.keyId} was retired at ${key.retiredAt}; this was signed ${signedAt}, after`;
  return undefined;
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
