import { randomUUID } from 'node:crypto';
import type { Infrastructure } from '../../src/app/infrastructure';
import type { Role } from '../../src/workspaces/events';

let signUps = 0;

export interface TestTenant {
  readonly tenantId: string;
  readonly ownerId: string;
  readonly email: string;
  /** The owner's (CUSTOMER_ADMIN) access token. */
  readonly accessToken: string;
  readonly refreshToken: string;
}

export const TEST_PASSWORD = 'test-password-for-proofline';

/**
 * A workspace and its owner through the real sign-up path (argon2id included); each from its own
 * made-up address, so the per-IP sign-up limit is not what a test measures.
 */
export async function signUp(infrastructure: Infrastructure, workspaceName = 'Test Workspace'): Promise<TestTenant> {
  signUps += 1;
  const email = `owner-${signUps}-${randomUUID().slice(0, 8)}@example.test`;
  const session = await infrastructure.identity.sessions.register({ email, password: TEST_PASSWORD, workspaceName, planTier: 'FREE' }, { ip: `test-signup-${signUps}`, correlationId: randomUUID() });
  return { tenantId: session.workspaceId, ownerId: session.userId, email, accessToken: session.accessToken, refreshToken: session.refreshToken };
}

/** An access token for (tenant, role) without an account: a session started as sign-in would start it. */
export async function accessTokenFor(infrastructure: Infrastructure, tenantId: string, role: Role, userId: string = randomUUID()): Promise<string> {
  return (await infrastructure.identity.sessions.start(userId, tenantId, role, new Date())).accessToken;
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/**
 * A different client address for every test of a suite (sent as X-Forwarded-For to an app that
 * trusts one proxy hop), so per-IP limits are never what a test measures. `subnet` keeps the
 * suites sharing one app apart. Call in the describe body; read `.current` inside tests.
 */
export function addressPerTest(subnet: number): { readonly current: string } {
  let tests = 0;
  const address = { current: '' };
  beforeEach(() => {
    tests += 1;
    address.current = `10.${subnet}.${Math.floor(tests / 250)}.${(tests % 250) + 1}`;
  });
  return address;
}
