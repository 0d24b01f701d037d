import { rejected } from '../errors/proofline-error';
import { ADMINISTRATIVE_ROLES, type Role } from './events';
import type { ApiKey, RegisteredWorkspace } from './state';

/**
 * The actor of what Proofline does by itself (first start, demo accounts, `proofline admin create`):
 * an operator's action, never a request's. User ids are UUIDs and API-key actors are
 * `api-key:<uuid>`, so no credential can name it.
 */
export const SYSTEM_ACTOR_ID = 'proofline-bootstrap';

const API_KEY_ACTOR = 'api-key:';

export function apiKeyActorId(keyId: string): string {
  return `${API_KEY_ACTOR}${keyId}`;
}

/**
 * The roles an actor holds in the workspace **now**, from its events: a member's role, an active
 * key's roles, nothing for anyone else. Authority for every decision comes from here, never from
 * a token's claim, which may be minutes old.
 */
export function rolesHeldBy(workspace: RegisteredWorkspace, actorId: string): readonly Role[] | 'system' {
  if (actorId === SYSTEM_ACTOR_ID) return 'system';
  if (actorId.startsWith(API_KEY_ACTOR)) {
    const key = workspace.apiKeys[actorId.slice(API_KEY_ACTOR.length)];
    return key && !key.revoked ? key.roles : [];
  }
  const member = workspace.members[actorId];
  return member ? [member.role] : [];
}

/** Refuses an actor acting under a role it no longer holds (removed, demoted, or its key revoked). */
export function requireCurrentRole(workspace: RegisteredWorkspace, actorId: string, role: Role): void {
  const held = rolesHeldBy(workspace, actorId);
  if (held === 'system' || held.includes(role)) return;
  const now = held.length === 0 ? 'no role' : held.join(', ');
  throw rejected.forbidden('AUTH.AUTHORITY_CHANGED', `you acted as ${role}, but your role in this workspace is now ${now}; sign in again`, { role, currentRoles: [...held] });
}

/**
 * Whether the roles `held` could create a key carrying `keyRoles` today: administrators only, and
 * ADMIN only for an ADMIN. A key stays active only while its creator could still create it.
 */
export function couldCreateKey(held: readonly Role[] | 'system', key: Pick<ApiKey, 'roles'>): boolean {
  if (held === 'system') return true;
  if (held.includes('ADMIN')) return true;
  return held.some((role) => ADMINISTRATIVE_ROLES.includes(role)) && !key.roles.includes('ADMIN');
}
