import { ensureAccount } from '../auth/bootstrap';
import type { Role } from '../workspaces/events';
import type { Infrastructure } from './infrastructure';

/** The demo tenant of the embedded profile: a fixed id so the README's examples work as written. */
export const DEMO_TENANT_ID = '00000000-0000-7000-8000-000000000001';

/** Documented in the README and docs/security.md; created only in the embedded profile, never in services. */
export const DEMO_PASSWORD = 'proofline-demo-password';
export const DEMO_ACCOUNTS: ReadonlyArray<{ email: string; role: Role }> = [
  { email: 'customer-admin@demo.proofline.local', role: 'CUSTOMER_ADMIN' },
  { email: 'finance@demo.proofline.local', role: 'FINANCE' },
  { email: 'technical@demo.proofline.local', role: 'TECHNICAL' },
  { email: 'auditor@demo.proofline.local', role: 'AUDITOR' },
];

/** Registers the demo workspace and one account per role once; later starts find them and change nothing. */
export async function seedDemoTenant(infrastructure: Infrastructure): Promise<void> {
  const deps = { users: infrastructure.identity.users, states: infrastructure.states, pipeline: infrastructure.pipeline };
  for (const account of DEMO_ACCOUNTS) {
    await ensureAccount(deps, { ...account, password: DEMO_PASSWORD, tenantId: DEMO_TENANT_ID, workspace: { name: 'Demo Workspace', planTier: 'PRO' } });
  }
}
