import { createHash } from 'node:crypto';
import type { MembershipCommand } from '../../../src/workspaces/decide-members';
import { apiKeyActorId, SYSTEM_ACTOR_ID } from '../../../src/workspaces/decide-authority';
import type { Role, WorkspaceEvent } from '../../../src/workspaces/events';
import { workspaceDecider } from '../../../src/workspaces/workspace.decider';
import { upcast } from '../../../contracts';
import { givenWhenThen } from '../../support/given-when-then';

const { given } = givenWhenThen(workspaceDecider);
const SECRET = 'cd'.repeat(32);

const registered: WorkspaceEvent = { type: 'workspaces.registered', data: { workspaceId: 'ws-1', name: 'Acme', planTier: 'FREE', owner: { userId: 'u-ca', email: 'ca@acme.test', role: 'CUSTOMER_ADMIN' } } };
const AT = '2029-05-01T00:00:00.000Z';
const added = (userId: string, role: Role): WorkspaceEvent => ({ type: 'workspaces.member-added', data: { userId, email: `${userId}@acme.test`, role, since: AT } });
const removed = (userId: string, previousRole: Role): WorkspaceEvent => ({ type: 'workspaces.member-removed', data: { userId, previousRole } });
const roleChanged = (userId: string, role: Role, previousRole: Role): WorkspaceEvent => ({ type: 'workspaces.member-role-changed', data: { userId, role, previousRole } });
const keyCreated = (keyId: string, roles: Role[], createdBy: string | null): WorkspaceEvent => ({ type: 'workspaces.api-key-created', data: { keyId, name: keyId, roles, secretSha256: SECRET, createdBy } });
const keyRevoked = (keyId: string, reason: string): WorkspaceEvent => ({ type: 'workspaces.api-key-revoked', data: { keyId, reason } });
const cascade = (keyId: string, creator: string) => keyRevoked(keyId, `its creator ${creator} can no longer create it`);

const as = (actorId: string, grantedBy: Role) => ({ actorId, grantedBy });

describe('authority comes from the workspace as it is now', () => {
  // u-ca owner (CUSTOMER_ADMIN); u-admin2 a second CUSTOMER_ADMIN, later removed
  const admin2Removed = [registered, added('u-admin2', 'CUSTOMER_ADMIN'), removed('u-admin2', 'CUSTOMER_ADMIN')];
  const admin2Demoted = [registered, added('u-admin2', 'CUSTOMER_ADMIN'), roleChanged('u-admin2', 'FINANCE', 'CUSTOMER_ADMIN')];

  describe('given an administrator who was removed, when they act with their old role', () => {
    const commands: Array<[string, MembershipCommand]> = [
      ['creates a CUSTOMER_ADMIN key', { type: 'CreateApiKey', keyId: 'k-x', name: 'x', roles: ['CUSTOMER_ADMIN'], secretSha256: SECRET, ...as('u-admin2', 'CUSTOMER_ADMIN') }],
      ['adds themselves back', { type: 'AddMember', userId: 'u-admin2', email: 'u-admin2@acme.test', role: 'CUSTOMER_ADMIN', at: AT, ...as('u-admin2', 'CUSTOMER_ADMIN') }],
      ['removes the owner', { type: 'RemoveMember', userId: 'u-ca', ...as('u-admin2', 'CUSTOMER_ADMIN') }],
      ['changes the owner role', { type: 'ChangeMemberRole', userId: 'u-ca', role: 'AUDITOR', ...as('u-admin2', 'CUSTOMER_ADMIN') }],
      ['invites someone', { type: 'InviteMember', invitationId: 'i-1', email: 'x@acme.test', role: 'FINANCE', secretSha256: SECRET, expiresAt: '2030-01-01T00:00:00.000Z', ...as('u-admin2', 'CUSTOMER_ADMIN') }],
    ];
    it.each(commands)('then %s is refused with AUTH.AUTHORITY_CHANGED (403)', (_name, command) => {
      given(admin2Removed).when(command).thenRejects('AUTH.AUTHORITY_CHANGED', 403);
    });
  });

  it('given an administrator demoted to FINANCE, when they act as CUSTOMER_ADMIN, then refused', () => {
    given(admin2Demoted)
      .when({ type: 'CreateApiKey', keyId: 'k-x', name: 'x', roles: ['FINANCE'], secretSha256: SECRET, ...as('u-admin2', 'CUSTOMER_ADMIN') })
      .thenRejects('AUTH.AUTHORITY_CHANGED', 403);
  });

  it('given a revoked CUSTOMER_ADMIN key, when it creates a key, then refused', () => {
    given([registered, keyCreated('k-ca', ['CUSTOMER_ADMIN'], 'u-ca'), keyRevoked('k-ca', 'rotated')])
      .when({ type: 'CreateApiKey', keyId: 'k-x', name: 'x', roles: ['TECHNICAL'], secretSha256: SECRET, ...as(apiKeyActorId('k-ca'), 'CUSTOMER_ADMIN') })
      .thenRejects('AUTH.AUTHORITY_CHANGED', 403);
  });

  it('given an active key carrying CUSTOMER_ADMIN, when it creates a key, then the key names it as creator', () => {
    given([registered, keyCreated('k-ca', ['CUSTOMER_ADMIN'], 'u-ca')])
      .when({ type: 'CreateApiKey', keyId: 'k-x', name: 'k-x', roles: ['TECHNICAL'], secretSha256: SECRET, ...as(apiKeyActorId('k-ca'), 'CUSTOMER_ADMIN') })
      .then([keyCreated('k-x', ['TECHNICAL'], 'api-key:k-ca')]);
  });

  it('given a current member, when they act under their role, then it is decided as before', () => {
    given([registered]).when({ type: 'AddMember', userId: 'u-f', email: 'f@acme.test', role: 'FINANCE', at: AT, ...as('u-ca', 'CUSTOMER_ADMIN') }).then([{ type: 'workspaces.member-added', data: { userId: 'u-f', email: 'f@acme.test', role: 'FINANCE', since: AT } }]);
  });
});

describe('a key lives only while its creator could still create it', () => {
  const history = [
    registered,
    added('u-admin2', 'CUSTOMER_ADMIN'),
    keyCreated('k-1', ['CUSTOMER_ADMIN'], 'u-admin2'),
    keyCreated('k-2', ['FINANCE'], 'api-key:k-1'),
    keyCreated('k-3', ['TECHNICAL'], 'u-ca'),
    keyCreated('k-old', ['AUDITOR'], null),
  ];

  it('given keys created by a member and by their key, when the member is removed, then both are revoked with the removal, others stay', () => {
    given(history)
      .when({ type: 'RemoveMember', userId: 'u-admin2', ...as('u-ca', 'CUSTOMER_ADMIN') })
      .then([removed('u-admin2', 'CUSTOMER_ADMIN'), cascade('k-1', 'u-admin2'), cascade('k-2', 'api-key:k-1')]);
  });

  it('given the same, when the member is demoted to AUDITOR, then their keys are revoked too', () => {
    given(history)
      .when({ type: 'ChangeMemberRole', userId: 'u-admin2', role: 'AUDITOR', ...as('u-ca', 'CUSTOMER_ADMIN') })
      .then([roleChanged('u-admin2', 'AUDITOR', 'CUSTOMER_ADMIN'), cascade('k-1', 'u-admin2'), cascade('k-2', 'api-key:k-1')]);
  });

  it('given a key that created another, when it is revoked, then the one it created goes with it', () => {
    given(history).when({ type: 'RevokeApiKey', keyId: 'k-1', reason: 'leaked', ...as('u-ca', 'CUSTOMER_ADMIN') }).then([keyRevoked('k-1', 'leaked'), cascade('k-2', 'api-key:k-1')]);
  });

  it('given an ADMIN who created an ADMIN key, when demoted to CUSTOMER_ADMIN, then only the ADMIN key is revoked', () => {
    given([registered, added('u-op', 'ADMIN'), keyCreated('k-admin', ['ADMIN'], 'u-op'), keyCreated('k-fin', ['FINANCE'], 'u-op')])
      .when({ type: 'ChangeMemberRole', userId: 'u-op', role: 'CUSTOMER_ADMIN', ...as(SYSTEM_ACTOR_ID, 'ADMIN') })
      .then([roleChanged('u-op', 'CUSTOMER_ADMIN', 'ADMIN'), cascade('k-admin', 'u-op')]);
  });
});

describe('invitations', () => {
  const token = 'the-secret';
  const sha = createHash('sha256').update(token).digest('hex');
  const invite = (invitationId: string, email: string, role: Role, invitedBy = 'u-ca', expiresAt = '2030-01-01T00:00:00.000Z'): WorkspaceEvent => ({
    type: 'workspaces.member-invited',
    data: { invitationId, email, role, secretSha256: sha, expiresAt, invitedBy },
  });
  const accept = (over: Partial<Extract<MembershipCommand, { type: 'AcceptInvitation' }>> = {}): MembershipCommand => ({
    type: 'AcceptInvitation',
    invitationId: 'i-1',
    secretSha256: sha,
    userId: 'u-cfo',
    email: 'cfo@bigcorp.test',
    at: '2029-06-01T00:00:00.000Z',
    ...over,
  });

  it('given no invitation, when an administrator invites, then member-invited names the inviter and grants nothing yet', () => {
    const outcome = given([registered]).when({ type: 'InviteMember', invitationId: 'i-1', email: 'cfo@bigcorp.test', role: 'CUSTOMER_ADMIN', secretSha256: sha, expiresAt: '2030-01-01T00:00:00.000Z', ...as('u-ca', 'CUSTOMER_ADMIN') });
    outcome.then([invite('i-1', 'cfo@bigcorp.test', 'CUSTOMER_ADMIN')]);
  });

  it('given a pending invitation, when the same address is invited again, then the first is revoked (superseded)', () => {
    given([registered, invite('i-1', 'cfo@bigcorp.test', 'FINANCE')])
      .when({ type: 'InviteMember', invitationId: 'i-2', email: 'cfo@bigcorp.test', role: 'FINANCE', secretSha256: sha, expiresAt: '2030-01-01T00:00:00.000Z', ...as('u-ca', 'CUSTOMER_ADMIN') })
      .then([{ type: 'workspaces.invitation-revoked', data: { invitationId: 'i-1', reason: 'superseded by invitation i-2' } }, invite('i-2', 'cfo@bigcorp.test', 'FINANCE')]);
  });

  it('given a pending invitation, when accepted with its secret before expiry, then accepted and member-added', () => {
    given([registered, invite('i-1', 'cfo@bigcorp.test', 'CUSTOMER_ADMIN')])
      .when(accept())
      .then([
        { type: 'workspaces.invitation-accepted', data: { invitationId: 'i-1', userId: 'u-cfo' } },
        { type: 'workspaces.member-added', data: { userId: 'u-cfo', email: 'cfo@bigcorp.test', role: 'CUSTOMER_ADMIN', since: '2029-06-01T00:00:00.000Z' } },
      ]);
  });

  const refusals: Array<[string, WorkspaceEvent[], MembershipCommand]> = [
    ['a wrong secret', [registered, invite('i-1', 'cfo@bigcorp.test', 'FINANCE')], accept({ secretSha256: 'ef'.repeat(32) })],
    ['after expiry', [registered, invite('i-1', 'cfo@bigcorp.test', 'FINANCE', 'u-ca', '2029-01-01T00:00:00.000Z')], accept()],
    ['for another address', [registered, invite('i-1', 'cfo@bigcorp.test', 'FINANCE')], accept({ email: 'mallory@evil.test' })],
    ['a revoked invitation', [registered, invite('i-1', 'cfo@bigcorp.test', 'FINANCE'), { type: 'workspaces.invitation-revoked', data: { invitationId: 'i-1', reason: 'x' } }], accept()],
    ['an accepted invitation', [registered, invite('i-1', 'cfo@bigcorp.test', 'FINANCE'), { type: 'workspaces.invitation-accepted', data: { invitationId: 'i-1', userId: 'u-x' } }], accept()],
    ['an unknown invitation', [registered], accept()],
    ['an inviter who has since been removed', [registered, added('u-admin2', 'CUSTOMER_ADMIN'), invite('i-1', 'cfo@bigcorp.test', 'FINANCE', 'u-admin2'), removed('u-admin2', 'CUSTOMER_ADMIN')], accept()],
    ['an inviter demoted below the invited role', [registered, added('u-op', 'ADMIN'), invite('i-1', 'cfo@bigcorp.test', 'ADMIN', 'u-op'), roleChanged('u-op', 'CUSTOMER_ADMIN', 'ADMIN')], accept()],
  ];
  it.each(refusals)('given %s, when accepted, then INVITATION.INVALID (422) and nothing is granted', (_name, history, command) => {
    given(history).when(command).thenRejects('INVITATION.INVALID', 422);
  });

  it('given a pending ADMIN invitation, when a CUSTOMER_ADMIN invites the same address, then refused: replacing is revoking', () => {
    given([registered, added('u-op', 'ADMIN'), invite('i-1', 'cfo@bigcorp.test', 'ADMIN', 'u-op')])
      .when({ type: 'InviteMember', invitationId: 'i-2', email: 'cfo@bigcorp.test', role: 'FINANCE', secretSha256: sha, expiresAt: '2030-01-01T00:00:00.000Z', ...as('u-ca', 'CUSTOMER_ADMIN') })
      .thenRejects('MEMBER.ADMIN_ROLE_REQUIRED', 403);
  });

  it('given FINANCE, when they invite, then MEMBER.ADMINISTRATOR_REQUIRED (authority before anything else)', () => {
    given([registered, added('u-f', 'FINANCE')])
      .when({ type: 'InviteMember', invitationId: 'i-1', email: 'x@acme.test', role: 'FINANCE', secretSha256: sha, expiresAt: '2030-01-01T00:00:00.000Z', ...as('u-f', 'FINANCE') })
      .thenRejects('MEMBER.ADMINISTRATOR_REQUIRED', 403);
  });
});

describe('events from before this version', () => {
  it('a v1 api-key-created names its creator from the signed envelope, so the key is tied to it', () => {
    const v1 = { keyId: 'k-1', name: 'k-1', roles: ['CUSTOMER_ADMIN'], secretSha256: SECRET };
    const read = upcast(workspaceDecider.upcasters, 'workspaces.api-key-created', 1, v1, { actor: { id: 'u-admin2', role: 'CUSTOMER_ADMIN' }, occurredAt: AT });
    expect(read).toEqual({ schemaVersion: 2, data: { ...v1, createdBy: 'u-admin2' } });
    given([registered, added('u-admin2', 'CUSTOMER_ADMIN'), { type: 'workspaces.api-key-created', data: read.data } as WorkspaceEvent])
      .when({ type: 'RemoveMember', userId: 'u-admin2', ...as('u-ca', 'CUSTOMER_ADMIN') })
      .then([removed('u-admin2', 'CUSTOMER_ADMIN'), cascade('k-1', 'u-admin2')]);
  });

  it('a v1 member-added began when it was recorded', () => {
    const v1 = { userId: 'u-1', email: 'one@acme.test', role: 'FINANCE' };
    expect(upcast(workspaceDecider.upcasters, 'workspaces.member-added', 1, v1, { actor: { id: 'x', role: 'ADMIN' }, occurredAt: AT })).toEqual({ schemaVersion: 2, data: { ...v1, since: AT } });
  });
});
