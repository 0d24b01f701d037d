import fc from 'fast-check';
import { DomainError } from '../../../src/errors/proofline-error';
import type { RegisterWorkspace, WorkspaceCommand } from '../../../src/workspaces/decide';
import { MAX_ACTIVE_API_KEYS, type MembershipCommand } from '../../../src/workspaces/decide-members';
import { ADMINISTRATIVE_ROLES, ROLES, type Role, type WorkspaceEvent } from '../../../src/workspaces/events';
import { administratorCount, type RegisteredWorkspace, type WorkspaceState } from '../../../src/workspaces/state';
import { workspaceDecider } from '../../../src/workspaces/workspace.decider';
import { apiKeyActorId, couldCreateKey, rolesHeldBy, SYSTEM_ACTOR_ID } from '../../../src/workspaces/decide-authority';
import { decide, givenWhenThen } from '../../support/given-when-then';
import { deepFreeze } from '../../support/deep-freeze';

const { given } = givenWhenThen(workspaceDecider);

type Owner = RegisterWorkspace['owner'];
const SECRET = 'ab'.repeat(32);

// Events
const registered = (owner: Owner | null): WorkspaceEvent => ({
  type: 'workspaces.registered',
  data: { workspaceId: 'ws-1', name: 'Acme', planTier: 'FREE', owner: owner && { ...owner } },
});
const AT = '2029-05-01T00:00:00.000Z';
const memberAdded = (userId: string, role: Role, email = `${userId}@acme.test`): WorkspaceEvent => ({ type: 'workspaces.member-added', data: { userId, email, role, since: AT } });
const roleChanged = (userId: string, role: Role, previousRole: Role): WorkspaceEvent => ({ type: 'workspaces.member-role-changed', data: { userId, role, previousRole } });
const memberRemoved = (userId: string, previousRole: Role): WorkspaceEvent => ({ type: 'workspaces.member-removed', data: { userId, previousRole } });
const keyCreated = (keyId: string, roles: Role[] = ['TECHNICAL'], name = `key ${keyId}`, createdBy: string | null = SYSTEM_ACTOR_ID): WorkspaceEvent => ({
  type: 'workspaces.api-key-created',
  data: { keyId, name, roles, secretSha256: SECRET, createdBy },
});
const keyRevoked = (keyId: string, reason = 'rotated'): WorkspaceEvent => ({ type: 'workspaces.api-key-revoked', data: { keyId, reason } });
const closed = (): WorkspaceEvent => ({ type: 'workspaces.closed', data: { reason: 'bye' } });

// Commands. By default the actor is the system, which holds whatever role it acts under: these
// scenarios are about what a role may do. The ones about who holds a role name a member.
const addMember = (grantedBy: Role, userId: string, role: Role, email = `${userId}@acme.test`, actorId = SYSTEM_ACTOR_ID): MembershipCommand => ({ type: 'AddMember', userId, email, role, at: AT, grantedBy, actorId });
const changeRole = (grantedBy: Role, userId: string, role: Role, actorId = SYSTEM_ACTOR_ID): MembershipCommand => ({ type: 'ChangeMemberRole', userId, role, grantedBy, actorId });
const removeMember = (grantedBy: Role, userId: string, actorId = SYSTEM_ACTOR_ID): MembershipCommand => ({ type: 'RemoveMember', userId, grantedBy, actorId });
const createKey = (grantedBy: Role, keyId: string, roles: Role[] = ['TECHNICAL'], name = `key ${keyId}`, actorId = SYSTEM_ACTOR_ID): MembershipCommand => ({
  type: 'CreateApiKey',
  keyId,
  name,
  roles,
  secretSha256: SECRET,
  grantedBy,
  actorId,
});
const revokeKey = (keyId: string, reason = 'rotated', grantedBy: Role = 'CUSTOMER_ADMIN', actorId = SYSTEM_ACTOR_ID): MembershipCommand => ({ type: 'RevokeApiKey', keyId, reason, grantedBy, actorId });

const NOT_FOUND = { code: 'WORKSPACE.NOT_FOUND', status: 404 } as const;
const CLOSED = { code: 'WORKSPACE.CLOSED', status: 409 } as const;
const ADMINISTRATOR_REQUIRED = { code: 'MEMBER.ADMINISTRATOR_REQUIRED', status: 403 } as const;
const ADMIN_ROLE_REQUIRED = { code: 'MEMBER.ADMIN_ROLE_REQUIRED', status: 403 } as const;
const ALREADY_MEMBER = { code: 'MEMBER.ALREADY_MEMBER', status: 409 } as const;
const MEMBER_NOT_FOUND = { code: 'MEMBER.NOT_FOUND', status: 404 } as const;
const LAST_ADMINISTRATOR = { code: 'MEMBER.LAST_ADMINISTRATOR', status: 409 } as const;
const KEY_EXISTS = { code: 'API_KEY.ALREADY_EXISTS', status: 409 } as const;
const KEY_LIMIT = { code: 'API_KEY.LIMIT_REACHED', status: 409 } as const;
const KEY_NOT_FOUND = { code: 'API_KEY.NOT_FOUND', status: 404 } as const;
const AUTHORITY_CHANGED = { code: 'AUTH.AUTHORITY_CHANGED', status: 403 } as const;

const OWNER: Owner = { userId: 'u-owner', email: 'u-owner@acme.test', role: 'CUSTOMER_ADMIN' };
const OPERATOR: Owner = { userId: 'u-op', email: 'u-op@acme.test', role: 'ADMIN' };

const keys = (count: number, from = 0): WorkspaceEvent[] => Array.from({ length: count }, (_, i) => keyCreated(`k-${from + i}`));

const histories = {
  unregistered: [] as WorkspaceEvent[],
  /** Owner u-owner, CUSTOMER_ADMIN, alone. */
  'active (owner only)': [registered(OWNER)],
  /** Owner u-op, ADMIN, alone. */
  'active (ADMIN owner only)': [registered(OPERATOR)],
  /** u-owner CUSTOMER_ADMIN, u-op ADMIN, u-fin FINANCE, u-tech TECHNICAL, u-aud AUDITOR; key k-1 active, k-2 revoked. */
  'active with several members': [
    registered(OWNER),
    memberAdded('u-op', 'ADMIN'),
    memberAdded('u-fin', 'FINANCE'),
    memberAdded('u-tech', 'TECHNICAL'),
    memberAdded('u-aud', 'AUDITOR'),
    keyCreated('k-1', ['TECHNICAL']),
    keyCreated('k-2', ['FINANCE', 'AUDITOR']),
    keyRevoked('k-2'),
  ],
  /** The ADMIN left and the second CUSTOMER_ADMIN was demoted: u-owner is the last administrator again. */
  'active, administrators came and went': [
    registered(OWNER),
    memberAdded('u-op', 'ADMIN'),
    memberAdded('u-ca2', 'CUSTOMER_ADMIN'),
    memberAdded('u-fin', 'FINANCE'),
    memberRemoved('u-op', 'ADMIN'),
    roleChanged('u-ca2', 'AUDITOR', 'CUSTOMER_ADMIN'),
  ],
  [`active with ${MAX_ACTIVE_API_KEYS} active keys`]: [registered(OWNER), ...keys(MAX_ACTIVE_API_KEYS)],
  [`active with ${MAX_ACTIVE_API_KEYS} active keys and one revoked`]: [registered(OWNER), ...keys(MAX_ACTIVE_API_KEYS + 1), keyRevoked('k-0')],
  [`active with ${MAX_ACTIVE_API_KEYS - 1} active keys and one revoked`]: [registered(OWNER), ...keys(MAX_ACTIVE_API_KEYS), keyRevoked('k-0')],
  /** Registered before owners were recorded (v1, owner null): no administrator to begin with, u-fin FINANCE added by an operator. */
  'active, registered before owners were recorded': [registered(null), memberAdded('u-fin', 'FINANCE')],
  /** The owner alone, and a key carrying ADMIN that an operator created. */
  'active with an ADMIN key': [registered(OWNER), keyCreated('k-admin', ['ADMIN'])],
  /** Closed with u-fin a member, k-1 active and k-2 revoked. */
  closed: [registered(OWNER), memberAdded('u-fin', 'FINANCE'), keyCreated('k-1'), keyCreated('k-2'), keyRevoked('k-2'), closed()],
};
type History = keyof typeof histories;

type Expected = readonly WorkspaceEvent[] | { readonly code: string; readonly status: number };

interface Scenario {
  readonly given: History;
  readonly when: string;
  readonly command: MembershipCommand;
  readonly then: Expected;
}

const scenario = (history: History, when: string, command: MembershipCommand, then: Expected): Scenario => ({ given: history, when, command, then });

const scenarios: Scenario[] = [
  // a workspace without administrators (from before owners were recorded) is not frozen: only changes that remove an administrator are refused
  scenario('active, registered before owners were recorded', 'ADMIN adds a CUSTOMER_ADMIN', addMember('ADMIN', 'u-ca', 'CUSTOMER_ADMIN'), [memberAdded('u-ca', 'CUSTOMER_ADMIN')]),
  scenario('active, registered before owners were recorded', 'ADMIN changes a FINANCE to AUDITOR', changeRole('ADMIN', 'u-fin', 'AUDITOR'), [roleChanged('u-fin', 'AUDITOR', 'FINANCE')]),
  scenario('active, registered before owners were recorded', 'ADMIN removes the FINANCE', removeMember('ADMIN', 'u-fin'), [memberRemoved('u-fin', 'FINANCE')]),
  scenario('active, registered before owners were recorded', 'ADMIN creates an API key', createKey('ADMIN', 'k-1'), [keyCreated('k-1')]),
  scenario('active, registered before owners were recorded', 'someone revokes an unknown key', revokeKey('k-9'), KEY_NOT_FOUND),
  // revoking is managing: administrators only, and a key carrying ADMIN is an ADMIN's to revoke
  scenario('active with several members', 'FINANCE revokes a key', revokeKey('k-1', 'rotated', 'FINANCE'), ADMINISTRATOR_REQUIRED),
  scenario('active with an ADMIN key', 'CUSTOMER_ADMIN revokes the ADMIN key', revokeKey('k-admin', 'rotated', 'CUSTOMER_ADMIN'), ADMIN_ROLE_REQUIRED),
  scenario('active with an ADMIN key', 'ADMIN revokes the ADMIN key', revokeKey('k-admin', 'rotated', 'ADMIN'), [keyRevoked('k-admin')]),
  scenario('active with an ADMIN key', 'ADMIN adds a member', addMember('ADMIN', 'u-new', 'AUDITOR'), [memberAdded('u-new', 'AUDITOR')]),
  scenario('active with an ADMIN key', 'ADMIN changes the owner to ADMIN', changeRole('ADMIN', 'u-owner', 'ADMIN'), [roleChanged('u-owner', 'ADMIN', 'CUSTOMER_ADMIN')]),
  scenario('active with an ADMIN key', 'CUSTOMER_ADMIN removes the owner (the last administrator)', removeMember('CUSTOMER_ADMIN', 'u-owner'), LAST_ADMINISTRATOR),
  scenario('active with an ADMIN key', 'CUSTOMER_ADMIN creates a key', createKey('CUSTOMER_ADMIN', 'k-2'), [keyCreated('k-2')]),
  // authority is checked before the member is looked up: a non-administrator learns nothing about who is a member
  scenario('active with several members', 'FINANCE changes an unknown member', changeRole('FINANCE', 'u-nobody', 'AUDITOR'), ADMINISTRATOR_REQUIRED),
  scenario('active with several members', 'FINANCE removes an unknown member', removeMember('FINANCE', 'u-nobody'), ADMINISTRATOR_REQUIRED),
  // unregistered: there is nothing to manage, whoever asks
  scenario('unregistered', 'ADMIN adds a member', addMember('ADMIN', 'u-1', 'FINANCE'), NOT_FOUND),
  scenario('unregistered', 'FINANCE adds a member', addMember('FINANCE', 'u-1', 'FINANCE'), NOT_FOUND),
  scenario('unregistered', 'ADMIN changes a role', changeRole('ADMIN', 'u-1', 'AUDITOR'), NOT_FOUND),
  scenario('unregistered', 'ADMIN removes a member', removeMember('ADMIN', 'u-1'), NOT_FOUND),
  scenario('unregistered', 'ADMIN creates an API key', createKey('ADMIN', 'k-1'), NOT_FOUND),
  scenario('unregistered', 'someone revokes an API key', revokeKey('k-1'), NOT_FOUND),

  // active (owner only, CUSTOMER_ADMIN): AddMember
  scenario('active (owner only)', 'CUSTOMER_ADMIN adds a FINANCE', addMember('CUSTOMER_ADMIN', 'u-fin', 'FINANCE'), [memberAdded('u-fin', 'FINANCE')]),
  scenario('active (owner only)', 'CUSTOMER_ADMIN adds a CUSTOMER_ADMIN', addMember('CUSTOMER_ADMIN', 'u-ca2', 'CUSTOMER_ADMIN'), [memberAdded('u-ca2', 'CUSTOMER_ADMIN')]),
  scenario('active (owner only)', 'CUSTOMER_ADMIN adds an ADMIN', addMember('CUSTOMER_ADMIN', 'u-op', 'ADMIN'), ADMIN_ROLE_REQUIRED),
  scenario('active (owner only)', 'ADMIN adds an ADMIN', addMember('ADMIN', 'u-op', 'ADMIN'), [memberAdded('u-op', 'ADMIN')]),
  scenario('active (owner only)', 'FINANCE adds a FINANCE', addMember('FINANCE', 'u-fin', 'FINANCE'), ADMINISTRATOR_REQUIRED),
  scenario('active (owner only)', 'FINANCE adds an ADMIN', addMember('FINANCE', 'u-op', 'ADMIN'), ADMINISTRATOR_REQUIRED),
  scenario('active (owner only)', 'TECHNICAL adds an AUDITOR', addMember('TECHNICAL', 'u-aud', 'AUDITOR'), ADMINISTRATOR_REQUIRED),
  scenario('active (owner only)', 'AUDITOR adds an AUDITOR', addMember('AUDITOR', 'u-aud', 'AUDITOR'), ADMINISTRATOR_REQUIRED),
  scenario('active (owner only)', 'CUSTOMER_ADMIN adds the owner again', addMember('CUSTOMER_ADMIN', 'u-owner', 'FINANCE', 'other@acme.test'), ALREADY_MEMBER),
  scenario('active (owner only)', 'FINANCE adds the owner again (authority first)', addMember('FINANCE', 'u-owner', 'FINANCE'), ADMINISTRATOR_REQUIRED),

  // active (owner only): ChangeMemberRole
  scenario('active (owner only)', 'CUSTOMER_ADMIN demotes the owner, the last administrator', changeRole('CUSTOMER_ADMIN', 'u-owner', 'FINANCE'), LAST_ADMINISTRATOR),
  scenario('active (owner only)', 'CUSTOMER_ADMIN keeps the owner CUSTOMER_ADMIN (no-op)', changeRole('CUSTOMER_ADMIN', 'u-owner', 'CUSTOMER_ADMIN'), []),
  scenario('active (owner only)', 'CUSTOMER_ADMIN promotes the owner to ADMIN', changeRole('CUSTOMER_ADMIN', 'u-owner', 'ADMIN'), ADMIN_ROLE_REQUIRED),
  scenario('active (owner only)', 'ADMIN promotes the owner to ADMIN', changeRole('ADMIN', 'u-owner', 'ADMIN'), [roleChanged('u-owner', 'ADMIN', 'CUSTOMER_ADMIN')]),
  scenario('active (owner only)', 'ADMIN demotes the owner, the last administrator', changeRole('ADMIN', 'u-owner', 'AUDITOR'), LAST_ADMINISTRATOR),
  scenario('active (owner only)', 'FINANCE changes the owner (even to the same role)', changeRole('FINANCE', 'u-owner', 'CUSTOMER_ADMIN'), ADMINISTRATOR_REQUIRED),
  scenario('active (owner only)', 'CUSTOMER_ADMIN changes an unknown member', changeRole('CUSTOMER_ADMIN', 'u-nobody', 'FINANCE'), MEMBER_NOT_FOUND),

  // active (owner only): RemoveMember
  scenario('active (owner only)', 'CUSTOMER_ADMIN removes the owner, the last administrator', removeMember('CUSTOMER_ADMIN', 'u-owner'), LAST_ADMINISTRATOR),
  scenario('active (owner only)', 'ADMIN removes the owner, the last administrator', removeMember('ADMIN', 'u-owner'), LAST_ADMINISTRATOR),
  scenario('active (owner only)', 'TECHNICAL removes the owner', removeMember('TECHNICAL', 'u-owner'), ADMINISTRATOR_REQUIRED),
  scenario('active (owner only)', 'CUSTOMER_ADMIN removes an unknown member', removeMember('CUSTOMER_ADMIN', 'u-nobody'), MEMBER_NOT_FOUND),

  // active (owner only): API keys
  scenario('active (owner only)', 'CUSTOMER_ADMIN creates a TECHNICAL key', createKey('CUSTOMER_ADMIN', 'k-1', ['TECHNICAL']), [keyCreated('k-1', ['TECHNICAL'])]),
  scenario(
    'active (owner only)',
    'CUSTOMER_ADMIN creates a FINANCE + AUDITOR key',
    createKey('CUSTOMER_ADMIN', 'k-1', ['FINANCE', 'AUDITOR']),
    [keyCreated('k-1', ['FINANCE', 'AUDITOR'])],
  ),
  scenario('active (owner only)', 'CUSTOMER_ADMIN creates a CUSTOMER_ADMIN key', createKey('CUSTOMER_ADMIN', 'k-1', ['CUSTOMER_ADMIN']), [keyCreated('k-1', ['CUSTOMER_ADMIN'])]),
  scenario('active (owner only)', 'CUSTOMER_ADMIN creates an ADMIN key', createKey('CUSTOMER_ADMIN', 'k-1', ['ADMIN']), ADMIN_ROLE_REQUIRED),
  scenario('active (owner only)', 'CUSTOMER_ADMIN creates a TECHNICAL + ADMIN key', createKey('CUSTOMER_ADMIN', 'k-1', ['TECHNICAL', 'ADMIN']), ADMIN_ROLE_REQUIRED),
  scenario('active (owner only)', 'ADMIN creates an ADMIN key', createKey('ADMIN', 'k-1', ['ADMIN']), [keyCreated('k-1', ['ADMIN'])]),
  scenario('active (owner only)', 'FINANCE creates a FINANCE key', createKey('FINANCE', 'k-1', ['FINANCE']), ADMINISTRATOR_REQUIRED),
  scenario('active (owner only)', 'AUDITOR creates an AUDITOR key', createKey('AUDITOR', 'k-1', ['AUDITOR']), ADMINISTRATOR_REQUIRED),
  scenario('active (owner only)', 'someone revokes an unknown key', revokeKey('k-1'), KEY_NOT_FOUND),

  // active (ADMIN owner only): the ADMIN is the last administrator too
  scenario('active (ADMIN owner only)', 'ADMIN demotes the owner to FINANCE', changeRole('ADMIN', 'u-op', 'FINANCE'), LAST_ADMINISTRATOR),
  scenario('active (ADMIN owner only)', 'ADMIN moves the owner to CUSTOMER_ADMIN', changeRole('ADMIN', 'u-op', 'CUSTOMER_ADMIN'), [roleChanged('u-op', 'CUSTOMER_ADMIN', 'ADMIN')]),
  scenario('active (ADMIN owner only)', 'CUSTOMER_ADMIN moves the ADMIN owner to CUSTOMER_ADMIN', changeRole('CUSTOMER_ADMIN', 'u-op', 'CUSTOMER_ADMIN'), ADMIN_ROLE_REQUIRED),
  scenario('active (ADMIN owner only)', 'ADMIN keeps the owner ADMIN (no-op)', changeRole('ADMIN', 'u-op', 'ADMIN'), []),
  scenario('active (ADMIN owner only)', 'CUSTOMER_ADMIN "keeps" the owner ADMIN', changeRole('CUSTOMER_ADMIN', 'u-op', 'ADMIN'), ADMIN_ROLE_REQUIRED),
  scenario('active (ADMIN owner only)', 'ADMIN removes the owner', removeMember('ADMIN', 'u-op'), LAST_ADMINISTRATOR),
  scenario('active (ADMIN owner only)', 'CUSTOMER_ADMIN removes the ADMIN owner', removeMember('CUSTOMER_ADMIN', 'u-op'), ADMIN_ROLE_REQUIRED),
  scenario('active (ADMIN owner only)', 'ADMIN adds a CUSTOMER_ADMIN', addMember('ADMIN', 'u-ca', 'CUSTOMER_ADMIN'), [memberAdded('u-ca', 'CUSTOMER_ADMIN')]),
  scenario('active (ADMIN owner only)', 'ADMIN creates an ADMIN + FINANCE key', createKey('ADMIN', 'k-1', ['ADMIN', 'FINANCE']), [keyCreated('k-1', ['ADMIN', 'FINANCE'])]),
  scenario('active (ADMIN owner only)', 'someone revokes an unknown key', revokeKey('k-9'), KEY_NOT_FOUND),

  // active with several members: AddMember
  scenario('active with several members', 'CUSTOMER_ADMIN adds a TECHNICAL', addMember('CUSTOMER_ADMIN', 'u-new', 'TECHNICAL'), [memberAdded('u-new', 'TECHNICAL')]),
  scenario('active with several members', 'CUSTOMER_ADMIN adds an existing FINANCE', addMember('CUSTOMER_ADMIN', 'u-fin', 'FINANCE'), ALREADY_MEMBER),
  scenario('active with several members', 'ADMIN adds the existing ADMIN as ADMIN', addMember('ADMIN', 'u-op', 'ADMIN'), ALREADY_MEMBER),
  scenario('active with several members', 'CUSTOMER_ADMIN adds another ADMIN', addMember('CUSTOMER_ADMIN', 'u-new', 'ADMIN'), ADMIN_ROLE_REQUIRED),
  scenario('active with several members', 'FINANCE adds an AUDITOR', addMember('FINANCE', 'u-new', 'AUDITOR'), ADMINISTRATOR_REQUIRED),

  // active with several members: ChangeMemberRole
  scenario('active with several members', 'CUSTOMER_ADMIN promotes FINANCE to CUSTOMER_ADMIN', changeRole('CUSTOMER_ADMIN', 'u-fin', 'CUSTOMER_ADMIN'), [
    roleChanged('u-fin', 'CUSTOMER_ADMIN', 'FINANCE'),
  ]),
  scenario('active with several members', 'CUSTOMER_ADMIN moves FINANCE to AUDITOR', changeRole('CUSTOMER_ADMIN', 'u-fin', 'AUDITOR'), [roleChanged('u-fin', 'AUDITOR', 'FINANCE')]),
  scenario('active with several members', 'CUSTOMER_ADMIN keeps FINANCE as FINANCE (no-op)', changeRole('CUSTOMER_ADMIN', 'u-fin', 'FINANCE'), []),
  scenario('active with several members', 'CUSTOMER_ADMIN promotes FINANCE to ADMIN', changeRole('CUSTOMER_ADMIN', 'u-fin', 'ADMIN'), ADMIN_ROLE_REQUIRED),
  scenario('active with several members', 'ADMIN promotes FINANCE to ADMIN', changeRole('ADMIN', 'u-fin', 'ADMIN'), [roleChanged('u-fin', 'ADMIN', 'FINANCE')]),
  scenario('active with several members', 'CUSTOMER_ADMIN demotes the ADMIN', changeRole('CUSTOMER_ADMIN', 'u-op', 'FINANCE'), ADMIN_ROLE_REQUIRED),
  scenario('active with several members', 'ADMIN demotes the ADMIN (a CUSTOMER_ADMIN remains)', changeRole('ADMIN', 'u-op', 'FINANCE'), [roleChanged('u-op', 'FINANCE', 'ADMIN')]),
  scenario('active with several members', 'CUSTOMER_ADMIN demotes the owner (the ADMIN remains)', changeRole('CUSTOMER_ADMIN', 'u-owner', 'AUDITOR'), [
    roleChanged('u-owner', 'AUDITOR', 'CUSTOMER_ADMIN'),
  ]),
  scenario('active with several members', 'AUDITOR promotes itself to CUSTOMER_ADMIN', changeRole('AUDITOR', 'u-aud', 'CUSTOMER_ADMIN'), ADMINISTRATOR_REQUIRED),
  scenario('active with several members', 'CUSTOMER_ADMIN changes an unknown member', changeRole('CUSTOMER_ADMIN', 'u-nobody', 'FINANCE'), MEMBER_NOT_FOUND),

  // active with several members: RemoveMember
  scenario('active with several members', 'CUSTOMER_ADMIN removes FINANCE', removeMember('CUSTOMER_ADMIN', 'u-fin'), [memberRemoved('u-fin', 'FINANCE')]),
  scenario('active with several members', 'ADMIN removes TECHNICAL', removeMember('ADMIN', 'u-tech'), [memberRemoved('u-tech', 'TECHNICAL')]),
  scenario('active with several members', 'CUSTOMER_ADMIN removes the ADMIN', removeMember('CUSTOMER_ADMIN', 'u-op'), ADMIN_ROLE_REQUIRED),
  scenario('active with several members', 'ADMIN removes the ADMIN (a CUSTOMER_ADMIN remains)', removeMember('ADMIN', 'u-op'), [memberRemoved('u-op', 'ADMIN')]),
  scenario('active with several members', 'CUSTOMER_ADMIN removes the owner (the ADMIN remains)', removeMember('CUSTOMER_ADMIN', 'u-owner'), [memberRemoved('u-owner', 'CUSTOMER_ADMIN')]),
  scenario('active with several members', 'FINANCE removes AUDITOR', removeMember('FINANCE', 'u-aud'), ADMINISTRATOR_REQUIRED),
  scenario('active with several members', 'CUSTOMER_ADMIN removes an unknown member', removeMember('CUSTOMER_ADMIN', 'u-nobody'), MEMBER_NOT_FOUND),

  // active with several members: API keys
  scenario('active with several members', 'CUSTOMER_ADMIN creates k-3', createKey('CUSTOMER_ADMIN', 'k-3', ['AUDITOR']), [keyCreated('k-3', ['AUDITOR'])]),
  scenario('active with several members', 'CUSTOMER_ADMIN creates k-1 again (active)', createKey('CUSTOMER_ADMIN', 'k-1'), KEY_EXISTS),
  scenario('active with several members', 'CUSTOMER_ADMIN creates k-2 again (revoked: ids are never reused)', createKey('CUSTOMER_ADMIN', 'k-2'), KEY_EXISTS),
  scenario('active with several members', 'TECHNICAL creates a TECHNICAL key', createKey('TECHNICAL', 'k-3', ['TECHNICAL']), ADMINISTRATOR_REQUIRED),
  scenario('active with several members', 'someone revokes k-1', revokeKey('k-1', 'leaked'), [keyRevoked('k-1', 'leaked')]),
  scenario('active with several members', 'someone revokes k-2 again (no-op)', revokeKey('k-2'), []),
  scenario('active with several members', 'someone revokes an unknown key', revokeKey('k-9'), KEY_NOT_FOUND),

  // the last administrator, after others came and went
  scenario('active, administrators came and went', 'CUSTOMER_ADMIN removes the owner', removeMember('CUSTOMER_ADMIN', 'u-owner'), LAST_ADMINISTRATOR),
  scenario('active, administrators came and went', 'CUSTOMER_ADMIN demotes the owner', changeRole('CUSTOMER_ADMIN', 'u-owner', 'FINANCE'), LAST_ADMINISTRATOR),
  scenario('active, administrators came and went', 'CUSTOMER_ADMIN changes the removed ADMIN', changeRole('CUSTOMER_ADMIN', 'u-op', 'FINANCE'), MEMBER_NOT_FOUND),
  scenario('active, administrators came and went', 'ADMIN removes the removed ADMIN', removeMember('ADMIN', 'u-op'), MEMBER_NOT_FOUND),
  scenario('active, administrators came and went', 'CUSTOMER_ADMIN re-adds the removed ADMIN as FINANCE', addMember('CUSTOMER_ADMIN', 'u-op', 'FINANCE'), [memberAdded('u-op', 'FINANCE')]),
  scenario('active, administrators came and went', 'CUSTOMER_ADMIN promotes the demoted back', changeRole('CUSTOMER_ADMIN', 'u-ca2', 'CUSTOMER_ADMIN'), [
    roleChanged('u-ca2', 'CUSTOMER_ADMIN', 'AUDITOR'),
  ]),

  // the API key limit counts active keys only
  scenario(`active with ${MAX_ACTIVE_API_KEYS} active keys`, `CUSTOMER_ADMIN creates key #${MAX_ACTIVE_API_KEYS + 1}`, createKey('CUSTOMER_ADMIN', 'k-new'), KEY_LIMIT),
  scenario(`active with ${MAX_ACTIVE_API_KEYS} active keys`, `ADMIN creates key #${MAX_ACTIVE_API_KEYS + 1}`, createKey('ADMIN', 'k-new', ['ADMIN']), KEY_LIMIT),
  scenario(`active with ${MAX_ACTIVE_API_KEYS} active keys`, 'CUSTOMER_ADMIN creates an existing id (duplicate first)', createKey('CUSTOMER_ADMIN', 'k-0'), KEY_EXISTS),
  scenario(`active with ${MAX_ACTIVE_API_KEYS} active keys`, 'someone revokes one', revokeKey('k-7'), [keyRevoked('k-7')]),
  scenario(
    `active with ${MAX_ACTIVE_API_KEYS} active keys and one revoked`,
    `CUSTOMER_ADMIN creates key #${MAX_ACTIVE_API_KEYS + 2}`,
    createKey('CUSTOMER_ADMIN', 'k-new'),
    KEY_LIMIT,
  ),
  scenario(
    `active with ${MAX_ACTIVE_API_KEYS - 1} active keys and one revoked`,
    `CUSTOMER_ADMIN creates the ${MAX_ACTIVE_API_KEYS}th active key`,
    createKey('CUSTOMER_ADMIN', 'k-new'),
    [keyCreated('k-new')],
  ),
  scenario(`active with ${MAX_ACTIVE_API_KEYS - 1} active keys and one revoked`, 'CUSTOMER_ADMIN reuses the revoked id', createKey('CUSTOMER_ADMIN', 'k-0'), KEY_EXISTS),

  // closed: everything is refused, even no-ops and unauthorised callers
  scenario('closed', 'CUSTOMER_ADMIN adds a member', addMember('CUSTOMER_ADMIN', 'u-new', 'FINANCE'), CLOSED),
  scenario('closed', 'FINANCE adds a member', addMember('FINANCE', 'u-new', 'FINANCE'), CLOSED),
  scenario('closed', 'CUSTOMER_ADMIN adds an existing member', addMember('CUSTOMER_ADMIN', 'u-fin', 'FINANCE'), CLOSED),
  scenario('closed', 'CUSTOMER_ADMIN changes a role', changeRole('CUSTOMER_ADMIN', 'u-fin', 'AUDITOR'), CLOSED),
  scenario('closed', 'CUSTOMER_ADMIN keeps a role (no-op)', changeRole('CUSTOMER_ADMIN', 'u-fin', 'FINANCE'), CLOSED),
  scenario('closed', 'CUSTOMER_ADMIN changes an unknown member', changeRole('CUSTOMER_ADMIN', 'u-nobody', 'AUDITOR'), CLOSED),
  scenario('closed', 'CUSTOMER_ADMIN removes a member', removeMember('CUSTOMER_ADMIN', 'u-fin'), CLOSED),
  scenario('closed', 'ADMIN removes the last administrator', removeMember('ADMIN', 'u-owner'), CLOSED),
  scenario('closed', 'CUSTOMER_ADMIN creates a key', createKey('CUSTOMER_ADMIN', 'k-3'), CLOSED),
  scenario('closed', 'CUSTOMER_ADMIN creates an existing key id', createKey('CUSTOMER_ADMIN', 'k-1'), CLOSED),
  scenario('closed', 'someone revokes an active key', revokeKey('k-1'), CLOSED),
  scenario('closed', 'someone revokes a revoked key (no-op)', revokeKey('k-2'), CLOSED),
  scenario('closed', 'someone revokes an unknown key', revokeKey('k-9'), CLOSED),
];

/** Who may grant what, to a new member of a workspace whose owner is CUSTOMER_ADMIN: grantor → granted role → outcome. */
const OK = 'ok';
const A = ADMINISTRATOR_REQUIRED.code;
const R = ADMIN_ROLE_REQUIRED.code;
const GRANT_MATRIX: Record<Role, Record<Role, string>> = {
  ADMIN: { ADMIN: OK, CUSTOMER_ADMIN: OK, FINANCE: OK, TECHNICAL: OK, AUDITOR: OK },
  CUSTOMER_ADMIN: { ADMIN: R, CUSTOMER_ADMIN: OK, FINANCE: OK, TECHNICAL: OK, AUDITOR: OK },
  FINANCE: { ADMIN: A, CUSTOMER_ADMIN: A, FINANCE: A, TECHNICAL: A, AUDITOR: A },
  TECHNICAL: { ADMIN: A, CUSTOMER_ADMIN: A, FINANCE: A, TECHNICAL: A, AUDITOR: A },
  AUDITOR: { ADMIN: A, CUSTOMER_ADMIN: A, FINANCE: A, TECHNICAL: A, AUDITOR: A },
};
const STATUS: Record<string, number> = { [A]: 403, [R]: 403 };

const describeThen = (then: Expected) => ('code' in then ? `${then.code} (${then.status})` : `[${then.map((event) => event.type).join(', ')}]`);
const statusOf = (history: History) => given(histories[history]).state.status;

describe('workspace members and API keys: given events, when command, then events | error code', () => {
  it.each(scenarios.map((s) => [s.given, s.when, describeThen(s.then), s] as const))('given %s, when %s, then %s', (_given, _when, _then, s) => {
    const step = given(histories[s.given]).when(s.command);
    if ('code' in s.then) step.thenRejects(s.then.code, s.then.status);
    else step.then(s.then);
  });

  it('covers every state × every membership command', () => {
    const commandTypes = new Set(['AddMember', 'ChangeMemberRole', 'RemoveMember', 'CreateApiKey', 'RevokeApiKey']);
    for (const status of ['unregistered', 'active', 'closed']) {
      const covered = new Set(scenarios.filter((s) => statusOf(s.given) === status).map((s) => s.command.type));
      expect(covered).toEqual(commandTypes);
    }
  });

  describe('grantor × granted role', () => {
    const cells = ROLES.flatMap((grantor) => ROLES.map((role) => [grantor, role, GRANT_MATRIX[grantor][role]] as const));

    it.each(cells)('%s adding a %s: %s', (grantor, role, expected) => {
      const step = given(histories['active (owner only)']).when(addMember(grantor, 'u-new', role));
      if (expected === OK) step.then([memberAdded('u-new', role)]);
      else step.thenRejects(expected, STATUS[expected]);
    });

    it.each(cells)('%s changing FINANCE to %s: %s', (grantor, role, expected) => {
      const step = given(histories['active with several members']).when(changeRole(grantor, 'u-fin', role));
      if (expected !== OK) step.thenRejects(expected, STATUS[expected]);
      else step.then(role === 'FINANCE' ? [] : [roleChanged('u-fin', role, 'FINANCE')]);
    });

    it.each(cells)('%s creating a key with role %s: %s', (grantor, role, expected) => {
      const step = given(histories['active (owner only)']).when(createKey(grantor, 'k-new', [role]));
      if (expected === OK) step.then([keyCreated('k-new', [role])]);
      else step.thenRejects(expected, STATUS[expected]);
    });

    it.each(cells)('%s removing a %s: %s', (grantor, role, expected) => {
      const step = given([...histories['active (ADMIN owner only)'], memberAdded('u-ca', 'CUSTOMER_ADMIN'), memberAdded('u-x', role)]).when(
        removeMember(grantor, 'u-x'),
      );
      if (expected === OK) step.then([memberRemoved('u-x', role)]);
      else step.thenRejects(expected, STATUS[expected]);
    });
  });

  describe('error details', () => {
    it('ADMINISTRATOR_REQUIRED and ADMIN_ROLE_REQUIRED name the grantor role', () => {
      expect(given(histories['active (owner only)']).when(addMember('FINANCE', 'u-1', 'AUDITOR')).thenRejects(A, 403).details).toEqual({ role: 'FINANCE' });
      expect(given(histories['active (owner only)']).when(addMember('CUSTOMER_ADMIN', 'u-1', 'ADMIN')).thenRejects(R, 403).details).toEqual({
        role: 'CUSTOMER_ADMIN',
      });
    });

    it('ALREADY_MEMBER and MEMBER.NOT_FOUND name the user', () => {
      const error = given(histories['active (owner only)']).when(addMember('CUSTOMER_ADMIN', 'u-owner', 'FINANCE', 'x@acme.test')).thenRejects(ALREADY_MEMBER.code, 409);
      expect(error).toBeInstanceOf(DomainError);
      expect(error.details).toEqual({ userId: 'u-owner' });
      expect(given(histories['active (owner only)']).when(removeMember('CUSTOMER_ADMIN', 'u-9')).thenRejects(MEMBER_NOT_FOUND.code, 404).details).toEqual({ userId: 'u-9' });
    });

    it('API_KEY.ALREADY_EXISTS and API_KEY.NOT_FOUND name the key', () => {
      expect(given(histories['active with several members']).when(createKey('CUSTOMER_ADMIN', 'k-1')).thenRejects(KEY_EXISTS.code, 409).details).toEqual({ keyId: 'k-1' });
      expect(given(histories['active with several members']).when(revokeKey('k-9')).thenRejects(KEY_NOT_FOUND.code, 404).details).toEqual({ keyId: 'k-9' });
    });

    it('API_KEY.LIMIT_REACHED says how many are active and what the limit is', () => {
      const error = given(histories[`active with ${MAX_ACTIVE_API_KEYS} active keys and one revoked`]).when(createKey('CUSTOMER_ADMIN', 'k-new')).thenRejects(KEY_LIMIT.code, 409);
      expect(error.details).toEqual({ active: MAX_ACTIVE_API_KEYS, limit: MAX_ACTIVE_API_KEYS });
      expect(error.message).toContain(`it has ${MAX_ACTIVE_API_KEYS}`);
    });
  });

  describe('state', () => {
    it('folds members and keys', () => {
      expect(given(histories['active with several members']).state).toEqual({
        status: 'active',
        workspaceId: 'ws-1',
        name: 'Acme',
        planTier: 'FREE',
        segregationOfDuties: true,
        members: {
          'u-owner': { email: 'u-owner@acme.test', role: 'CUSTOMER_ADMIN', since: null },
          'u-op': { email: 'u-op@acme.test', role: 'ADMIN', since: AT },
          'u-fin': { email: 'u-fin@acme.test', role: 'FINANCE', since: AT },
          'u-tech': { email: 'u-tech@acme.test', role: 'TECHNICAL', since: AT },
          'u-aud': { email: 'u-aud@acme.test', role: 'AUDITOR', since: AT },
        },
        apiKeys: {
          'k-1': { name: 'key k-1', roles: ['TECHNICAL'], secretSha256: SECRET, revoked: false, createdBy: SYSTEM_ACTOR_ID },
          'k-2': { name: 'key k-2', roles: ['FINANCE', 'AUDITOR'], secretSha256: SECRET, revoked: true, createdBy: SYSTEM_ACTOR_ID },
        },
        invitations: {},
      });
    });

    it('folds role changes and removals', () => {
      const state = given(histories['active, administrators came and went']).state as RegisteredWorkspace;
      expect(state.members).toEqual({
        'u-owner': { email: 'u-owner@acme.test', role: 'CUSTOMER_ADMIN', since: null },
        'u-ca2': { email: 'u-ca2@acme.test', role: 'AUDITOR', since: AT },
        'u-fin': { email: 'u-fin@acme.test', role: 'FINANCE', since: AT },
      });
      expect(administratorCount(state)).toBe(1);
    });

    it('the key event copies the roles, not a reference to the command', () => {
      const roles: Role[] = ['TECHNICAL'];
      const outcome = decide(workspaceDecider, createKey('CUSTOMER_ADMIN', 'k-1', roles), given(histories['active (owner only)']).state);
      if ('rejected' in outcome) throw outcome.rejected;
      const [event] = outcome.events;
      if (event.type !== 'workspaces.api-key-created') throw new Error(`expected workspaces.api-key-created, got ${event.type}`);
      expect(event.data.roles).toEqual(roles);
      expect(event.data.roles).not.toBe(roles);
    });

    it('decide does not mutate the state it is given', () => {
      const state = deepFreeze(given(histories['active with several members']).state);
      const before = JSON.stringify(state);
      for (const s of scenarios.filter((x) => x.given === 'active with several members')) expect(() => decide(workspaceDecider, s.command, state)).not.toThrow();
      expect(JSON.stringify(state)).toBe(before);
    });
  });
});

describe('workspace members and API keys: properties', () => {
  const userId = fc.constantFrom('u-1', 'u-2', 'u-3', 'u-4');
  const email = fc.constantFrom('a@acme.test', 'b@acme.test');
  const role = fc.constantFrom(...ROLES);
  // Mostly administrators, so that most commands get past the authority check and change the state.
  const grantor: fc.Arbitrary<Role> = fc.oneof({ arbitrary: fc.constantFrom(...ADMINISTRATIVE_ROLES), weight: 3 }, { arbitrary: role, weight: 1 });
  const keyId = fc.constantFrom('k-1', 'k-2', 'k-3');
  // The system (which holds whatever role it acts under), members, non-members and keys, so that
  // commands come from actors whose roles came and went.
  const actor: fc.Arbitrary<string> = fc.oneof(
    { arbitrary: fc.constant(SYSTEM_ACTOR_ID), weight: 2 },
    { arbitrary: userId, weight: 3 },
    { arbitrary: keyId.map(apiKeyActorId), weight: 1 },
  );
  const owner: fc.Arbitrary<Owner> = fc.record({ userId, email, role: fc.constantFrom('ADMIN' as const, 'CUSTOMER_ADMIN' as const) });
  const registration: fc.Arbitrary<RegisterWorkspace> = fc.record({
    type: fc.constant('RegisterWorkspace' as const),
    workspaceId: fc.constant('ws-1'),
    name: fc.constant('Acme'),
    planTier: fc.constant('FREE' as const),
    owner,
  });
  const membershipCommand = (keyIds: fc.Arbitrary<string>): fc.Arbitrary<MembershipCommand> =>
    fc.oneof(
      fc.record({ type: fc.constant('AddMember' as const), userId, email, role, at: fc.constant(AT), grantedBy: grantor, actorId: actor }),
      fc.record({ type: fc.constant('ChangeMemberRole' as const), userId, role, grantedBy: grantor, actorId: actor }),
      fc.record({ type: fc.constant('RemoveMember' as const), userId, grantedBy: grantor, actorId: actor }),
      fc.record({
        type: fc.constant('CreateApiKey' as const),
        keyId: keyIds,
        name: fc.constant('key'),
        roles: fc.uniqueArray(role, { minLength: 1, maxLength: 3 }),
        secretSha256: fc.constant(SECRET),
        grantedBy: grantor,
        actorId: actor,
      }),
      fc.record({ type: fc.constant('RevokeApiKey' as const), keyId: keyIds, reason: fc.constant('r'), grantedBy: grantor, actorId: actor }),
    );
  const command: fc.Arbitrary<WorkspaceCommand> = fc.oneof(
    { arbitrary: membershipCommand(keyId), weight: 60 },
    { arbitrary: registration, weight: 2 },
    { arbitrary: fc.constant({ type: 'CloseWorkspace' as const, reason: 'bye' }), weight: 1 },
  );

  const ACCEPTED = new Set([
    'WORKSPACE.ALREADY_REGISTERED',
    AUTHORITY_CHANGED.code,
    CLOSED.code,
    ADMINISTRATOR_REQUIRED.code,
    ADMIN_ROLE_REQUIRED.code,
    ALREADY_MEMBER.code,
    MEMBER_NOT_FOUND.code,
    LAST_ADMINISTRATOR.code,
    KEY_EXISTS.code,
    KEY_LIMIT.code,
    KEY_NOT_FOUND.code,
  ]);

  /** Runs the commands from the registration; checks every step; returns what it saw. */
  function run(first: RegisterWorkspace, commands: readonly WorkspaceCommand[]) {
    let live: WorkspaceState = workspaceDecider.initialState;
    const emitted: WorkspaceEvent[] = [];
    // Members who may hold ADMIN: the owner if registered as ADMIN, then whoever an ADMIN made ADMIN.
    const adminsByAnAdmin = new Set<string>();
    for (const next of [first, ...commands]) {
      let events: WorkspaceEvent[];
      try {
        events = workspaceDecider.decide(next, live);
      } catch (error) {
        // (d) anything thrown is a DomainError with a known code
        expect(error).toBeInstanceOf(DomainError);
        expect(ACCEPTED).toContain((error as DomainError).code);
        continue;
      }
      for (const event of events) {
        // (b) ADMIN is given, changed or taken only on a command granted by an ADMIN
        const grantedBy = 'grantedBy' in next ? next.grantedBy : undefined;
        if (event.type === 'workspaces.registered' && event.data.owner?.role === 'ADMIN') adminsByAnAdmin.add(event.data.owner.userId);
        if ((event.type === 'workspaces.member-added' || event.type === 'workspaces.member-role-changed') && event.data.role === 'ADMIN') {
          expect(grantedBy).toBe('ADMIN');
          adminsByAnAdmin.add(event.data.userId);
        }
        if ((event.type === 'workspaces.member-role-changed' || event.type === 'workspaces.member-removed') && event.data.previousRole === 'ADMIN') {
          expect(grantedBy).toBe('ADMIN');
          adminsByAnAdmin.delete(event.data.userId);
        }
        if (event.type === 'workspaces.api-key-created' && event.data.roles.includes('ADMIN')) expect(grantedBy).toBe('ADMIN');
        // grantors are always administrators
        if (event.type.startsWith('workspaces.member-') || event.type === 'workspaces.api-key-created') {
          expect(ADMINISTRATIVE_ROLES).toContain(grantedBy);
        }
        live = workspaceDecider.evolve(live, event);
        emitted.push(event);
      }
      expect(live.status).not.toBe('unregistered');
      const workspace = live as RegisteredWorkspace;
      // (a) at least one ADMIN or CUSTOMER_ADMIN, always
      expect(administratorCount(workspace)).toBeGreaterThanOrEqual(1);
      // (b) every ADMIN member got there through an ADMIN
      for (const [id, member] of Object.entries(workspace.members)) if (member.role === 'ADMIN') expect(adminsByAnAdmin).toContain(id);
      expect(Object.values(workspace.apiKeys).filter((key) => !key.revoked).length).toBeLessThanOrEqual(MAX_ACTIVE_API_KEYS);
    }
    return { live, emitted };
  }

  it('(a) keeps an administrator, (b) ADMIN only through an ADMIN, (c) replay = live, (d) only DomainErrors', () => {
    fc.assert(
      fc.property(registration, fc.array(command, { maxLength: 60, size: 'max' }), (first, commands) => {
        const { live, emitted } = run(first, commands);
        // (c) replaying the emitted events gives the live state
        expect(emitted.reduce(workspaceDecider.evolve, workspaceDecider.initialState)).toEqual(live);
        expect(JSON.parse(JSON.stringify(live))).toEqual(live);
      }),
      { numRuns: 500 },
    );
  });

  it('never emits a no-op: role changes change the role, revocations revoke an active key, additions add a non-member', () => {
    fc.assert(
      fc.property(registration, fc.array(membershipCommand(keyId), { maxLength: 40, size: 'max' }), (first, commands) => {
        let state: WorkspaceState = workspaceDecider.initialState;
        for (const next of [first, ...commands]) {
          const outcome = decide(workspaceDecider, next, state);
          if ('rejected' in outcome) continue;
          for (const event of outcome.events) {
            const workspace = state as RegisteredWorkspace;
            if (event.type === 'workspaces.member-added') expect(workspace.members[event.data.userId]).toBeUndefined();
            if (event.type === 'workspaces.member-role-changed') {
              expect(event.data.previousRole).toBe(workspace.members[event.data.userId].role);
              expect(event.data.role).not.toBe(event.data.previousRole);
            }
            if (event.type === 'workspaces.member-removed') expect(event.data.previousRole).toBe(workspace.members[event.data.userId].role);
            if (event.type === 'workspaces.api-key-created') expect(workspace.apiKeys[event.data.keyId]).toBeUndefined();
            if (event.type === 'workspaces.api-key-revoked') expect(workspace.apiKeys[event.data.keyId].revoked).toBe(false);
            state = workspaceDecider.evolve(state, event);
          }
        }
      }),
    );
  });

  it('no sequence of commands leaves an actor with authority its current membership does not give', () => {
    fc.assert(
      fc.property(registration, fc.array(membershipCommand(keyId), { maxLength: 60, size: 'max' }), (first, commands) => {
        let state: WorkspaceState = workspaceDecider.initialState;
        for (const next of [first, ...commands]) {
          const outcome = decide(workspaceDecider, next, state);
          if ('rejected' in outcome) continue;
          // whoever a command succeeded for held, in the state it was decided on, the role it acted under
          if ('actorId' in next && state.status !== 'unregistered') {
            const held = rolesHeldBy(state, next.actorId);
            if (held !== 'system') expect(held).toContain(next.grantedBy);
          }
          state = outcome.events.reduce(workspaceDecider.evolve, state);
          // and after it, every active key is one its creator could still create
          const workspace = state as RegisteredWorkspace;
          for (const [id, key] of Object.entries(workspace.apiKeys)) {
            if (!key.revoked && key.createdBy !== null) expect({ id, creatorCouldCreateIt: couldCreateKey(rolesHeldBy(workspace, key.createdBy), key) }).toEqual({ id, creatorCouldCreateIt: true });
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it(`never holds more than ${MAX_ACTIVE_API_KEYS} active keys, and refuses the next only at the limit`, () => {
    const manyKeys = fc.integer({ min: 0, max: 69 }).map((i) => `k-${i}`);
    const keyCommand = fc.oneof(
      {
        arbitrary: fc.record({
          type: fc.constant('CreateApiKey' as const),
          keyId: manyKeys,
          name: fc.constant('key'),
          roles: fc.constant(['TECHNICAL'] as Role[]),
          secretSha256: fc.constant(SECRET),
          grantedBy: fc.constant('CUSTOMER_ADMIN' as const),
          actorId: fc.constant(SYSTEM_ACTOR_ID),
        }),
        weight: 6,
      },
      { arbitrary: fc.record({ type: fc.constant('RevokeApiKey' as const), keyId: manyKeys, reason: fc.constant('r'), grantedBy: fc.constant('CUSTOMER_ADMIN' as const), actorId: fc.constant(SYSTEM_ACTOR_ID) }), weight: 1 },
    );
    fc.assert(
      fc.property(fc.array(keyCommand, { minLength: 100, maxLength: 200, size: 'max' }), (commands) => {
        let state = given(histories['active (owner only)']).state as RegisteredWorkspace;
        for (const next of commands) {
          const active = Object.values(state.apiKeys).filter((key) => !key.revoked).length;
          const outcome = decide(workspaceDecider, next, state);
          if ('rejected' in outcome) {
            if (outcome.rejected.code === KEY_LIMIT.code) expect(active).toBe(MAX_ACTIVE_API_KEYS);
            if (next.type === 'CreateApiKey' && active < MAX_ACTIVE_API_KEYS) expect(outcome.rejected.code).toBe(KEY_EXISTS.code);
            continue;
          }
          state = outcome.events.reduce(workspaceDecider.evolve, state) as RegisteredWorkspace;
          expect(Object.values(state.apiKeys).filter((key) => !key.revoked).length).toBeLessThanOrEqual(MAX_ACTIVE_API_KEYS);
        }
      }),
      { numRuns: 100 },
    );
  });
});
