import { timingSafeEqual } from 'node:crypto';
import { rejected } from '../errors/proofline-error';
import { couldCreateKey, requireCurrentRole, rolesHeldBy } from './decide-authority';
import { ADMINISTRATIVE_ROLES, type Role, type WorkspaceEvent } from './events';
import { administratorCount, evolveWorkspace, type Invitation, type RegisteredWorkspace } from './state';

/**
 * Who grants: the actor issuing the command (`actorId`: a user id, `api-key:<keyId>`, or the system)
 * and the role it was admitted under. The decider checks that the actor holds that role in the
 * workspace's current state: a token's role claim may be minutes old.
 */
type Grantor = { readonly grantedBy: Role; readonly actorId: string };

/** Recorded directly, by the system only (operators' own accounts); everyone else joins by invitation. `at`: when. */
export type AddMember = { readonly type: 'AddMember'; readonly userId: string; readonly email: string; readonly role: Role; readonly at: string } & Grantor;
export type ChangeMemberRole = { readonly type: 'ChangeMemberRole'; readonly userId: string; readonly role: Role } & Grantor;
export type RemoveMember = { readonly type: 'RemoveMember'; readonly userId: string } & Grantor;
export type CreateApiKey = { readonly type: 'CreateApiKey'; readonly keyId: string; readonly name: string; readonly roles: readonly Role[]; readonly secretSha256: string } & Grantor;
export type RevokeApiKey = { readonly type: 'RevokeApiKey'; readonly keyId: string; readonly reason: string } & Grantor;
export type InviteMember = {
  readonly type: 'InviteMember';
  readonly invitationId: string;
  readonly email: string;
  readonly role: Role;
  readonly secretSha256: string;
  readonly expiresAt: string;
} & Grantor;
export type RevokeInvitation = { readonly type: 'RevokeInvitation'; readonly invitationId: string; readonly reason: string } & Grantor;
/** Sent by the invitee, who proved both the invitation token and the account (or created it). */
export type AcceptInvitation = {
  readonly type: 'AcceptInvitation';
  readonly invitationId: string;
  readonly secretSha256: string;
  readonly userId: string;
  readonly email: string;
  /** When the invitee accepted (ISO 8601, from the command's context). */
  readonly at: string;
};

export type MembershipCommand = AddMember | ChangeMemberRole | RemoveMember | CreateApiKey | RevokeApiKey | InviteMember | RevokeInvitation | AcceptInvitation;

/** Active keys a workspace may hold at once: enough for every machine, few enough to review. */
export const MAX_ACTIVE_API_KEYS = 50;

export function decideMembership(command: MembershipCommand, workspace: RegisteredWorkspace): WorkspaceEvent[] {
  switch (command.type) {
    case 'AddMember':
      return addMember(command, workspace);
    case 'ChangeMemberRole':
      return withDependentRevocations(workspace, changeMemberRole(command, workspace));
    case 'RemoveMember':
      return withDependentRevocations(workspace, removeMember(command, workspace));
    case 'CreateApiKey':
      return createApiKey(command, workspace);
    case 'RevokeApiKey':
      return withDependentRevocations(workspace, revokeApiKey(command, workspace));
    case 'InviteMember':
      return inviteMember(command, workspace);
    case 'RevokeInvitation':
      return revokeInvitation(command, workspace);
    case 'AcceptInvitation':
      return acceptInvitation(command, workspace);
    default: {
      const unknownCommand: never = command;
      return unknownCommand;
    }
  }
}

function addMember(command: AddMember, workspace: RegisteredWorkspace): WorkspaceEvent[] {
  requireAuthority(workspace, command, [command.role]);
  requireNotMember(workspace, command.userId, command.email);
  return [{ type: 'workspaces.member-added', data: { userId: command.userId, email: command.email, role: command.role, since: command.at } }];
}

function changeMemberRole(command: ChangeMemberRole, workspace: RegisteredWorkspace): WorkspaceEvent[] {
  requireAuthority(workspace, command, []);
  const member = requireMember(workspace, command.userId);
  requireAuthority(workspace, command, [command.role, member.role]);
  if (member.role === command.role) return [];
  const after = { ...workspace, members: { ...workspace.members, [command.userId]: { ...member, role: command.role } } };
  requireAnAdministrator(workspace, after);
  return [{ type: 'workspaces.member-role-changed', data: { userId: command.userId, role: command.role, previousRole: member.role } }];
}

function removeMember(command: RemoveMember, workspace: RegisteredWorkspace): WorkspaceEvent[] {
  requireAuthority(workspace, command, []);
  const member = requireMember(workspace, command.userId);
  requireAuthority(workspace, command, [member.role]);
  const { [command.userId]: _removed, ...members } = workspace.members;
  requireAnAdministrator(workspace, { ...workspace, members });
  return [{ type: 'workspaces.member-removed', data: { userId: command.userId, previousRole: member.role } }];
}

function createApiKey(command: CreateApiKey, workspace: RegisteredWorkspace): WorkspaceEvent[] {
  requireAuthority(workspace, command, command.roles);
  if (workspace.apiKeys[command.keyId]) throw rejected.conflict('API_KEY.ALREADY_EXISTS', `API key ${command.keyId} already exists`, { keyId: command.keyId });
  const active = Object.values(workspace.apiKeys).filter((key) => !key.revoked).length;
  if (active >= MAX_ACTIVE_API_KEYS) {
    throw rejected.conflict('API_KEY.LIMIT_REACHED', `a workspace holds at most ${MAX_ACTIVE_API_KEYS} active API keys; it has ${active}: revoke one first`, {
      active,
      limit: MAX_ACTIVE_API_KEYS,
    });
  }
  const { keyId, name, roles, secretSha256 } = command;
  return [{ type: 'workspaces.api-key-created', data: { keyId, name, roles: [...roles], secretSha256, createdBy: command.actorId } }];
}

function revokeApiKey(command: RevokeApiKey, workspace: RegisteredWorkspace): WorkspaceEvent[] {
  requireAuthority(workspace, command, []);
  const key = workspace.apiKeys[command.keyId];
  if (!key) throw rejected.notFound('API_KEY.NOT_FOUND', `no API key ${command.keyId} in this workspace`, { keyId: command.keyId });
  // Revoking a key is managing it: a key carrying ADMIN is an ADMIN's to revoke.
  requireAuthority(workspace, command, key.roles);
  if (key.revoked) return [];
  return [{ type: 'workspaces.api-key-revoked', data: { keyId: command.keyId, reason: command.reason } }];
}

/**
 * A new invitation for an address replaces the ones still pending for it (their tokens stop
 * working): an administrator who lost a token simply invites again.
 */
function inviteMember(command: InviteMember, workspace: RegisteredWorkspace): WorkspaceEvent[] {
  requireAuthority(workspace, command, [command.role]);
  requireNotMember(workspace, undefined, command.email);
  const pending = Object.entries(workspace.invitations).filter(([, invitation]) => invitation.status === 'pending' && invitation.email === command.email);
  // Replacing an invitation is revoking it: an ADMIN invitation is an ADMIN's to replace.
  for (const [, invitation] of pending) requireAuthority(workspace, command, [invitation.role]);
  const superseded = pending
    .map(([invitationId]): WorkspaceEvent => ({ type: 'workspaces.invitation-revoked', data: { invitationId, reason: `superseded by invitation ${command.invitationId}` } }));
  const { invitationId, email, role, secretSha256, expiresAt } = command;
  return [...superseded, { type: 'workspaces.member-invited', data: { invitationId, email, role, secretSha256, expiresAt, invitedBy: command.actorId } }];
}

function revokeInvitation(command: RevokeInvitation, workspace: RegisteredWorkspace): WorkspaceEvent[] {
  requireAuthority(workspace, command, []);
  const invitation = workspace.invitations[command.invitationId];
  if (!invitation) throw rejected.notFound('INVITATION.NOT_FOUND', `no invitation ${command.invitationId} in this workspace`, { invitationId: command.invitationId });
  requireAuthority(workspace, command, [invitation.role]);
  if (invitation.status === 'revoked') return [];
  if (invitation.status === 'accepted') {
    throw rejected.conflict('INVITATION.ALREADY_ACCEPTED', 'this invitation was accepted: remove the member instead', { invitationId: command.invitationId });
  }
  return [{ type: 'workspaces.invitation-revoked', data: { invitationId: command.invitationId, reason: command.reason } }];
}

/**
 * Grants the invited role only while everything that made the invitation valid still holds: it is
 * pending and unexpired, the token and the address are the invitation's, and whoever invited could
 * still grant that role today. Every refusal is the same, so the token's holder learns nothing more.
 */
function acceptInvitation(command: AcceptInvitation, workspace: RegisteredWorkspace): WorkspaceEvent[] {
  const invitation = workspace.invitations[command.invitationId];
  if (!invitation || !invitationHolds(invitation, command, workspace)) throw invitationInvalid();
  requireNotMember(workspace, command.userId, invitation.email);
  return [
    { type: 'workspaces.invitation-accepted', data: { invitationId: command.invitationId, userId: command.userId } },
    { type: 'workspaces.member-added', data: { userId: command.userId, email: invitation.email, role: invitation.role, since: command.at } },
  ];
}

function invitationHolds(invitation: Invitation, command: AcceptInvitation, workspace: RegisteredWorkspace): boolean {
  return invitationStatus(workspace, invitation, Date.parse(command.at)) === 'pending' && sameHex(invitation.secretSha256, command.secretSha256) && invitation.email === command.email;
}

/**
 * An invitation as it stands at `now` (epoch ms): `void` once whoever invited can no longer grant
 * its role (removed, demoted, or a key since revoked), like a key whose creator lost authority.
 */
export function invitationStatus(workspace: RegisteredWorkspace, invitation: Invitation, now: number): Invitation['status'] | 'expired' | 'void' {
  if (invitation.status !== 'pending') return invitation.status;
  if (now >= Date.parse(invitation.expiresAt)) return 'expired';
  return couldGrant(rolesHeldBy(workspace, invitation.invitedBy), invitation.role) ? 'pending' : 'void';
}

export function invitationInvalid() {
  return rejected.unprocessable('INVITATION.INVALID', 'the invitation is unknown, used, revoked or expired, or was not made for this account', {});
}

/**
 * Revocations that follow from a change: a key stays active only while its creator could still
 * create it. Removing or demoting a member, or revoking a key, revokes the keys that actor created
 * beyond its new authority, and so on down the chain, in one atomic append.
 */
function withDependentRevocations(before: RegisteredWorkspace, events: WorkspaceEvent[]): WorkspaceEvent[] {
  const all = [...events];
  let state = events.reduce((current, event) => evolveWorkspace(current, event) as RegisteredWorkspace, before);
  for (;;) {
    const orphaned = Object.entries(state.apiKeys).filter(([, key]) => !key.revoked && key.createdBy !== null && !couldCreateKey(rolesHeldBy(state, key.createdBy), key));
    if (orphaned.length === 0) return all;
    for (const [keyId, key] of orphaned) {
      const event: WorkspaceEvent = { type: 'workspaces.api-key-revoked', data: { keyId, reason: `its creator ${key.createdBy} can no longer create it` } };
      all.push(event);
      state = evolveWorkspace(state, event) as RegisteredWorkspace;
    }
  }
}

function requireMember(workspace: RegisteredWorkspace, userId: string) {
  const member = workspace.members[userId];
  if (!member) throw rejected.notFound('MEMBER.NOT_FOUND', `user ${userId} is not a member of this workspace`, { userId });
  return member;
}

function requireNotMember(workspace: RegisteredWorkspace, userId: string | undefined, email: string): void {
  const byId = userId !== undefined && workspace.members[userId];
  const byEmail = Object.values(workspace.members).some((member) => member.email === email);
  if (byId || byEmail) throw rejected.conflict('MEMBER.ALREADY_MEMBER', `${email} is already a member of this workspace`, userId ? { userId } : { email });
}

/**
 * Only administrators grant anything, and only an ADMIN grants, changes or removes ADMIN; the
 * actor must hold the role it acts under now. Checked before any member lookup, so a
 * non-administrator cannot learn who is a member.
 */
function requireAuthority(workspace: RegisteredWorkspace, grantor: Grantor, touched: readonly Role[]): void {
  requireGrantAuthority(grantor.grantedBy, touched);
  requireCurrentRole(workspace, grantor.actorId, grantor.grantedBy);
}

/** The part of the authority rule that needs no state: used at the edge too, before anything is looked up. */
export function requireGrantAuthority(grantedBy: Role, touched: readonly Role[]): void {
  if (!ADMINISTRATIVE_ROLES.includes(grantedBy)) {
    throw rejected.forbidden('MEMBER.ADMINISTRATOR_REQUIRED', `managing members and keys needs ${ADMINISTRATIVE_ROLES.join(' or ')}, not ${grantedBy}`, { role: grantedBy });
  }
  if (touched.includes('ADMIN') && grantedBy !== 'ADMIN') {
    throw rejected.forbidden('MEMBER.ADMIN_ROLE_REQUIRED', 'only an ADMIN may grant, change or remove the ADMIN role', { role: grantedBy });
  }
}

function couldGrant(held: readonly Role[] | 'system', role: Role): boolean {
  return couldCreateKey(held, { roles: [role] });
}

function sameHex(expected: string, actual: string): boolean {
  const a = Buffer.from(expected, 'hex');
  const b = Buffer.from(actual, 'hex');
  return a.length === b.length && a.length > 0 && timingSafeEqual(a, b);
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
