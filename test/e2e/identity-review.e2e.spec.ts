import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app';
import { addressPerTest, bearer, signUp, TEST_PASSWORD, type TestTenant } from '../support/identity';

/**
 * The five holes a security review reproduced in identity, each replayed as the review did it.
 * Each test failed on the code before the fix (the review's request sequences, unchanged where
 * the API still allows them).
 */
describe('identity review: pre-claim, stale authority, enumeration, reset tokens, deep JSON', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { PROOFLINE_TRUST_PROXY: '1' } });
  });
  afterAll(() => t.close());

  const client = addressPerTest(7);
  const PASSPHRASE = 'a passphrase of their own';
  const http = (method: 'get' | 'post' | 'put' | 'delete', path: string, token?: string, body?: object) => {
    const call = request(t.server)[method](path).set('x-forwarded-for', client.current);
    if (token) void call.set(bearer(token));
    return body ? call.send(body) : call;
  };
  const members = (tenant: TestTenant) => `/workspaces/${tenant.tenantId}/members`;
  const login = (email: string, password: string, tenantId?: string) => http('post', '/auth/login', undefined, { email, password, ...(tenantId ? { tenantId } : {}) });
  const accept = (invitationToken: string, password: string) => http('post', '/auth/invitations/accept', undefined, { invitationToken, password });
  const workspaceEvents = async (tenantId: string) => (await t.infrastructure.store.readStream(`workspace-${tenantId}`, { fromVersion: 0 })).map((e) => e.envelope);
  const eventCount = async () => (await t.infrastructure.store.readAll({ commit: 0n, prepare: 0n }, 100_000)).length;
  const newEmail = (name: string) => `${name}@r${randomUUID().slice(0, 8)}.example.test`;

  /** A second CUSTOMER_ADMIN of `owner`'s workspace, joined by invitation and signed in. */
  const secondAdmin = async (owner: TestTenant) => {
    const email = newEmail('admin2');
    const invited = await http('post', members(owner), owner.accessToken, { email, role: 'CUSTOMER_ADMIN' }).expect(201);
    const joined = await accept(invited.body.invitationToken, PASSPHRASE).expect(200);
    return { email, userId: joined.body.userId as string, token: joined.body.accessToken as string };
  };

  describe('1. an address claimed in advance never becomes a membership of another workspace', () => {
    it('the squatter registers the address; the victim workspace invites it; the squatter gets nothing, and the real owner is told, not bound', async () => {
      const victim = await signUp(t.infrastructure, 'Big Corp');
      const cfo = newEmail('cfo');
      const squatter = await http('post', '/auth/register', undefined, { email: cfo, password: 'attacker-chosen-pw-123', workspaceName: 'Evil Ltd' }).expect(201);

      // The review's request: an initialPassword for the (squatted) address. Refused, whatever the address.
      const withPassword = await http('post', members(victim), victim.accessToken, { email: cfo, role: 'CUSTOMER_ADMIN', initialPassword: 'admin-handed-over-pw-42' }).expect(400);
      expect(withPassword.body.details.fields).toEqual([expect.objectContaining({ field: 'initialPassword', rule: 'not-accepted' })]);
      const invited = await http('post', members(victim), victim.accessToken, { email: cfo, role: 'CUSTOMER_ADMIN' }).expect(201);

      // The squatter, with the password they chose: not a member of the victim workspace.
      expect((await login(cfo, 'attacker-chosen-pw-123', victim.tenantId).expect(401)).body.code).toBe('AUTH.INVALID_CREDENTIALS');
      // The real CFO holds the token but not the squatter's password: refused, and told why.
      expect((await accept(invited.body.invitationToken, 'the real cfo passphrase').expect(401)).body.code).toBe('AUTH.INVALID_CREDENTIALS');
      // Neither got a membership; the squatter's account is not in the victim's events at all.
      const events = await workspaceEvents(victim.tenantId);
      expect(events.filter((e) => e.type === 'workspaces.member-added')).toEqual([]);
      expect(JSON.stringify(events)).not.toContain(squatter.body.userId);
      const listed = (await http('get', members(victim), victim.accessToken).expect(200)).body.members;
      expect(listed).toEqual([{ userId: victim.ownerId, email: victim.email, role: 'CUSTOMER_ADMIN' }]);
    });

    it('a token for one address cannot be used by an account of another', async () => {
      const victim = await signUp(t.infrastructure, 'Big Corp');
      const other = await signUp(t.infrastructure, 'Someone');
      const invited = await http('post', members(victim), victim.accessToken, { email: newEmail('intended'), role: 'FINANCE' }).expect(201);
      // the token names an address without an account: accepting creates that address's account, never binds `other`
      const joined = await accept(invited.body.invitationToken, PASSPHRASE).expect(200);
      expect(joined.body.userId).not.toBe(other.ownerId);
      expect((await login(other.email, TEST_PASSWORD, victim.tenantId).expect(401)).body.code).toBe('AUTH.INVALID_CREDENTIALS');
    });
  });

  describe("2. a removed or demoted administrator's old token carries no authority", () => {
    it('removed: creating a CUSTOMER_ADMIN key, adding themselves back and removing the owner are all refused; their keys die with them', async () => {
      const owner = await signUp(t.infrastructure);
      const admin2 = await secondAdmin(owner);
      const key = await http('post', `/workspaces/${owner.tenantId}/api-keys`, admin2.token, { name: 'admin2-key', roles: ['CUSTOMER_ADMIN'] }).expect(201);
      await http('delete', `${members(owner)}/${admin2.userId}`, owner.accessToken).expect(200);
      const before = await eventCount();

      const createKey = await http('post', `/workspaces/${owner.tenantId}/api-keys`, admin2.token, { name: 'after-removal', roles: ['CUSTOMER_ADMIN'] });
      const addBack = await http('post', members(owner), admin2.token, { email: admin2.email, role: 'CUSTOMER_ADMIN' });
      const removeOwner = await http('delete', `${members(owner)}/${owner.ownerId}`, admin2.token);
      for (const response of [createKey, addBack, removeOwner]) expect({ status: response.status, code: response.body.code }).toEqual({ status: 401, code: 'AUTH.SESSION_ENDED' });
      expect((await http('get', '/auth/me', key.body.apiKey).expect(401)).body.code).toBe('AUTH.INVALID_API_KEY');
      expect((await workspaceEvents(owner.tenantId)).slice(-2).map((e) => e.type)).toEqual(['workspaces.member-removed', 'workspaces.api-key-revoked']);
      expect(await eventCount()).toBe(before); // refused at authentication: nothing appended
    });

    it('demoted to FINANCE: the old token acts as FINANCE at once; administrator routes are refused', async () => {
      const owner = await signUp(t.infrastructure);
      const admin2 = await secondAdmin(owner);
      await http('put', `${members(owner)}/${admin2.userId}/role`, owner.accessToken, { role: 'FINANCE' }).expect(200);
      expect((await http('get', '/auth/me', admin2.token).expect(200)).body.roles).toEqual(['FINANCE']);
      const refused = await http('post', `/workspaces/${owner.tenantId}/api-keys`, admin2.token, { name: 'after-demotion', roles: ['FINANCE'] }).expect(403);
      expect(refused.body).toMatchObject({ code: 'AUTH.ROLE_REQUIRED', details: { roles: ['FINANCE'] } });
      await http('delete', `${members(owner)}/${owner.ownerId}`, admin2.token).expect(403);
    });
  });

  describe('3. nothing tells a workspace whether an address has an account', () => {
    it('an invitation answers the same for an address with an account and one without; authority is checked first', async () => {
      const owner = await signUp(t.infrastructure);
      const existing = await signUp(t.infrastructure, 'Elsewhere');
      const fresh = newEmail('nobody');
      const shape = (body: Record<string, unknown>) => Object.keys(body).sort();
      const forExisting = await http('post', members(owner), owner.accessToken, { email: existing.email, role: 'FINANCE' }).expect(201);
      const forFresh = await http('post', members(owner), owner.accessToken, { email: fresh, role: 'FINANCE' }).expect(201);
      expect(shape(forExisting.body)).toEqual(shape(forFresh.body));

      // The review's probe: role ADMIN from a CUSTOMER_ADMIN. The same refusal for both, before any lookup.
      const adminExisting = await http('post', members(owner), owner.accessToken, { email: existing.email, role: 'ADMIN' }).expect(403);
      const adminFresh = await http('post', members(owner), owner.accessToken, { email: fresh, role: 'ADMIN' }).expect(403);
      expect(adminExisting.body).toEqual(adminFresh.body);
      expect(adminExisting.body.code).toBe('MEMBER.ADMIN_ROLE_REQUIRED');
    });
  });

  describe('4. only the newest reset token works, and only until the password changes', () => {
    const issue = (owner: TestTenant, userId: string) => http('post', `${members(owner)}/${userId}/password-reset`, owner.accessToken).expect(201);
    const redeem = (resetToken: string, newPassword: string) => http('post', '/auth/password-reset', undefined, { resetToken, newPassword });

    it('issued T1 then T2, redeemed T2: T1 is refused and cannot overwrite the new password', async () => {
      const owner = await signUp(t.infrastructure);
      const member = await secondAdmin(owner);
      const t1 = (await issue(owner, member.userId)).body.resetToken;
      const t2 = (await issue(owner, member.userId)).body.resetToken;
      await redeem(t2, 'the password set with t2').expect(204);
      expect((await redeem(t1, 'the password set with t1').expect(400)).body.code).toBe('AUTH.RESET_TOKEN_INVALID');
      await login(member.email, 'the password set with t2', owner.tenantId).expect(200);
    });

    it('issued T1 then T2: T1 is void before anything is redeemed', async () => {
      const owner = await signUp(t.infrastructure);
      const member = await secondAdmin(owner);
      const t1 = (await issue(owner, member.userId)).body.resetToken;
      await issue(owner, member.userId);
      expect((await redeem(t1, 'the password set with t1').expect(400)).body.code).toBe('AUTH.RESET_TOKEN_INVALID');
    });
  });

  describe('5. deeply nested JSON is a 400 naming the rule, never a 500', () => {
    it.each([
      ['POST /auth/login (unauthenticated)', '/auth/login'],
      ['POST /auth/register', '/auth/register'],
    ])('%s with 3,000 levels of arrays: 400 REQUEST.INVALID, rule max-depth', async (_name, path) => {
      const deep = `{"email":${'['.repeat(3000)}${']'.repeat(3000)},"password":"x"}`;
      const response = await http('post', path).set('content-type', 'application/json').send(deep);
      expect({ status: response.status, code: response.body.code, fields: response.body.details?.fields }).toEqual({
        status: 400,
        code: 'REQUEST.INVALID',
        fields: [{ field: 'body', rule: 'max-depth', message: 'the JSON body nests deeper than 64 levels' }],
      });
    });

    it('a wide body (60,000 keys, 0.8 MB) to POST /auth/login: 400 max-values, before any transformation', async () => {
      const wide = JSON.stringify(Object.fromEntries(Array.from({ length: 60_000 }, (_, i) => [`k${i}`, 1])));
      const response = await http('post', '/auth/login').set('content-type', 'application/json').send(wide);
      expect({ status: response.status, rule: response.body.details?.fields?.[0]?.rule }).toEqual({ status: 400, rule: 'max-values' });
    });

    it('an authenticated command with 100,000 levels of objects: 400, nothing written', async () => {
      const owner = await signUp(t.infrastructure);
      const before = await eventCount();
      const deep = `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`;
      const response = await http('post', members(owner), owner.accessToken).set('content-type', 'application/json').send(deep);
      expect({ status: response.status, rule: response.body.details?.fields?.[0]?.rule }).toEqual({ status: 400, rule: 'max-depth' });
      expect(await eventCount()).toBe(before);
    });
  });

  describe('a second review, of the fixes themselves', () => {
    it("an account's home administrators cannot reset it once it belongs to another workspace (they would take it over there)", async () => {
      const mallory = await signUp(t.infrastructure, 'Mallory Ltd');
      const victim = await signUp(t.infrastructure, 'Victim Co');
      const alice = newEmail('alice');
      // Mallory invites Alice first, so Alice's account is created in (and "homed" at) Mallory's workspace.
      const first = await http('post', members(mallory), mallory.accessToken, { email: alice, role: 'FINANCE' }).expect(201);
      const joined = await accept(first.body.invitationToken, PASSPHRASE).expect(200);
      const second = await http('post', members(victim), victim.accessToken, { email: alice, role: 'CUSTOMER_ADMIN' }).expect(201);
      await accept(second.body.invitationToken, PASSPHRASE).expect(200);

      const refused = await http('post', `${members(mallory)}/${joined.body.userId}/password-reset`, mallory.accessToken).expect(403);
      expect(refused.body.code).toBe('AUTH.RESET_SHARED_ACCOUNT');
      await login(alice, PASSPHRASE, victim.tenantId).expect(200);
    });

    it('accepting checks the token before anything about the account: a wrong secret is 422 whatever the password', async () => {
      const owner = await signUp(t.infrastructure);
      const existing = await signUp(t.infrastructure, 'Existing');
      const invited = await http('post', members(owner), owner.accessToken, { email: existing.email, role: 'FINANCE' }).expect(201);
      const forged = (invited.body.invitationToken as string).replace(/[^.]+$/, 'A'.repeat(43));
      for (const password of [TEST_PASSWORD, 'some wrong password here', 'short']) {
        expect((await accept(forged, password).expect(422)).body.code).toBe('INVITATION.INVALID');
      }
    });

    it('a wrong password on accept is recorded as a failed sign-in of the account', async () => {
      const owner = await signUp(t.infrastructure);
      const existing = await signUp(t.infrastructure, 'Existing');
      const invited = await http('post', members(owner), owner.accessToken, { email: existing.email, role: 'FINANCE' }).expect(201);
      await accept(invited.body.invitationToken, 'not the accounts password').expect(401);
      const failures = (await t.infrastructure.store.readStream(`security-${existing.tenantId}`, { fromVersion: 0 })).map((e) => e.envelope).filter((e) => e.type === 'security.login-failed');
      expect(failures.at(-1)).toMatchObject({ data: { email: existing.email, reason: 'invitation-wrong-password' } });
    });

    it("a session from before a removal stays dead after the member is invited back", async () => {
      const owner = await signUp(t.infrastructure);
      const email = newEmail('returning');
      const invited = await http('post', members(owner), owner.accessToken, { email, role: 'FINANCE' }).expect(201);
      const before = (await accept(invited.body.invitationToken, PASSPHRASE).expect(200)).body;
      await http('delete', `${members(owner)}/${before.userId}`, owner.accessToken).expect(200);
      await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 5)); // tokens carry whole seconds
      const again = await http('post', members(owner), owner.accessToken, { email, role: 'FINANCE' }).expect(201);
      await accept(again.body.invitationToken, PASSPHRASE).expect(200);

      expect((await http('get', '/auth/me', before.accessToken).expect(401)).body.code).toBe('AUTH.SESSION_ENDED');
      expect((await http('post', '/auth/refresh', undefined, { refreshToken: before.refreshToken }).expect(401)).body.code).toBe('AUTH.SESSION_ENDED');
      await login(email, PASSPHRASE, owner.tenantId).expect(200);
    });

    it('an acceptance cut off after the account was claimed is resumed by accepting again with the same password', async () => {
      const owner = await signUp(t.infrastructure);
      const email = newEmail('cut-off');
      const invited = await http('post', members(owner), owner.accessToken, { email, role: 'FINANCE' }).expect(201);
      // What a crash between claiming the account and recording the membership leaves behind.
      const { hashPassword } = await import('../../src/auth/passwords');
      await t.infrastructure.identity.users.insertPending({ id: randomUUID(), email, passwordHash: await hashPassword(PASSPHRASE), homeTenantId: owner.tenantId }, new Date());
      const resumed = await accept(invited.body.invitationToken, PASSPHRASE).expect(200);
      expect(resumed.body).toMatchObject({ accountCreated: true, role: 'FINANCE' });
      await login(email, PASSPHRASE, owner.tenantId).expect(200);
    });
  });
});
