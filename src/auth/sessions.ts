import { newEventId } from '../../contracts';
import type { CommandPipeline } from '../commands/command-pipeline';
import { streamIdFor } from '../commands/stream-id';
import type { StateLoader } from '../commands/state-loader';
import { ProoflineError } from '../errors/proofline-error';
import type { PlanTier, Role } from '../workspaces/events';
import { workspaceDecider } from '../workspaces/workspace.decider';
import { membershipOf, sessionPredates } from './membership';
import { hashPassword, passwordMatches, passwordProblem, unknownAccountHash } from './passwords';
import type { Principal } from './principal';
import { enforceRateLimit, RATE_LIMITS } from './rate-limits';
import { SYSTEM_TENANT_ID, type SecurityLog } from './security-log';
import type { RateLimiter } from './state/rate-limiter';
import type { TokenFamilyStore } from './state/token-family-store';
import type { TokenIssuer } from './tokens';
import { unauthenticated } from './unauthenticated';
import { normalizeEmail, type UserRepository } from './user-repository';

/** Where a request came from: per-IP limits and security events name it. */
export interface Client {
  readonly ip: string;
  readonly correlationId: string;
}

export interface SessionTokens {
  readonly tokenType: 'Bearer';
  readonly accessToken: string;
  readonly refreshToken: string;
  /** Seconds until the access token expires. */
  readonly expiresIn: number;
  readonly refreshExpiresAt: string;
  readonly userId: string;
  readonly tenantId: string;
  readonly role: Role;
}

export interface SessionDependencies {
  readonly users: UserRepository;
  readonly tokens: TokenIssuer;
  readonly families: TokenFamilyStore;
  readonly limiter: RateLimiter;
  readonly securityLog: SecurityLog;
  readonly pipeline: CommandPipeline;
  readonly states: StateLoader;
}

/** Sign-up, sign-in, refresh with rotation and reuse detection, sign-out (docs/security.md, "Tokens"). */
export class Sessions {
  constructor(private readonly deps: SessionDependencies) {}

  /**
   * A new account and its own workspace, the account its CUSTOMER_ADMIN. The account is claimed
   * first (pending), then the workspace recorded under an idempotency key derived from the
   * account, then the account activated: a sign-up cut off half-way is resumed by repeating it.
   */
  async register(input: { email: string; password: string; workspaceName: string; planTier: PlanTier }, client: Client): Promise<SessionTokens & { workspaceId: string }> {
    await enforceRateLimit(this.deps.limiter, RATE_LIMITS.signupPerIp, client.ip);
    requireAcceptablePassword(input.password, input.email, 'password');
    const now = new Date();
    const passwordHash = await hashPassword(input.password);
    let account = { id: newEventId(), homeTenantId: newEventId() };
    if (!(await this.deps.users.insertPending({ ...account, email: input.email, passwordHash }, now))) {
      const existing = await this.deps.users.findByEmail(input.email);
      const resumable = existing?.status === 'pending' && (await passwordMatches(existing.passwordHash, input.password));
      if (!existing || !resumable) throw new ProoflineError('AUTH.EMAIL_TAKEN', 'an account with this e-mail address already exists; sign in instead', 409, { field: 'email' });
      account = existing;
    }
    const email = normalizeEmail(input.email);
    await this.deps.pipeline.handle(workspaceDecider, {
      streamId: streamIdFor('workspace', account.homeTenantId),
      command: { type: 'RegisterWorkspace', workspaceId: account.homeTenantId, name: input.workspaceName, planTier: input.planTier, owner: { userId: account.id, email, role: 'CUSTOMER_ADMIN' } },
      context: {
        tenantId: account.homeTenantId,
        actor: { id: account.id, role: 'CUSTOMER_ADMIN' },
        correlationId: client.correlationId,
        causationId: client.correlationId,
        commandId: newEventId(),
        now: now.toISOString(),
        idempotency: { key: `sign-up:${account.id}`, requestHash: 'sign-up', scope: `user:${account.id}` },
      },
    });
    await this.deps.users.activate(account.id);
    const passwordVersion = (await this.deps.users.findById(account.id))!.passwordChangedAt.getTime();
    return { ...(await this.start(account.id, account.homeTenantId, 'CUSTOMER_ADMIN', now, passwordVersion)), workspaceId: account.homeTenantId };
  }

  /**
   * Every failure answers the same 401, whatever failed, so the answer does not say which
   * addresses have accounts; the security event records the real reason.
   */
  async login(input: { email: string; password: string; tenantId?: string }, client: Client): Promise<SessionTokens> {
    const email = normalizeEmail(input.email);
    await enforceRateLimit(this.deps.limiter, RATE_LIMITS.signinPerIp, client.ip);
    await enforceRateLimit(this.deps.limiter, RATE_LIMITS.signinPerAccount, email);
    const account = await this.deps.users.findByEmail(email);
    if (!account) {
      await passwordMatches(await unknownAccountHash(), input.password);
      return this.refuseLogin(SYSTEM_TENANT_ID, email, 'unknown-account', client);
    }
    if (!(await passwordMatches(account.passwordHash, input.password))) return this.refuseLogin(account.homeTenantId, email, 'wrong-password', client);
    if (account.status !== 'active') return this.refuseLogin(account.homeTenantId, email, 'account-pending', client);
    const tenantId = input.tenantId ?? account.homeTenantId;
    const member = await membershipOf(this.deps.states, tenantId, account.id);
    if (!member) return this.refuseLogin(account.homeTenantId, email, 'not-a-member', client);
    return this.start(account.id, tenantId, member.role, new Date(), account.passwordChangedAt.getTime());
  }

  /**
   * Rotates the refresh token. Presenting one that was already rotated away means two parties
   * hold the session: the whole family is revoked and the reuse recorded.
   */
  async refresh(refreshToken: string, client: Client): Promise<SessionTokens> {
    const claims = await this.deps.tokens.verifyRefresh(refreshToken);
    const nextTokenId = newEventId();
    const outcome = await this.deps.families.rotate(claims.familyId, claims.tokenId, nextTokenId);
    if (outcome.kind === 'reused') {
      const member = await membershipOf(this.deps.states, claims.tenantId, claims.userId);
      await this.deps.securityLog.record(
        { tenantId: claims.tenantId, actor: { id: claims.userId, role: member?.role ?? 'NONE' }, correlationId: client.correlationId },
        { type: 'security.token-reuse-detected', data: { userId: claims.userId, familyId: claims.familyId, ip: client.ip } },
      );
      throw unauthenticated('AUTH.REFRESH_TOKEN_REUSED', 'this refresh token was already used: the whole session is revoked; sign in again');
    }
    if (outcome.kind !== 'rotated') throw sessionEnded('it was logged out, revoked or has expired');
    const account = await this.deps.users.findById(claims.userId);
    const member = await membershipOf(this.deps.states, claims.tenantId, claims.userId);
    const reason = !account
      ? 'the account no longer exists'
      : account.passwordChangedAt.getTime() !== claims.passwordVersion
        ? 'the password was changed since sign-in'
        : !member
          ? 'the account is no longer a member of this workspace'
          : sessionPredates(member, claims.authTime)
            ? 'the account was removed from this workspace since this session began'
            : undefined;
    if (reason || !member) {
      await this.deps.families.revoke(claims.familyId);
      throw sessionEnded(reason ?? 'the account is no longer a member of this workspace');
    }
    const now = new Date();
    const access = await this.deps.tokens.issueAccess({ userId: claims.userId, tenantId: claims.tenantId, role: member.role, familyId: claims.familyId }, now);
    // The session keeps the expiry it was signed in with: rotation renews the token, not the session.
    const refreshed = await this.deps.tokens.issueRefresh(
      { userId: claims.userId, tenantId: claims.tenantId, familyId: claims.familyId, tokenId: nextTokenId, authTime: claims.authTime, passwordVersion: claims.passwordVersion },
      claims.expiresAt,
    );
    return this.tokensOf(access, refreshed, claims.expiresAt, claims.userId, claims.tenantId, member.role, now);
  }

  /** Ends the caller's session: its access and refresh tokens stop working at once. */
  async logout(principal: Principal): Promise<void> {
    if (!principal.familyId) throw new ProoflineError('AUTH.NOT_A_SESSION', 'an API key has no session to end; revoke it at POST /workspaces/{workspaceId}/api-keys/{keyId}/revoke', 409);
    await this.deps.families.revoke(principal.familyId);
  }

  /**
   * A session for a user whose right to it was just established (sign-up, sign-in).
   * `passwordVersion` is the account's password-change time (epoch ms) the session is bound to.
   */
  async start(userId: string, tenantId: string, role: Role, now: Date, passwordVersion = 0): Promise<SessionTokens> {
    const familyId = newEventId();
    const tokenId = newEventId();
    const expiresAt = Math.floor(now.getTime() / 1000) + this.deps.tokens.lifetimes.refreshSeconds;
    await this.deps.families.create({ familyId, userId, tenantId, currentTokenId: tokenId, expiresAt: expiresAt * 1000 });
    const access = await this.deps.tokens.issueAccess({ userId, tenantId, role, familyId }, now);
    const refresh = await this.deps.tokens.issueRefresh({ userId, tenantId, familyId, tokenId, authTime: Math.floor(now.getTime() / 1000), passwordVersion }, expiresAt);
    return this.tokensOf(access, refresh, expiresAt, userId, tenantId, role, now);
  }

  private tokensOf(access: { token: string; expiresAt: Date }, refreshToken: string, refreshExpiresAt: number, userId: string, tenantId: string, role: Role, now: Date): SessionTokens {
    return {
      tokenType: 'Bearer',
      accessToken: access.token,
      refreshToken,
      expiresIn: Math.round((access.expiresAt.getTime() - now.getTime()) / 1000),
      refreshExpiresAt: new Date(refreshExpiresAt * 1000).toISOString(),
      userId,
      tenantId,
      role,
    };
  }

  private async refuseLogin(tenantId: string, email: string, reason: 'unknown-account' | 'wrong-password' | 'not-a-member' | 'account-pending', client: Client): Promise<never> {
    await this.deps.securityLog.record({ tenantId, actor: { id: 'anonymous', role: 'ANONYMOUS' }, correlationId: client.correlationId }, { type: 'security.login-failed', data: { email, reason, ip: client.ip } });
    throw unauthenticated('AUTH.INVALID_CREDENTIALS', 'the e-mail address or password is wrong, or the account is not a member of that workspace');
  }
}

/** A 400 naming the field and the password rule it breaks. */
export function requireAcceptablePassword(password: string, email: string, field: string): void {
  const problem = passwordProblem(password, email);
  if (problem) throw new ProoflineError('REQUEST.INVALID', problem.message, 400, { fields: [{ field, rule: problem.rule, message: problem.message }] });
}

function sessionEnded(why: string): ProoflineError {
  return unauthenticated('AUTH.SESSION_ENDED', `the session has ended: ${why}; sign in again`);
}
