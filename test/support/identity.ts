import { randomUUID } from 'node:crypto';
import type { Infrastructure } from '../../src/app/infrastructure';
import { streamIdFor } from '../../src/commands/stream-id';
import { SYSTEM_ACTOR_ID } from '../../src/workspaces/decide-authority';
import type { MembershipCommand } from '../../src/workspaces/decide-members';
import type { Role } from '../../src/workspaces/events';
import { workspaceDecider } from '../../src/workspaces/workspace.decider';

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

/**
 * An access token for (tenant, role) without an account: the user is made a member with that
 * role (added, or its role changed) by the system, as the workspace's events must say for the
 * token to carry any authority, then a session is started as sign-in would start it.
 */
export async function accessTokenFor(infrastructure: Infrastructure, tenantId: string, role: Role, userId: string = randomUUID()): Promise<string> {
  await makeMember(infrastructure, tenantId, userId, role);
  return (await infrastructure.identity.sessions.start(userId, tenantId, role, new Date())).accessToken;
}

/** Records `userId` as a member of the workspace with `role`, as the system (the actor of start-up's own accounts). */
export async function makeMember(infrastructure: Infrastructure, tenantId: string, userId: string, role: Role): Promise<void> {
  const { state } = await infrastructure.states.loadCurrent(workspaceDecider, streamIdFor('workspace', tenantId));
  if (state.status === 'unregistered') throw new Error(`workspace ${tenantId} is not registered: sign it up first`);
  const current = state.members[userId];
  if (current?.role === role) return;
  await asSystem(infrastructure, tenantId, current ? { type: 'ChangeMemberRole', userId, role, ...SYSTEM_GRANT } : { type: 'AddMember', userId, email: `${userId}@example.test`, role, at: new Date().toISOString(), ...SYSTEM_GRANT });
}

/** Removes `userId` from the workspace, as the system. */
export async function removeMember(infrastructure: Infrastructure, tenantId: string, userId: string): Promise<void> {
  await asSystem(infrastructure, tenantId, { type: 'RemoveMember', userId, ...SYSTEM_GRANT });
}

const SYSTEM_GRANT = { grantedBy: 'ADMIN', actorId: SYSTEM_ACTOR_ID } as const;

/** One membership change at a time per workspace: tests set up several people at once, and the pipeline does not retry a conflict. */
const pendingChanges = new Map<string, Promise<unknown>>();

async function asSystem(infrastructure: Infrastructure, tenantId: string, command: MembershipCommand): Promise<void> {
  const previous = pendingChanges.get(tenantId) ?? Promise.resolve();
  const next = previous.catch(() => undefined).then(() => appendAsSystem(infrastructure, tenantId, command));
  pendingChanges.set(tenantId, next);
  await next;
}

async function appendAsSystem(infrastructure: Infrastructure, tenantId: string, command: MembershipCommand): Promise<void> {
  const commandId = randomUUID();
  await infrastructure.pipeline.handle(workspaceDecider, {
    streamId: streamIdFor('workspace', tenantId),
    command,
    context: { tenantId, actor: { id: SYSTEM_ACTOR_ID, role: 'ADMIN' }, correlationId: commandId, causationId: commandId, commandId, now: new Date().toISOString() },
  });
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
