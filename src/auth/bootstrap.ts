import { newEventId } from '../../contracts';
import type { CommandPipeline } from '../commands/command-pipeline';
import type { CommandContext } from '../commands/command-context';
import { streamIdFor } from '../commands/stream-id';
import type { StateLoader } from '../commands/state-loader';
import type { PlanTier, Role } from '../workspaces/events';
import { SYSTEM_ACTOR_ID } from '../workspaces/decide-authority';
import { workspaceDecider } from '../workspaces/workspace.decider';
import { membershipOf } from './membership';
import { hashPassword } from './passwords';
import { requireAcceptablePassword } from './sessions';
import { ProoflineError } from '../errors/proofline-error';
import { normalizeEmail, type UserRepository } from './user-repository';

export interface AccountSpec {
  readonly email: string;
  readonly password: string;
  readonly role: Role;
  readonly tenantId: string;
  /** Used when the workspace does not exist yet: it is registered with this account as its owner. */
  readonly workspace: { readonly name: string; readonly planTier: PlanTier };
}

export type EnsureOutcome = 'created' | 'added-to-workspace' | 'already-present';

const BOOTSTRAP_ACTOR = { id: SYSTEM_ACTOR_ID, role: 'ADMIN' } as const;

/**
 * Makes sure an account exists and is a member of a workspace, creating what is missing and
 * nothing else: run at every start (demo accounts, PROOFLINE_ADMIN_EMAIL) and by
 * `proofline admin create`, it changes nothing the second time. An existing account's
 * password is never overwritten.
 */
export async function ensureAccount(deps: { users: UserRepository; states: StateLoader; pipeline: CommandPipeline }, spec: AccountSpec, now = new Date()): Promise<EnsureOutcome> {
  requireAcceptablePassword(spec.password, spec.email, 'password');
  const email = normalizeEmail(spec.email);
  let account = await deps.users.findByEmail(email);
  if (account && spec.role === 'ADMIN') requireAdminAtHome(account.homeTenantId, spec.tenantId, email);
  if (account && (await membershipOf(deps.states, spec.tenantId, account.id))) return 'already-present';
  const created = !account;
  if (!account) {
    await deps.users.insertPending({ id: newEventId(), email, passwordHash: await hashPassword(spec.password), homeTenantId: spec.tenantId }, now);
    account = (await deps.users.findByEmail(email))!;
  }
  const { state } = await deps.states.loadCurrent(workspaceDecider, streamIdFor('workspace', spec.tenantId));
  const context = bootstrapContext(spec.tenantId, now);
  // Joining a workspace beyond its home ends its home administrators' power to reset its password.
  if (!created && account.homeTenantId !== spec.tenantId) await deps.users.markShared(account.id, now);
  if (state.status === 'unregistered') {
    const owner = { userId: account.id, email, role: spec.role === 'ADMIN' ? ('ADMIN' as const) : ('CUSTOMER_ADMIN' as const) };
    await deps.pipeline.handle(workspaceDecider, {
      streamId: streamIdFor('workspace', spec.tenantId),
      command: { type: 'RegisterWorkspace', workspaceId: spec.tenantId, name: spec.workspace.name, planTier: spec.workspace.planTier, owner },
      context,
    });
    if (owner.role !== spec.role) await addMember(deps.pipeline, spec.tenantId, { type: 'ChangeMemberRole', userId: account.id, role: spec.role, grantedBy: 'ADMIN', actorId: SYSTEM_ACTOR_ID }, context);
  } else {
    await addMember(deps.pipeline, spec.tenantId, { type: 'AddMember', userId: account.id, email, role: spec.role, at: now.toISOString(), grantedBy: 'ADMIN', actorId: SYSTEM_ACTOR_ID }, context);
  }
  if (account.status === 'pending') await deps.users.activate(account.id);
  return created ? 'created' : 'added-to-workspace';
}

function addMember(pipeline: CommandPipeline, tenantId: string, command: Parameters<typeof workspaceDecider.decide>[0], context: CommandContext) {
  return pipeline.handle(workspaceDecider, { streamId: streamIdFor('workspace', tenantId), command, context: { ...context, commandId: newEventId() } });
}

function bootstrapContext(tenantId: string, now: Date): CommandContext {
  const commandId = newEventId();
  return { tenantId, actor: BOOTSTRAP_ACTOR, correlationId: commandId, causationId: commandId, commandId, now: now.toISOString() };
}

/**
 * The first ADMIN (PROOFLINE_ADMIN_EMAIL at start, or `proofline admin create`). Without a
 * tenant it gets a workspace of its own, "Proofline Operations"; with one it joins it as ADMIN.
 * An address that already has an account is left as it is.
 */
export async function ensureAdmin(
  deps: { users: UserRepository; states: StateLoader; pipeline: CommandPipeline },
  admin: { email: string; password: string; tenantId?: string },
): Promise<{ outcome: EnsureOutcome; tenantId: string }> {
  const existing = await deps.users.findByEmail(admin.email);
  if (existing && !admin.tenantId) {
    // An address someone else created (as a member of their workspace) must not pass for the operator's.
    const member = await membershipOf(deps.states, existing.homeTenantId, existing.id);
    if (member?.role !== 'ADMIN') {
      throw new ProoflineError('AUTH.NOT_AN_ADMIN', `${admin.email} already has an account (created in workspace ${existing.homeTenantId}) that is not an ADMIN; choose another address for the operator`, 409, {
        field: 'email',
      });
    }
    return { outcome: 'already-present', tenantId: existing.homeTenantId };
  }
  const tenantId = admin.tenantId ?? newEventId();
  const outcome = await ensureAccount(deps, { email: admin.email, password: admin.password, role: 'ADMIN', tenantId, workspace: { name: 'Proofline Operations', planTier: 'PRO' } });
  return { outcome, tenantId };
}

/**
 * ADMIN is held only in the workspace an account was created in: otherwise an administrator of
 * that other workspace could reset its password and sign in as the operator.
 */
export function requireAdminAtHome(homeTenantId: string, tenantId: string, email: string): void {
  if (homeTenantId !== tenantId) {
    throw new ProoflineError('MEMBER.ADMIN_OUTSIDE_HOME_WORKSPACE', `${email} belongs to another workspace and cannot be ADMIN here; operators use an account of their own`, 409, { field: 'email' });
  }
}
