import { rejected } from '../errors/proofline-error';
import { ADMINISTRATIVE_ROLES, type Role, type WorkspaceEvent } from './events';
import { administratorCount, type RegisteredWorkspace } from './state';

/** Who grants: the role of the member or key issuing the command, decided by the credential at the edge. */
type Grantor = { readonly grantedBy: Role };

export type AddMember = { readonly type: 'AddMember'; readonly userId: string; readonly email: string; readonly role: Role } & Grantor;
export type ChangeMemberRole = { readonly type: 'ChangeMemberRole'; readonly userId: string; readonly role: Role } & Grantor;
export type RemoveMember = { readonly type: 'RemoveMember'; readonly userId: string } & Grantor;
export type CreateApiKey = { readonly type: 'CreateApiKey'; readonly keyId: string; readonly name: string; readonly roles: readonly Role[]; readonly secretSha256: string } & Grantor;
export type RevokeApiKey = { readonly type: 'RevokeApiKey'; readonly keyId: string; readonly reason: string } & Grantor;

export type MembershipCommand = AddMember | ChangeMemberRole | RemoveMember | CreateApiKey | RevokeApiKey;

/** Active keys a workspace may hold at once: enough for every machine, few enough to review. */
export const MAX_ACTIVE_API_KEYS = 50;

export function decideMembership(command: MembershipCommand, workspace: RegisteredWorkspace): WorkspaceEvent[] {
  switch (command.type) {
    case 'AddMember':
      return addMember(command, workspace);
    case 'ChangeMemberRole':
      return changeMemberRole(command, workspace);
    case 'RemoveMember':
      return removeMember(command, workspace);
    case 'CreateApiKey':
      return createApiKey(command, workspace);
    case 'RevokeApiKey':
      return revokeApiKey(command, workspace);
    default: {
      const unknownCommand: never = command;
      return unknownCommand;
    }
  }
}

function addMember(command: AddMember, workspace: RegisteredWorkspace): WorkspaceEvent[] {
  requireAuthority(command.grantedBy, [command.role]);
  if (workspace.members[command.userId]) {
    throw rejected.conflict('MEMBER.ALREADY_MEMBER', `${command.email} is already a member of this workspace`, { userId: command.userId });
  }
  return [{ type: 'workspaces.member-added', data: { userId: command.userId, email: command.email, role: command.role } }];
}

function changeMemberRole(command: ChangeMemberRole, workspace: RegisteredWorkspace): WorkspaceEvent[] {
  requireAuthority(command.grantedBy, []);
  const member = requireMember(workspace, command.userId);
  requireAuthority(command.grantedBy, [command.role, member.role]);
  if (member.role === command.role) return [];
  const after = { ...workspace, members: { ...workspace.members, [command.userId]: { ...member, role: command.role } } };
  requireAnAdministrator(workspace, after);
  return [{ type: 'workspaces.member-role-changed', data: { userId: command.userId, role: command.role, previousRole: member.role } }];
}

function removeMember(command: RemoveMember, workspace: RegisteredWorkspace): WorkspaceEvent[] {
  requireAuthority(command.grantedBy, []);
  const member = requireMember(workspace, command.userId);
  requireAuthority(command.grantedBy, [member.role]);
  const { [command.userId]: _removed, ...members } = workspace.members;
  requireAnAdministrator(workspace, { ...workspace, members });
  return [{ type: 'workspaces.member-removed', data: { userId: command.userId, previousRole: member.role } }];
}

function createApiKey(command: CreateApiKey, workspace: RegisteredWorkspace): WorkspaceEvent[] {
  requireAuthority(command.grantedBy, command.roles);
  if (workspace.apiKeys[command.keyId]) throw rejected.conflict('API_KEY.ALREADY_EXISTS', `API key ${command.keyId} already exists`, { keyId: command.keyId });
  const active = Object.values(workspace.apiKeys).filter((key) => !key.revoked).length;
  if (active >= MAX_ACTIVE_API_KEYS) {
    throw rejected.conflict('API_KEY.LIMIT_REACHED', `a workspace holds at most ${MAX_ACTIVE_API_KEYS} active API keys; it has ${active}: revoke one first`, {
      active,
      limit: MAX_ACTIVE_API_KEYS,
    });
  }
  const { keyId, name, roles, secretSha256 } = command;
  return [{ type: 'workspaces.api-key-created', data: { keyId, name, roles: [...roles], secretSha256 } }];
}

function revokeApiKey(command: RevokeApiKey, workspace: RegisteredWorkspace): WorkspaceEvent[] {
  requireAuthority(command.grantedBy, []);
  const key = workspace.apiKeys[command.keyId];
  if (!key) throw rejected.notFound('API_KEY.NOT_FOUND', `no API key ${command.keyId} in this workspace`, { keyId: command.keyId });
  // Revoking a key is managing it: a key carrying ADMIN is an ADMIN's to revoke.
  requireAuthority(command.grantedBy, key.roles);
  if (key.revoked) return [];
  return [{ type: 'workspaces.api-key-revoked', data: { keyId: command.keyId, reason: command.reason } }];
}

function requireMember(workspace: RegisteredWorkspace, userId: string) {
  const member = workspace.members[userId];
  if (!member) throw rejected.notFound('MEMBER.NOT_FOUND', `user ${userId} is not a member of this workspace`, { userId });
  return member;
}

/**
 * Only administrators grant anything, and only an ADMIN grants, changes or removes ADMIN.
 * Checked before any member lookup, so a non-administrator cannot learn who is a member.
 */
function requireAuthority(grantedBy: Role, touched: readonly Role[]): void {
  if (!ADMINISTRATIVE_ROLES.includes(grantedBy)) {
    throw rejected.forbidden('MEMBER.ADMINISTRATOR_REQUIRED', `managing members and keys needs ${ADMINISTRATIVE_ROLES.join(' or ')}, not ${grantedBy}`, { role: grantedBy });
  }
  if (touched.includes('ADMIN') && grantedBy !== 'ADMIN') {
    throw rejected.forbidden('MEMBER.ADMIN_ROLE_REQUIRED', 'only an ADMIN may grant, change or remove the ADMIN role', { role: grantedBy });
  }
}

/**
 * Refuses a change that takes the last administrator away. A workspace registered before
 * owners were recorded may have none to begin with; changes that remove none stay allowed there.
 */
function requireAnAdministrator(before: RegisteredWorkspace, after: RegisteredWorkspace): void {
  if (administratorCount(before) > 0 && administratorCount(after) === 0) {
    throw rejected.conflict('MEMBER.LAST_ADMINISTRATOR', `a workspace must keep at least one ${ADMINISTRATIVE_ROLES.join(' or ')}`, {});
  }
}
