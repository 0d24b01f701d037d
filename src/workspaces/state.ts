import type { PlanTier, Role, WorkspaceEvent } from './events';

export interface Member {
  readonly email: string;
  readonly role: Role;
}

export interface ApiKey {
  readonly name: string;
  readonly roles: readonly Role[];
  readonly secretSha256: string;
  readonly revoked: boolean;
}

export interface RegisteredWorkspace {
  readonly status: 'active' | 'closed';
  readonly workspaceId: string;
  readonly name: string;
  readonly planTier: PlanTier;
  /** By user id. */
  readonly members: Readonly<Record<string, Member>>;
  /** By key id, revoked ones included (a revoked key id is never reused). */
  readonly apiKeys: Readonly<Record<string, ApiKey>>;
  readonly segregationOfDuties: boolean;
}

export type WorkspaceState = { readonly status: 'unregistered' } | RegisteredWorkspace;

export const initialWorkspaceState: WorkspaceState = { status: 'unregistered' };

export function evolveWorkspace(state: WorkspaceState, event: WorkspaceEvent): WorkspaceState {
  if (event.type === 'workspaces.registered') {
    const { workspaceId, name, planTier, owner } = event.data;
    const members = owner ? { [owner.userId]: { email: owner.email, role: owner.role } } : {};
    return { status: 'active', workspaceId, name, planTier, members, apiKeys: {}, segregationOfDuties: true };
  }
  if (state.status === 'unregistered') return state;
  switch (event.type) {
    case 'workspaces.renamed':
      return { ...state, name: event.data.name };
    case 'workspaces.plan-changed':
      return { ...state, planTier: event.data.planTier };
    case 'workspaces.closed':
      return { ...state, status: 'closed' };
    case 'workspaces.approval-policy-set':
      return { ...state, segregationOfDuties: event.data.segregationOfDuties };
    case 'workspaces.member-added':
      return { ...state, members: { ...state.members, [event.data.userId]: { email: event.data.email, role: event.data.role } } };
    case 'workspaces.member-role-changed': {
      const member = state.members[event.data.userId];
      return member ? { ...state, members: { ...state.members, [event.data.userId]: { ...member, role: event.data.role } } } : state;
    }
    case 'workspaces.member-removed': {
      const { [event.data.userId]: _removed, ...members } = state.members;
      return { ...state, members };
    }
    case 'workspaces.api-key-created': {
      const { keyId, name, roles, secretSha256 } = event.data;
      return { ...state, apiKeys: { ...state.apiKeys, [keyId]: { name, roles, secretSha256, revoked: false } } };
    }
    case 'workspaces.api-key-revoked': {
      const key = state.apiKeys[event.data.keyId];
      return key ? { ...state, apiKeys: { ...state.apiKeys, [event.data.keyId]: { ...key, revoked: true } } } : state;
    }
    default: {
      const unknownEvent: never = event;
      return unknownEvent;
    }
  }
}

/** Members holding a role that can administer the workspace. */
export function administratorCount(state: RegisteredWorkspace): number {
  return Object.values(state.members).filter((member) => member.role === 'ADMIN' || member.role === 'CUSTOMER_ADMIN').length;
}
