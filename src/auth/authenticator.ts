import { streamIdFor } from '../commands/stream-id';
import type { StateLoader } from '../commands/state-loader';
import { apiKeyActorId } from '../workspaces/decide-authority';
import { workspaceDecider } from '../workspaces/workspace.decider';
import { isApiKey, parseApiKey } from './api-keys';
import { secretMatches } from './tenant-secrets';
import { membershipOrLastKnown, sessionPredates } from './membership';
import type { Principal } from './principal';
import type { TokenFamilyStore } from './state/token-family-store';
import type { TokenIssuer } from './tokens';
import { unauthenticated } from './unauthenticated';
import type { UserRepository } from './user-repository';

/** How often a key's last-used time is written: precise enough to spot a dead key, cheap on a hot one. */
const KEY_USE_RESOLUTION_MS = 60_000;

/**
 * Turns an `Authorization: Bearer …` credential into a Principal. Access tokens are checked
 * against their session (a logged-out or reused family ends them at once); API keys against the
 * workspace's current state, so a revoked key stops working on the next request.
 */
export class Authenticator {
  private readonly keyUseWritten = new Map<string, number>();

  constructor(
    private readonly tokens: TokenIssuer,
    private readonly families: TokenFamilyStore,
    private readonly states: StateLoader,
    private readonly users: UserRepository,
  ) {}

  async authenticate(authorization: string | undefined): Promise<Principal> {
    const credential = bearerCredential(authorization);
    return isApiKey(credential) ? this.apiKey(credential) : this.accessToken(credential);
  }

  /**
   * The token proves who the caller is; what they may do comes from the workspace's events now.
   * A removed member's session ends at its first use; a member whose role changed acts under
   * the new role at once, whatever role the token was issued with.
   */
  private async accessToken(token: string): Promise<Principal> {
    const claims = await this.tokens.verifyAccess(token);
    if (!(await this.families.isActive(claims.familyId))) throw unauthenticated('AUTH.SESSION_ENDED', 'the session of this access token has ended (logged out, or its refresh token was reused); sign in again');
    const member = await membershipOrLastKnown(this.states, claims.tenantId, claims.userId);
    // A removed member's session ends here; so does one from before a removal, presented after the member rejoined.
    if (!member || sessionPredates(member, claims.issuedAt)) {
      await this.families.revoke(claims.familyId);
      throw unauthenticated('AUTH.SESSION_ENDED', 'the session has ended: the account is no longer a member of this workspace, or was removed since this session began');
    }
    return { tenantId: claims.tenantId, actor: { id: claims.userId, role: member.role }, roles: [member.role], via: 'access-token', familyId: claims.familyId };
  }

  private async apiKey(credential: string): Promise<Principal> {
    const presented = parseApiKey(credential);
    if (!presented) throw unauthenticated('AUTH.INVALID_API_KEY', 'the API key is malformed');
    const { state } = await this.states.loadCurrent(workspaceDecider, streamIdFor('workspace', presented.tenantId));
    const key = state.status === 'active' ? state.apiKeys[presented.id] : undefined;
    if (!key || key.revoked || !secretMatches(presented.secret, key.secretSha256)) {
      throw unauthenticated('AUTH.INVALID_API_KEY', 'the API key is unknown, revoked, or its workspace is closed');
    }
    await this.noteKeyUse(presented.tenantId, presented.id);
    return { tenantId: presented.tenantId, actor: { id: apiKeyActorId(presented.id), role: key.roles[0] }, roles: key.roles, via: 'api-key' };
  }

  private async noteKeyUse(tenantId: string, keyId: string): Promise<void> {
    const now = Date.now();
    const last = this.keyUseWritten.get(keyId);
    if (last !== undefined && now - last < KEY_USE_RESOLUTION_MS) return;
    this.keyUseWritten.set(keyId, now);
    await this.users.recordApiKeyUse(tenantId, keyId, new Date(now));
  }
}

function bearerCredential(authorization: string | undefined): string {
  if (!authorization) throw unauthenticated('AUTH.UNAUTHENTICATED', 'this endpoint needs a credential: Authorization: Bearer <access token or API key>');
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!match) throw unauthenticated('AUTH.UNAUTHENTICATED', 'the Authorization header must be "Bearer <access token or API key>"');
  return match[1];
}
