import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { newEventId } from '../../contracts';

/**
 * A credential that names its workspace and its own id in the clear (so one lookup finds it)
 * and carries 256 random bits, of which only the SHA-256 is kept: `<prefix>.<tenantId>.<id>.<secret>`.
 * API keys (`plk`) and invitation tokens (`pli`) are both of this form. A fast hash suffices for
 * a secret nobody chose: there is nothing smaller than 2^256 to guess offline.
 */
export interface IssuedTenantSecret {
  readonly id: string;
  /** The whole credential, shown once. */
  readonly token: string;
  readonly secretSha256: string;
}

export interface PresentedTenantSecret {
  readonly tenantId: string;
  readonly id: string;
  readonly secret: string;
}

const TENANT_ID = /^[A-Za-z0-9][A-Za-z0-9_:@-]{0,127}$/;
const ID = /^[0-9a-f-]{36}$/;
const SECRET = /^[A-Za-z0-9_-]{43}$/;

export function issueTenantSecret(prefix: string, tenantId: string): IssuedTenantSecret {
  const id = newEventId();
  const secret = randomBytes(32).toString('base64url');
  return { id, token: `${prefix}.${tenantId}.${id}.${secret}`, secretSha256: sha256Hex(secret) };
}

/** The parts of a credential of this form with this prefix, or undefined when it is malformed. */
export function parseTenantSecret(prefix: string, credential: string): PresentedTenantSecret | undefined {
  const parts = credential.split('.');
  if (parts.length !== 4 || parts[0] !== prefix || !TENANT_ID.test(parts[1]) || !ID.test(parts[2]) || !SECRET.test(parts[3])) return undefined;
  return { tenantId: parts[1], id: parts[2], secret: parts[3] };
}

export function secretMatches(secret: string, expectedSha256: string): boolean {
  const actual = createHash('sha256').update(secret).digest();
  const expected = Buffer.from(expectedSha256, 'hex');
  return expected.length === actual.length && timingSafeEqual(actual, expected);
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
