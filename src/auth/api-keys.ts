import { issueTenantSecret, parseTenantSecret, type IssuedTenantSecret, type PresentedTenantSecret } from './tenant-secrets';

/** API keys: credentials for machines, `plk.<tenantId>.<keyId>.<secret>` (see tenant-secrets.ts). */
const PREFIX = 'plk';

export function issueApiKey(tenantId: string): IssuedTenantSecret {
  return issueTenantSecret(PREFIX, tenantId);
}

export function isApiKey(credential: string): boolean {
  return credential.startsWith(`${PREFIX}.`);
}

export function parseApiKey(credential: string): PresentedTenantSecret | undefined {
  return parseTenantSecret(PREFIX, credential);
}
