import { randomBytes } from 'node:crypto';
import type { StateLoader } from '../commands/state-loader';
import { ProoflineError, rejected } from '../errors/proofline-error';
import { sha256Hex } from './tenant-secrets';
import { streamIdFor } from '../commands/stream-id';
import { requireCurrentRole } from '../workspaces/decide-authority';
import type { Role } from '../workspaces/events';
import { workspaceDecider } from '../workspaces/workspace.decider';
import { hashPassword } from './passwords';
import type { Principal } from './principal';
import { enforceRateLimit, RATE_LIMITS } from './rate-limits';
import type { SecurityLog } from './security-log';
import { requireAcceptablePassword, type Client } from './sessions';
import type { RateLimiter } from './state/rate-limiter';
import type { UserRepository } from './user-repository';

const RESET_LIFETIME_MS = 60 * 60_000;

/**
 * Proofline sends no mail: an administrator of the account's home workspace issues a one-time
 * reset token (shown once, valid one hour) and hands it over; the user redeems it with a new
 * password. Existing sessions end at their next refresh.
 */
export class PasswordResets {
  constructor(
    private readonly users: UserRepository,
    private readonly states: StateLoader,
    private readonly limiter: RateLimiter,
    private readonly securityLog: SecurityLog,
  ) {}

  async issue(tenantId: string, userId: string, by: Principal, client: Client): Promise<{ resetToken: string; expiresAt: string }> {
    const { state } = await this.states.loadCurrent(workspaceDecider, streamIdFor('workspace', tenantId));
    if (state.status === 'unregistered') throw rejected.notFound('MEMBER.NOT_FOUND', `user ${userId} is not a member of this workspace`, { userId });
    // Authority from the workspace as it is now, not from the role the caller's token was issued with.
    requireCurrentRole(state, by.actor.id, by.actor.role as Role);
    const member = state.members[userId];
    const account = member && (await this.users.findById(userId));
    if (!member || !account) throw rejected.notFound('MEMBER.NOT_FOUND', `user ${userId} is not a member of this workspace`, { userId });
    if (account.homeTenantId !== tenantId) {
      throw rejected.forbidden('AUTH.RESET_OUTSIDE_HOME_WORKSPACE', 'only administrators of the workspace the account was created in may reset its password', { userId });
    }
    if (account.sharedSince) {
      throw rejected.forbidden(
        'AUTH.RESET_SHARED_ACCOUNT',
        "this account also belongs to other workspaces: a password set here would open those too, so no single workspace's administrators may reset it",
        { userId },
      );
    }
    if (member.role === 'ADMIN' && by.actor.role !== 'ADMIN') throw rejected.forbidden('MEMBER.ADMIN_ROLE_REQUIRED', "only an ADMIN may reset an ADMIN's password", { userId });
    await enforceRateLimit(this.limiter, RATE_LIMITS.passwordResetPerAccount, userId);
    const resetToken = randomBytes(32).toString('base64url');
    const now = new Date();
    const expiresAt = new Date(now.getTime() + RESET_LIFETIME_MS);
    await this.users.savePasswordReset({ tokenSha256: sha256Hex(resetToken), userId, tenantId, expiresAt }, now);
    await this.securityLog.record({ tenantId, actor: by.actor, correlationId: client.correlationId }, { type: 'security.password-reset-issued', data: { userId, expiresAt: expiresAt.toISOString() } });
    return { resetToken, expiresAt: expiresAt.toISOString() };
  }

  async redeem(input: { resetToken: string; newPassword: string }, client: Client): Promise<void> {
    await enforceRateLimit(this.limiter, RATE_LIMITS.passwordResetPerIp, client.ip);
    const tokenSha256 = sha256Hex(input.resetToken);
    const now = new Date();
    const pending = await this.users.findPasswordReset(tokenSha256, now);
    const account = pending && (await this.users.findById(pending.userId));
    if (!pending || !account) throw invalidResetToken();
    requireAcceptablePassword(input.newPassword, account.email, 'newPassword');
    const passwordHash = await hashPassword(input.newPassword);
    // Redeemed only now, after the new password passed the policy: a rejected password leaves the token usable.
    if (!(await this.users.redeemPasswordReset(tokenSha256, now))) throw invalidResetToken();
    await this.users.changePassword(account.id, passwordHash, now);
    await this.securityLog.record({ tenantId: pending.tenantId, actor: { id: account.id, role: 'NONE' }, correlationId: client.correlationId }, { type: 'security.password-changed', data: { userId: account.id, via: 'reset-token' } });
  }
}

function invalidResetToken(): ProoflineError {
  return new ProoflineError('AUTH.RESET_TOKEN_INVALID', 'the reset token is unknown, used or expired', 400, { fields: [{ field: 'resetToken', rule: 'valid-reset-token', message: 'the reset token is unknown, used or expired' }] });
}
