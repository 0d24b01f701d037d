import { newEventId } from '../../contracts';
import type { CommandPipeline } from '../commands/command-pipeline';
import { streamIdFor } from '../commands/stream-id';
import type { StateLoader } from '../commands/state-loader';
import { DomainError } from '../errors/proofline-error';
import { invitationInvalid, invitationStatus } from '../workspaces/decide-members';
import type { RegisteredWorkspace } from '../workspaces/state';
import { workspaceDecider } from '../workspaces/workspace.decider';
import { issueTenantSecret, parseTenantSecret, secretMatches, sha256Hex, type IssuedTenantSecret } from './tenant-secrets';
import { requireAdminAtHome } from './bootstrap';
import { hashPassword, passwordMatches } from './passwords';
import { enforceRateLimit, RATE_LIMITS } from './rate-limits';
import { requireAcceptablePassword, type Client, type Sessions, type SessionTokens } from './sessions';
import type { SecurityLog } from './security-log';
import type { RateLimiter } from './state/rate-limiter';
import { unauthenticated } from './unauthenticated';
import type { UserRepository } from './user-repository';

/** Invitation tokens: `pli.<tenantId>.<invitationId>.<secret>` (see tenant-secrets.ts). */
const PREFIX = 'pli';
/** Long enough to reach someone on holiday, short enough that a forgotten token dies. */
export const INVITATION_LIFETIME_MS = 7 * 24 * 60 * 60_000;

export function issueInvitationToken(tenantId: string): IssuedTenantSecret {
  return issueTenantSecret(PREFIX, tenantId);
}

/**
 * Joining a workspace: the holder of an invitation token proves the account too. An address
 * without an account gets one with the password given here (its home is the inviting
 * workspace); an address with an account joins only with that account's password. So a person
 * who registered someone else's address first cannot be handed that person's membership: they
 * never hold the token, and the token's holder never knows their password.
 */
export class Invitations {
  constructor(
    private readonly deps: { users: UserRepository; states: StateLoader; pipeline: CommandPipeline; limiter: RateLimiter; sessions: Sessions; securityLog: SecurityLog },
  ) {}

  async accept(input: { invitationToken: string; password: string }, client: Client): Promise<SessionTokens & { accountCreated: boolean }> {
    await enforceRateLimit(this.deps.limiter, RATE_LIMITS.invitationPerIp, client.ip);
    const presented = parseTenantSecret(PREFIX, input.invitationToken);
    if (!presented) throw invitationInvalid();
    const { state } = await this.deps.states.loadCurrent(workspaceDecider, streamIdFor('workspace', presented.tenantId));
    const invitation = state.status === 'active' ? state.invitations[presented.id] : undefined;
    const now = new Date();
    // The token first: without it, nothing about the address or its account is looked at or said.
    if (!invitation || invitationStatus(state as RegisteredWorkspace, invitation, now.getTime()) !== 'pending' || !secretMatches(presented.secret, invitation.secretSha256)) {
      throw invitationInvalid();
    }
    const email = invitation.email;
    const existing = await this.deps.users.findByEmail(email);
    // A pending account this workspace's invitation created, left by an acceptance cut off half-way: resumed with its password.
    const resumable = existing?.status === 'pending' && existing.homeTenantId === presented.tenantId;
    let userId: string;
    let created = false;
    if (existing) {
      // Guessing an account's password through invitations costs the same as through sign-in, and is recorded the same way.
      await enforceRateLimit(this.deps.limiter, RATE_LIMITS.signinPerAccount, email);
      if ((existing.status !== 'active' && !resumable) || !(await passwordMatches(existing.passwordHash, input.password))) {
        await this.deps.securityLog.record(
          { tenantId: existing.homeTenantId, actor: { id: 'anonymous', role: 'ANONYMOUS' }, correlationId: client.correlationId },
          { type: 'security.login-failed', data: { email, reason: 'invitation-wrong-password', ip: client.ip } },
        );
        throw unauthenticated('AUTH.INVALID_CREDENTIALS', 'this address already has an account: accept with its password');
      }
      if (invitation.role === 'ADMIN') requireAdminAtHome(existing.homeTenantId, presented.tenantId, email);
      userId = existing.id;
      created = resumable;
      // Another workspace's administrators must not be able to reset this account any more (docs/security.md, "Password reset").
      if (existing.homeTenantId !== presented.tenantId) await this.deps.users.markShared(existing.id, now);
    } else {
      requireAcceptablePassword(input.password, email, 'password');
      userId = newEventId();
      created = await this.deps.users.insertPending({ id: userId, email, passwordHash: await hashPassword(input.password), homeTenantId: presented.tenantId }, now);
      if (!created) throw invitationInvalid();
    }
    try {
      await this.deps.pipeline.handle(workspaceDecider, {
        streamId: streamIdFor('workspace', presented.tenantId),
        command: { type: 'AcceptInvitation', invitationId: presented.id, secretSha256: sha256Hex(presented.secret), userId, email, at: now.toISOString() },
        context: {
          tenantId: presented.tenantId,
          actor: { id: userId, role: invitation.role },
          correlationId: client.correlationId,
          causationId: client.correlationId,
          commandId: newEventId(),
          now: now.toISOString(),
        },
      });
    } catch (error) {
      // The account existed only for this membership: a refused acceptance leaves no account behind.
      if (created && error instanceof DomainError) await this.deps.users.deletePending(userId);
      throw error;
    }
    if (created) await this.deps.users.activate(userId);
    const account = (await this.deps.users.findById(userId))!;
    const session = await this.deps.sessions.start(userId, presented.tenantId, invitation.role, now, account.passwordChangedAt.getTime());
    return { ...session, accountCreated: created };
  }
}
