import type { PlanTier, Role, WorkspaceEvent } from './events';

export interface Member {
  readonly email: string;
  readonly role: Role;
  /** When this membership began (ISO 8601); null for a workspace's owner, a member since its registration. */
  readonly since: string | null;
}

export interface ApiKey {
  readonly name: string;
  readonly roles: readonly Role[];
  readonly secretSha256: string;
  readonly revoked: boolean;
  /** The actor that created it (a user id, `api-key:<keyId>` or the system); null for keys from before this was recorded. */
  readonly createdBy: string | null;
}

export interface Invitation {
  readonly email: string;
  readonly role: Role;
  readonly secretSha256: string;
  readonly expiresAt: string;
  readonly invitedBy: string;
  readonly status: 'pending' | 'accepted' | 'revoked';
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
  /** By invitation id, accepted and revoked ones included. */
  readonly invitations: Readonly<Record<string, Invitation>>;
  readonly segregationOfDuties: boolean;
}

export type WorkspaceState = { readonly status: 'unregistered' } | RegisteredWorkspace;

export const initialWorkspaceState: WorkspaceState = { status: 'unregistered' };

export function evolveWorkspace(state: WorkspaceState, event: WorkspaceEvent): WorkspaceState {
  if (event.type === 'workspaces.registered') {
    const { workspaceId, name, planTier, owner } = event.data;
    const members = owner ? { [owner.userId]: { email: owner.email, role: owner.role, since: null } } : {};
    return { status: 'active', workspaceId, name, planTier, members, apiKeys: {}, invitations: {}, segregationOfDuties: true };
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
      return { ...state, members: { ...state.members, [event.data.userId]: { email: event.data.email, role: event.data.role, since: event.data.since } } };
    case 'workspaces.member-role-changed': {
      const member = state.members[event.data.userId];
      return member ? { ...state, members: { ...state.members, [event.data.userId]: { ...member, role: event.data.role } } } : state;
    }
    case 'workspaces.member-removed': {
      const { [event.data.userId]: _removed, ...members } = state.members;
      return { ...state, members };
    }
    case 'workspaces.api-key-created': {
      const { keyId, name, roles, secretSha256, createdBy } = event.data;
      return { ...state, apiKeys: { ...state.apiKeys, [keyId]: { name, roles, secretSha256, revoked: false, createdBy } } };
    }
    case 'workspaces.api-key-revoked': {
      const key = state.apiKeys[event.data.keyId];
      return key ? { ...state, apiKeys: { ...state.apiKeys, [event.data.keyId]: { ...key, revoked: true } } } : state;
    }
    case 'workspaces.member-invited': {
      const { invitationId, email, role, secretSha256, expiresAt, invitedBy } = event.data;
      return { ...state, invitations: { ...state.invitations, [invitationId]: { email, role, secretSha256, expiresAt, invitedBy, status: 'pending' } } };
    }
    case 'workspaces.invitation-accepted':
      return withInvitationStatus(state, event.data.invitationId, 'accepted');
    case 'workspaces.invitation-revoked':
      return withInvitationStatus(state, event.data.invitationId, 'revoked');
    default: {
      const unknownEvent: never = event;
      return unknownEvent;
    }
  }
}

function withInvitationStatus(state: RegisteredWorkspace, invitationId: string, status: Invitation['status']): RegisteredWorkspace {
  const invitation = state.invitations[invitationId];
  return invitation ? { ...state, invitations: { ...state.invitations, [invitationId]: { ...invitation, status } } } : state;
}

/** Members holding a role that can administer the workspace. */
export function administratorCount(state: RegisteredWorkspace): number {
  return Object.values(state.members).filter((member) => member.role === 'ADMIN' || member.role === 'CUSTOMER_ADMIN').length;
}
