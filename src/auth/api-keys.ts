import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { newEventId } from '../../contracts';

const PREFIX = 'plk';

export interface IssuedApiKey {
  readonly keyId: string;
  /** The whole credential, shown once: `plk.<tenantId>.<keyId>.<secret>`. */
  readonly token: string;
  readonly secretSha256: string;
}

export interface PresentedApiKey {
  readonly tenantId: string;
  readonly keyId: string;
  readonly secret: string;
}

/**
 * A key names its tenant and id in the clear (so one lookup finds it) and carries 256 random
 * bits; only their SHA-256 is kept. A fast hash suffices for a secret nobody chose: there is
 * nothing to guess offline that is smaller than 2^256.
 */
export function issueApiKey(tenantId: string): IssuedApiKey {
  const keyId = newEventId();
  const secret = randomBytes(32).toString('base64url');
  return { keyId, token: `${PREFIX}.${tenantId}.${keyId}.${secret}`, secretSha256: sha256Hex(secret) };
}

export function isApiKey(credential: string): boolean {
  return credential.startsWith(`${PREFIX}.`);
}

export function parseApiKey(credential: string): PresentedApiKey | undefined {
  const parts = credential.split('.');
  if (parts.length !== 4 || parts[0] !== PREFIX || !parts[1] || !/^[0-9a-f-]{36}$/.test(parts[2]) || !/^[A-Za-z0-9_-]{43}$/.test(parts[3])) return undefined;
  return { tenantId: parts[1], keyId: parts[2], secret: parts[3] };
}

export function secretMatches(secret: string, expectedSha256: string): boolean {
  const actual = createHash('sha256').update(secret).digest();
  const expected = Buffer.from(expectedSha256, 'hex');
  return expected.length === actual.length && timingSafeEqual(actual, expected);
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
