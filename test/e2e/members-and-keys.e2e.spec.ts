import { createHash, randomUUID } from 'node:crypto';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app';
import { addressPerTest, bearer, signUp, TEST_PASSWORD, type TestTenant } from '../support/identity';

/**
 * Members, password resets and API keys over HTTP, as the workspace's CUSTOMER_ADMIN owner.
 * Each test comes from its own address (X-Forwarded-For, trusted here), so per-IP limits are
 * never what a test measures.
 */
describe('identity over HTTP: members, password resets and API keys', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { PROOFLINE_TRUST_PROXY: '1' } });
  });
  afterAll(() => t.close());

  const client = addressPerTest(2);

  const INITIAL = 'an initial passphrase, handed over';
  const newEmail = (name: string) => `${name}@d${randomUUID().slice(0, 8)}.example.test`;
  const http = (method: 'get' | 'post' | 'put' | 'delete', path: string, token?: string, body?: object) => {
    const call = request(t.server)[method](path).set('x-forwarded-for', client.current);
    if (token) void call.set(bearer(token));
    return body ? call.send(body) : call;
  };
  const me = (token: string) => http('get', '/auth/me', token);
  const login = (email: string, password: string, tenantId?: string) => http('post', '/auth/login', undefined, { email, password, ...(tenantId ? { tenantId } : {}) });
  const refresh = (refreshToken: string) => http('post', '/auth/refresh', undefined, { refreshToken });
  const members = (owner: TestTenant) => `/workspaces/${owner.tenantId}/members`;
  const addMember = (owner: TestTenant, body: object, token = owner.accessToken) => http('post', members(owner), token, body);
  const stream = (streamId: string) => t.infrastructure.store.readStream(streamId, { fromVersion: 0 });
  const workspaceEvents = async (tenantId: string) => (await stream(`workspace-${tenantId}`)).map((e) => e.envelope);
  const securityEvents = async (tenantId: string, type: string) => (await stream(`security-${tenantId}`)).map((e) => e.envelope).filter((e) => e.type === type);
  const eventCount = async () => (await t.infrastructure.store.readAll({ commit: 0n, prepare: 0n }, 100_000)).length;
  const accountRow = (email: string) => t.infrastructure.database.knex('identity_users').where({ email }).first();

  const accept = (invitationToken: string, password: string) => http('post', '/auth/invitations/accept', undefined, { invitationToken, password });
  /** A new member signed in to the owner's workspace (invited, then joined with a new account): its id and session. */
  const memberOf = async (owner: TestTenant, role: string) => {
    const email = newEmail('member');
    const invited = await addMember(owner, { email, role }).expect(201);
    const joined = await accept(invited.body.invitationToken, INITIAL).expect(200);
    const session = (await login(email, INITIAL, owner.tenantId).expect(200)).body;
    return { email, userId: joined.body.userId as string, session };
  };

  describe('members', () => {
    it('invites a new address; the invitee joins with a password of their choosing, signs in with the role and is listed', async () => {
      const owner = await signUp(t.infrastructure);
      const email = newEmail('finance');
      const invited = await addMember(owner, { email, role: 'FINANCE' }).expect(201);
      expect(invited.headers['cache-control']).toBe('no-store');
      expect(invited.body).toMatchObject({ invitationId: expect.any(String), email, role: 'FINANCE', streamId: `workspace-${owner.tenantId}`, events: [{ type: 'workspaces.member-invited' }] });
      expect(invited.body.invitationToken).toMatch(new RegExp(`^pli\\.${owner.tenantId}\\.${invited.body.invitationId}\\.[A-Za-z0-9_-]{43}$`));
      expect(JSON.stringify(await workspaceEvents(owner.tenantId))).not.toContain(invited.body.invitationToken.split('.')[3]);
      expect((await http('get', `/workspaces/${owner.tenantId}/invitations`, owner.accessToken).expect(200)).body.invitations).toEqual([
        { invitationId: invited.body.invitationId, email, role: 'FINANCE', status: 'pending', expiresAt: invited.body.expiresAt, invitedBy: owner.ownerId },
      ]);

      const joined = await accept(invited.body.invitationToken, INITIAL).expect(200);
      expect(joined.body).toMatchObject({ accountCreated: true, tenantId: owner.tenantId, role: 'FINANCE', accessToken: expect.any(String) });
      const added = { body: { userId: joined.body.userId as string } };
      expect((await workspaceEvents(owner.tenantId)).slice(-2)).toMatchObject([
        { type: 'workspaces.invitation-accepted', data: { invitationId: invited.body.invitationId, userId: added.body.userId } },
        { type: 'workspaces.member-added', data: { userId: added.body.userId, email, role: 'FINANCE' } },
      ]);
      expect((await accept(invited.body.invitationToken, INITIAL).expect(422)).body.code).toBe('INVITATION.INVALID'); // once

      const signedIn = await login(email, INITIAL, owner.tenantId).expect(200);
      expect(signedIn.body).toMatchObject({ userId: added.body.userId, tenantId: owner.tenantId, role: 'FINANCE' });

      const listed = await http('get', members(owner), owner.accessToken).expect(200);
      expect(listed.body.members).toEqual(
        expect.arrayContaining([
          { userId: owner.ownerId, email: owner.email, role: 'CUSTOMER_ADMIN' },
          { userId: added.body.userId, email, role: 'FINANCE' },
        ]),
      );
      expect(listed.body.members).toHaveLength(2);
    });

    it("changes a member's role as an event; the member's very next request acts under the new role", async () => {
      const owner = await signUp(t.infrastructure);
      const member = await memberOf(owner, 'FINANCE');
      await http('put', `${members(owner)}/${member.userId}/role`, owner.accessToken, { role: 'AUDITOR' }).expect(200);
      expect((await workspaceEvents(owner.tenantId)).at(-1)).toMatchObject({
        type: 'workspaces.member-role-changed',
        actor: { id: owner.ownerId, role: 'CUSTOMER_ADMIN' },
        data: { userId: member.userId, role: 'AUDITOR', previousRole: 'FINANCE' },
      });

      expect((await me(member.session.accessToken).expect(200)).body.roles).toEqual(['AUDITOR']); // the same token, the current role
      const refreshed = await refresh(member.session.refreshToken).expect(200);
      expect(refreshed.body.role).toBe('AUDITOR');
      expect((await me(refreshed.body.accessToken).expect(200)).body.roles).toEqual(['AUDITOR']);
    });

    it('refuses a CUSTOMER_ADMIN granting ADMIN (403 MEMBER.ADMIN_ROLE_REQUIRED), appends nothing and leaves no account behind', async () => {
      const owner = await signUp(t.infrastructure);
      const member = await memberOf(owner, 'FINANCE');
      const before = await eventCount();
      const email = newEmail('would-be-admin');
      const added = await addMember(owner, { email, role: 'ADMIN' }).expect(403);
      expect(added.body.code).toBe('MEMBER.ADMIN_ROLE_REQUIRED');
      const promoted = await http('put', `${members(owner)}/${member.userId}/role`, owner.accessToken, { role: 'ADMIN' }).expect(403);
      expect(promoted.body.code).toBe('MEMBER.ADMIN_ROLE_REQUIRED');
      expect(await eventCount()).toBe(before);
      expect(await accountRow(email)).toBeUndefined();
    });

    it('refuses to remove or demote the last administrator (409 MEMBER.LAST_ADMINISTRATOR)', async () => {
      const owner = await signUp(t.infrastructure);
      await memberOf(owner, 'FINANCE');
      const before = await eventCount();
      const demoted = await http('put', `${members(owner)}/${owner.ownerId}/role`, owner.accessToken, { role: 'FINANCE' }).expect(409);
      expect(demoted.body.code).toBe('MEMBER.LAST_ADMINISTRATOR');
      const removed = await http('delete', `${members(owner)}/${owner.ownerId}`, owner.accessToken).expect(409);
      expect(removed.body.code).toBe('MEMBER.LAST_ADMINISTRATOR');
      expect(await eventCount()).toBe(before);
    });

    it("removes a member; the member's very next request and refresh are refused (401 AUTH.SESSION_ENDED)", async () => {
      const owner = await signUp(t.infrastructure);
      const member = await memberOf(owner, 'FINANCE');
      await http('delete', `${members(owner)}/${member.userId}`, owner.accessToken).expect(200);
      expect((await workspaceEvents(owner.tenantId)).at(-1)).toMatchObject({ type: 'workspaces.member-removed', data: { userId: member.userId, previousRole: 'FINANCE' } });
      expect((await me(member.session.accessToken).expect(401)).body.code).toBe('AUTH.SESSION_ENDED');
      expect((await refresh(member.session.refreshToken).expect(401)).body.code).toBe('AUTH.SESSION_ENDED');
      expect((await login(member.email, INITIAL, owner.tenantId).expect(401)).body.code).toBe('AUTH.INVALID_CREDENTIALS');
    });

    it('refuses a FINANCE member managing members (403 AUTH.ROLE_REQUIRED) and records the denial', async () => {
      const owner = await signUp(t.infrastructure);
      const member = await memberOf(owner, 'FINANCE');
      const before = (await workspaceEvents(owner.tenantId)).length;
      const refused = await addMember(owner, { email: newEmail('sneaky'), role: 'FINANCE' }, member.session.accessToken).expect(403);
      expect(refused.body).toMatchObject({ code: 'AUTH.ROLE_REQUIRED', details: { required: ['ADMIN', 'CUSTOMER_ADMIN'], roles: ['FINANCE'] } });
      expect(await securityEvents(owner.tenantId, 'security.access-denied')).toEqual([
        expect.objectContaining({
          actor: { id: member.userId, role: 'FINANCE' },
          data: { method: 'POST', route: '/workspaces/:workspaceId/members', reason: 'role', role: 'FINANCE', requiredRoles: ['ADMIN', 'CUSTOMER_ADMIN'], ip: client.current },
        }),
      ]);
      expect(await workspaceEvents(owner.tenantId)).toHaveLength(before);
    });

    it('an account that exists (signed up elsewhere) joins only by accepting with its own password; it then signs in to either workspace', async () => {
      const owner = await signUp(t.infrastructure);
      const other = await signUp(t.infrastructure, 'Their Own');
      const invited = await addMember(owner, { email: other.email.toUpperCase(), role: 'FINANCE' }).expect(201);
      expect((await login(other.email, TEST_PASSWORD, owner.tenantId).expect(401)).body.code).toBe('AUTH.INVALID_CREDENTIALS'); // not a member until accepted
      expect((await accept(invited.body.invitationToken, 'not the accounts password').expect(401)).body.code).toBe('AUTH.INVALID_CREDENTIALS');
      const joined = await accept(invited.body.invitationToken, TEST_PASSWORD).expect(200);
      expect(joined.body).toMatchObject({ userId: other.ownerId, accountCreated: false, tenantId: owner.tenantId, role: 'FINANCE' });
      expect((await login(other.email, TEST_PASSWORD, owner.tenantId).expect(200)).body).toMatchObject({ tenantId: owner.tenantId, role: 'FINANCE' });
      expect((await login(other.email, TEST_PASSWORD, other.tenantId).expect(200)).body).toMatchObject({ tenantId: other.tenantId, role: 'CUSTOMER_ADMIN' });
      expect((await login(other.email, TEST_PASSWORD).expect(200)).body.tenantId).toBe(other.tenantId); // home by default
    });

    it('refuses an initialPassword (400 naming it): nobody sets another person\'s password; creates nothing', async () => {
      const owner = await signUp(t.infrastructure);
      const before = await eventCount();
      const email = newEmail('newcomer');
      const refused = await addMember(owner, { email, role: 'FINANCE', initialPassword: INITIAL }).expect(400);
      expect(refused.body).toMatchObject({ code: 'REQUEST.INVALID', details: { fields: [{ field: 'initialPassword', rule: 'not-accepted' }] } });
      expect(await eventCount()).toBe(before);
      expect(await accountRow(email)).toBeUndefined();
    });

    it('refuses a weak password when a new account accepts (400 naming password): no account, the invitation still pending', async () => {
      const owner = await signUp(t.infrastructure);
      const email = newEmail('newcomer');
      const invited = await addMember(owner, { email, role: 'FINANCE' }).expect(201);
      const refused = await accept(invited.body.invitationToken, 'password1234').expect(400);
      expect(refused.body).toMatchObject({ code: 'REQUEST.INVALID', details: { fields: [{ field: 'password', rule: 'not-common' }] } });
      expect(await accountRow(email)).toBeUndefined();
      await accept(invited.body.invitationToken, INITIAL).expect(200);
    });

    it('a retried invitation (same Idempotency-Key) invites no one more and says the token was shown once', async () => {
      const owner = await signUp(t.infrastructure);
      const email = newEmail('retried');
      const first = await addMember(owner, { email, role: 'FINANCE' }).set('idempotency-key', 'invite-1').expect(201);
      const before = await eventCount();
      const retry = await addMember(owner, { email, role: 'FINANCE' }).set('idempotency-key', 'invite-1').expect(409);
      expect(retry.body).toMatchObject({ code: 'INVITATION.TOKEN_SHOWN_ONCE', details: { invitationId: first.body.invitationId } });
      expect(retry.text).not.toContain('pli.');
      expect(await eventCount()).toBe(before);
      await accept(first.body.invitationToken, INITIAL).expect(200); // the first token still works
    });

    it('a revoked invitation, or one replaced by a newer invitation, no longer works', async () => {
      const owner = await signUp(t.infrastructure);
      const email = newEmail('twice');
      const first = await addMember(owner, { email, role: 'FINANCE' }).expect(201);
      const second = await addMember(owner, { email, role: 'AUDITOR' }).expect(201);
      expect((await accept(first.body.invitationToken, INITIAL).expect(422)).body.code).toBe('INVITATION.INVALID');
      await http('post', `/workspaces/${owner.tenantId}/invitations/${second.body.invitationId}/revoke`, owner.accessToken, { reason: 'wrong address' }).expect(200);
      expect((await accept(second.body.invitationToken, INITIAL).expect(422)).body.code).toBe('INVITATION.INVALID');
      expect(await accountRow(email)).toBeUndefined();
      const statuses = (await http('get', `/workspaces/${owner.tenantId}/invitations`, owner.accessToken).expect(200)).body.invitations.map((i: { status: string }) => i.status);
      expect(statuses).toEqual(['revoked', 'revoked']);
    });
  });

  describe('password reset', () => {
    const NEW_PASSWORD = 'a brand new passphrase';
    const redeem = (resetToken: string, newPassword: string) => http('post', '/auth/password-reset', undefined, { resetToken, newPassword });
    /** Until the next whole second: a session's auth_time and the password-change check are in whole seconds. */
    const nextSecond = () => new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 5));

    it('an administrator issues a one-time token; redeeming it changes the password and ends earlier sessions', async () => {
      const owner = await signUp(t.infrastructure);
      const member = await memberOf(owner, 'FINANCE');
      await nextSecond(); // the change falls in a later second than the sign-in (the same second: see the known gap below)
      const issued = await http('post', `${members(owner)}/${member.userId}/password-reset`, owner.accessToken).expect(201);
      expect(issued.body).toEqual({ resetToken: expect.any(String), expiresAt: expect.any(String) });
      expect(Math.abs(Date.parse(issued.body.expiresAt) - Date.now() - 3_600_000)).toBeLessThan(60_000);
      const [issuedEvent] = await securityEvents(owner.tenantId, 'security.password-reset-issued');
      expect(issuedEvent).toMatchObject({ actor: { id: owner.ownerId, role: 'CUSTOMER_ADMIN' }, data: { userId: member.userId, expiresAt: issued.body.expiresAt } });
      expect(JSON.stringify(issuedEvent)).not.toContain(issued.body.resetToken);

      const weak = await redeem(issued.body.resetToken, 'short').expect(400);
      expect(weak.body).toMatchObject({ code: 'REQUEST.INVALID', details: { fields: [{ field: 'newPassword', rule: 'min-length' }] } });
      await redeem(issued.body.resetToken, NEW_PASSWORD).expect(204); // a refused password left the token usable

      expect((await login(member.email, INITIAL, owner.tenantId).expect(401)).body.code).toBe('AUTH.INVALID_CREDENTIALS');
      await login(member.email, NEW_PASSWORD, owner.tenantId).expect(200);
      const again = await redeem(issued.body.resetToken, 'yet another passphrase').expect(400);
      expect(again.body.code).toBe('AUTH.RESET_TOKEN_INVALID');
      expect((await refresh(member.session.refreshToken).expect(401)).body.code).toBe('AUTH.SESSION_ENDED');

      const [changed] = await securityEvents(owner.tenantId, 'security.password-changed');
      expect(changed).toMatchObject({ data: { userId: member.userId, via: 'reset-token' } });
      expect(JSON.stringify(changed)).not.toContain(NEW_PASSWORD);
    });

    // The session is bound to the exact password-change time (pwv claim), not to auth_time in whole seconds.
    it('ends a session signed in within the same second as the password change', async () => {
      const owner = await signUp(t.infrastructure);
      await nextSecond();
      const member = await memberOf(owner, 'FINANCE');
      const issued = await http('post', `${members(owner)}/${member.userId}/password-reset`, owner.accessToken).expect(201);
      await redeem(issued.body.resetToken, NEW_PASSWORD).expect(204);
      expect((await refresh(member.session.refreshToken)).body.code).toBe('AUTH.SESSION_ENDED');
    });

    it('refuses a reset for an account created in another workspace (403 AUTH.RESET_OUTSIDE_HOME_WORKSPACE)', async () => {
      const owner = await signUp(t.infrastructure);
      const other = await signUp(t.infrastructure, 'Their Own');
      const invited = await addMember(owner, { email: other.email, role: 'FINANCE' }).expect(201);
      await accept(invited.body.invitationToken, TEST_PASSWORD).expect(200);
      const refused = await http('post', `${members(owner)}/${other.ownerId}/password-reset`, owner.accessToken).expect(403);
      expect(refused.body.code).toBe('AUTH.RESET_OUTSIDE_HOME_WORKSPACE');
      expect(await securityEvents(owner.tenantId, 'security.password-reset-issued')).toEqual([]);
    });
  });

  describe('API keys', () => {
    const keys = (owner: TestTenant) => `/workspaces/${owner.tenantId}/api-keys`;
    const createKey = (owner: TestTenant, roles: string[], name = 'billing-ingest') => http('post', keys(owner), owner.accessToken, { name, roles });

    it('a retried creation (same Idempotency-Key) creates nothing more and says the secret was shown once', async () => {
      const owner = await signUp(t.infrastructure);
      const first = await createKey(owner, ['TECHNICAL']).set('idempotency-key', 'key-1').expect(201);
      const before = await eventCount();
      const retry = await createKey(owner, ['TECHNICAL']).set('idempotency-key', 'key-1').expect(409);
      expect(retry.body).toMatchObject({ code: 'API_KEY.SECRET_SHOWN_ONCE', details: { keyId: first.body.keyId } });
      expect(retry.text).not.toContain('plk.');
      expect(await eventCount()).toBe(before);
      await me(first.body.apiKey).expect(200);
    });

    it('shows the key once; it authenticates as the key, and only its SHA-256 is kept anywhere', async () => {
      const owner = await signUp(t.infrastructure);
      const created = await createKey(owner, ['TECHNICAL']).expect(201);
      expect(created.headers['cache-control']).toBe('no-store');
      const { keyId, apiKey } = created.body;
      expect(created.body).toMatchObject({ name: 'billing-ingest', roles: ['TECHNICAL'], events: [{ type: 'workspaces.api-key-created' }] });
      expect(apiKey).toMatch(new RegExp(`^plk\\.${owner.tenantId}\\.${keyId}\\.[A-Za-z0-9_-]{43}$`));
      const secret = (apiKey as string).split('.')[3];

      expect((await http('get', keys(owner), owner.accessToken).expect(200)).body.apiKeys).toEqual([{ keyId, name: 'billing-ingest', roles: ['TECHNICAL'], revoked: false, lastUsedAt: null }]);
      const who = await me(apiKey).expect(200);
      expect(who.body).toEqual({ tenantId: owner.tenantId, actorId: `api-key:${keyId}`, roles: ['TECHNICAL'], via: 'api-key' });
      const listed = await http('get', keys(owner), owner.accessToken).expect(200);
      expect(listed.body.apiKeys).toEqual([{ keyId, name: 'billing-ingest', roles: ['TECHNICAL'], revoked: false, lastUsedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) }]);
      expect(listed.text).not.toContain(secret);

      expect((await workspaceEvents(owner.tenantId)).at(-1)).toMatchObject({
        type: 'workspaces.api-key-created',
        data: { keyId, name: 'billing-ingest', roles: ['TECHNICAL'], secretSha256: createHash('sha256').update(secret).digest('hex') },
      });
      const everything = await t.infrastructure.store.readAll({ commit: 0n, prepare: 0n }, 100_000);
      expect(everything.filter((e) => e.raw.includes(secret))).toEqual([]);
      // nor in any table (snapshots, idempotency records, usage...)
      const knex = t.infrastructure.database.knex;
      const tables: Array<{ table_name: string }> = (await knex.raw("select table_name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'")).rows;
      expect(tables.length).toBeGreaterThan(3);
      for (const { table_name } of tables) {
        const rows: Array<Record<string, unknown>> = await knex(table_name).select('*');
        const text = JSON.stringify(rows, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
        const bytes = rows.flatMap((row) => Object.values(row).filter((value): value is Buffer => Buffer.isBuffer(value)).map((value) => value.toString('utf8')));
        expect({ table: table_name, leaks: text.includes(secret) || bytes.some((value) => value.includes(secret)) }).toEqual({ table: table_name, leaks: false });
      }
    });

    it('refuses a key with a wrong secret (401 AUTH.INVALID_API_KEY)', async () => {
      const owner = await signUp(t.infrastructure);
      const { keyId } = (await createKey(owner, ['TECHNICAL']).expect(201)).body;
      const forged = await me(`plk.${owner.tenantId}.${keyId}.${'A'.repeat(43)}`).expect(401);
      expect(forged.body.code).toBe('AUTH.INVALID_API_KEY');
    });

    it('refuses a CUSTOMER_ADMIN creating an ADMIN key (403) and appends nothing', async () => {
      const owner = await signUp(t.infrastructure);
      const before = await eventCount();
      const refused = await createKey(owner, ['ADMIN']).expect(403);
      expect(refused.body.code).toBe('MEMBER.ADMIN_ROLE_REQUIRED');
      expect(await eventCount()).toBe(before);
    });

    it('revokes a key as an event: its next request is refused', async () => {
      const owner = await signUp(t.infrastructure);
      const { keyId, apiKey } = (await createKey(owner, ['TECHNICAL']).expect(201)).body;
      await me(apiKey).expect(200);
      const revoked = await http('post', `${keys(owner)}/${keyId}/revoke`, owner.accessToken, { reason: 'rotated' }).expect(200);
      expect(revoked.body.events).toEqual([expect.objectContaining({ type: 'workspaces.api-key-revoked' })]);
      expect((await workspaceEvents(owner.tenantId)).at(-1)).toMatchObject({ type: 'workspaces.api-key-revoked', data: { keyId, reason: 'rotated' } });
      expect((await me(apiKey).expect(401)).body.code).toBe('AUTH.INVALID_API_KEY');
      expect((await http('get', keys(owner), owner.accessToken).expect(200)).body.apiKeys).toEqual([expect.objectContaining({ keyId, revoked: true })]);
    });

    it("answers 404 to a key of tenant A on tenant B's route, and records it on A's log", async () => {
      const a = await signUp(t.infrastructure, 'Tenant A');
      const b = await signUp(t.infrastructure, 'Tenant B');
      const { keyId, apiKey } = (await createKey(a, ['AUDITOR']).expect(201)).body;
      await http('get', `/workspaces/${a.tenantId}/members`, apiKey).expect(200);
      const foreign = await http('get', `/workspaces/${b.tenantId}/members`, apiKey).expect(404);
      expect(foreign.body.code).toBe('RESOURCE.NOT_FOUND');
      expect(await securityEvents(a.tenantId, 'security.access-denied')).toEqual([
        expect.objectContaining({ actor: { id: `api-key:${keyId}`, role: 'AUDITOR' }, data: expect.objectContaining({ reason: 'foreign-tenant', route: '/workspaces/:workspaceId/members' }) }),
      ]);
      expect(await securityEvents(b.tenantId, 'security.access-denied')).toEqual([]);
    });
  });
});
