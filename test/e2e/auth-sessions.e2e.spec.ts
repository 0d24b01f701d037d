import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { DEMO_ACCOUNTS, DEMO_PASSWORD, DEMO_TENANT_ID, seedDemoTenant } from '../../src/app/demo-tenant';
import { ensureAdmin } from '../../src/auth/bootstrap';
import { startTestApp, type TestApp } from '../support/app';
import { addressPerTest, bearer, signUp } from '../support/identity';

/**
 * Sign-up, sign-in, refresh-token rotation with reuse detection, logout and bootstrap, over HTTP.
 * Each test comes from its own address (X-Forwarded-For, trusted here), so the per-IP sign-up
 * and sign-in limits are never what a test measures; they are tested on their own.
 */
describe('identity over HTTP: accounts and sessions', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { PROOFLINE_TRUST_PROXY: '1' } });
  });
  afterAll(() => t.close());

  const client = addressPerTest(1);

  const PASSWORD = 'a sturdy passphrase for tests';
  /** The name part as given (the password rule reads it), the domain unique. */
  const newEmail = (name: string) => `${name}@d${randomUUID().slice(0, 8)}.example.test`;
  const post = (path: string, body: object, token?: string) =>
    request(t.server)
      .post(path)
      .set('x-forwarded-for', client.current)
      .set(token ? bearer(token) : {})
      .send(body);
  const me = (token: string) => request(t.server).get('/auth/me').set('x-forwarded-for', client.current).set(bearer(token));
  const register = (email: string, password = PASSWORD) => post('/auth/register', { email, password, workspaceName: 'Sign-up Co' });
  const login = (email: string, password = PASSWORD, tenantId?: string) => post('/auth/login', { email, password, ...(tenantId ? { tenantId } : {}) });
  const refresh = (refreshToken: string) => post('/auth/refresh', { refreshToken });
  const stream = (streamId: string) => t.infrastructure.store.readStream(streamId, { fromVersion: 0 });
  const securityEvents = async (tenantId: string, type: string) => (await stream(`security-${tenantId}`)).filter((e) => e.envelope.type === type);
  const eventCount = async () => (await t.infrastructure.store.readAll({ commit: 0n, prepare: 0n }, 100_000)).length;

  describe('sign-up', () => {
    it('creates the account and its workspace, answers 201 with tokens, and names the owner (address normalised) in the first workspace event', async () => {
      const email = newEmail('ada');
      const signedUp = await register(email.replace('ada', 'Ada')).expect(201);
      expect(signedUp.headers['cache-control']).toBe('no-store');
      expect(signedUp.body).toMatchObject({ tokenType: 'Bearer', role: 'CUSTOMER_ADMIN', accessToken: expect.any(String), refreshToken: expect.any(String), workspaceId: expect.any(String) });
      const { userId, workspaceId, accessToken } = signedUp.body;
      expect(signedUp.body.tenantId).toBe(workspaceId);

      const who = await me(accessToken).expect(200);
      expect(who.body).toEqual({ tenantId: workspaceId, actorId: userId, roles: ['CUSTOMER_ADMIN'], via: 'access-token' });

      const [first] = await stream(`workspace-${workspaceId}`);
      expect(first.envelope).toMatchObject({
        type: 'workspaces.registered',
        schemaVersion: 2,
        tenantId: workspaceId,
        data: { workspaceId, name: 'Sign-up Co', planTier: 'FREE', owner: { userId, email, role: 'CUSTOMER_ADMIN' } },
      });
      expect(t.infrastructure.signer.verify(first.envelope)).toEqual({ valid: true });
    });

    it.each([
      ['that is too short', 'short-pass1', 'min-length'],
      ['that is well known', 'password1234', 'not-common'],
      ['that contains the e-mail name', 'hopper-grace-rocks-2024', 'not-email'],
      ['with too few distinct characters', 'abababababababab', 'variety'],
    ])('refuses a password %s (400 naming field and rule) and creates nothing', async (_case, password, rule) => {
      const email = newEmail('hopper-grace');
      const before = await eventCount();
      const refused = await register(email, password).expect(400);
      expect(refused.body).toEqual({ code: 'REQUEST.INVALID', message: expect.any(String), details: { fields: [{ field: 'password', rule, message: expect.any(String) }] } });
      expect(await eventCount()).toBe(before);
      expect(await t.infrastructure.database.knex('identity_users').where({ email }).first()).toBeUndefined();
    });

    it('refuses a malformed e-mail address (400 naming email)', async () => {
      const refused = await register('not-an-address').expect(400);
      expect(refused.body.code).toBe('REQUEST.INVALID');
      expect(refused.body.details.fields).toEqual([expect.objectContaining({ field: 'email' })]);
    });

    it('refuses an address that has an account, in any letter case (409 AUTH.EMAIL_TAKEN), and appends nothing', async () => {
      const email = newEmail('twice');
      await register(email).expect(201);
      const before = await eventCount();
      for (const again of [email, email.toUpperCase()]) {
        const taken = await register(again).expect(409);
        expect(taken.body).toMatchObject({ code: 'AUTH.EMAIL_TAKEN', details: { field: 'email' } });
      }
      expect(await eventCount()).toBe(before);
      expect(await t.infrastructure.database.knex('identity_users').whereRaw('lower(email) = ?', [email]).count({ n: '*' })).toEqual([{ n: 1 }]);
    });

    it('stores the password as an argon2id hash, never as given', async () => {
      const email = newEmail('hashed');
      await register(email).expect(201);
      const row = await t.infrastructure.database.knex('identity_users').where({ email }).first();
      expect(row.password_hash).toMatch(/^\$argon2id\$/);
      expect(row.password_hash).not.toContain(PASSWORD);
    });
  });

  describe('sign-in', () => {
    it('answers 200 with tokens for the right password, the address matched in any letter case', async () => {
      const email = newEmail('mixed');
      const { body: account } = await register(email).expect(201);
      const signedIn = await login(email.toUpperCase()).expect(200);
      expect(signedIn.headers['cache-control']).toBe('no-store');
      expect(signedIn.body).toMatchObject({ tokenType: 'Bearer', userId: account.userId, tenantId: account.workspaceId, role: 'CUSTOMER_ADMIN' });
      expect((await me(signedIn.body.accessToken).expect(200)).body.actorId).toBe(account.userId);
    });

    it('answers wrong password, unknown address and foreign workspace with the same 401, and records the real reason', async () => {
      const email = newEmail('victim');
      const { body: account } = await register(email).expect(201);
      const elsewhere = await signUp(t.infrastructure, 'Not Theirs');
      const unknown = newEmail('nobody');
      const wrongPassword = 'not the password at all';

      const answers = [await login(email, wrongPassword), await login(unknown, PASSWORD), await login(email, PASSWORD, elsewhere.tenantId)];
      for (const answer of answers) {
        expect(answer.status).toBe(401);
        expect(answer.headers['www-authenticate']).toBe('Bearer realm="proofline"');
      }
      expect(answers[0].body).toMatchObject({ code: 'AUTH.INVALID_CREDENTIALS' });
      expect(answers[1].body).toEqual(answers[0].body);
      expect(answers[2].body).toEqual(answers[0].body);

      const recorded = [
        ...(await securityEvents(account.workspaceId, 'security.login-failed')),
        ...(await securityEvents('proofline-system', 'security.login-failed')).filter((e) => e.envelope.data.email === unknown),
      ];
      expect(recorded.map((e) => e.envelope.data)).toEqual([
        { email, reason: 'wrong-password', ip: client.current },
        { email, reason: 'not-a-member', ip: client.current },
        { email: unknown, reason: 'unknown-account', ip: client.current },
      ]);
      for (const event of recorded) {
        expect(event.envelope.actor).toEqual({ id: 'anonymous', role: 'ANONYMOUS' });
        expect(t.infrastructure.signer.verify(event.envelope)).toEqual({ valid: true });
        expect(event.raw).not.toContain(wrongPassword);
        expect(event.raw).not.toContain(PASSWORD);
      }
      // nothing about the attempt lands in the workspace it was aimed at
      expect(await securityEvents(elsewhere.tenantId, 'security.login-failed')).toEqual([]);
    });

    it('with one trusted proxy hop, the client address is the one that proxy appended, not what the client wrote', async () => {
      const email = newEmail('spoofer');
      const { body: account } = await register(email).expect(201);
      await request(t.server).post('/auth/login').set('x-forwarded-for', `6.6.6.6, ${client.current}`).send({ email, password: 'not the password at all' }).expect(401);
      const [failed] = await securityEvents(account.workspaceId, 'security.login-failed');
      expect(failed.envelope.data.ip).toBe(client.current);
    });
  });

  describe('refresh-token rotation', () => {
    it('rotates; a rotated-away token presented again revokes its whole family, and only that family', async () => {
      const email = newEmail('rotor');
      const { body: first } = await register(email).expect(201);
      const other = (await login(email).expect(200)).body; // a second session of the same user

      const second = (await refresh(first.refreshToken).expect(200)).body;
      expect(second).toMatchObject({ userId: first.userId, tenantId: first.workspaceId, role: 'CUSTOMER_ADMIN' });
      expect(second.accessToken).not.toBe(first.accessToken);
      expect(second.refreshToken).not.toBe(first.refreshToken);
      await me(first.accessToken).expect(200); // the earlier access token lives on until logout or expiry
      const third = (await refresh(second.refreshToken).expect(200)).body; // the newest refresh token works

      const reused = await refresh(first.refreshToken).expect(401);
      expect(reused.body.code).toBe('AUTH.REFRESH_TOKEN_REUSED');
      const [detected] = await securityEvents(first.workspaceId, 'security.token-reuse-detected');
      expect(detected.envelope.data).toEqual({ userId: first.userId, familyId: expect.any(String), ip: client.current });
      expect(detected.envelope.actor).toEqual({ id: first.userId, role: 'CUSTOMER_ADMIN' });

      // the whole family is gone: the newest refresh token and every access token of it
      expect((await refresh(third.refreshToken).expect(401)).body.code).toBe('AUTH.SESSION_ENDED');
      for (const token of [first.accessToken, second.accessToken, third.accessToken]) {
        expect((await me(token).expect(401)).body.code).toBe('AUTH.SESSION_ENDED');
      }

      // the user's other session is untouched
      await me(other.accessToken).expect(200);
      const otherRotated = (await refresh(other.refreshToken).expect(200)).body;
      await me(otherRotated.accessToken).expect(200);
    });

    it('refuses an access token presented as a refresh token', async () => {
      const { body: account } = await register(newEmail('confused')).expect(201);
      expect((await refresh(account.accessToken).expect(401)).body.code).toBe('AUTH.INVALID_TOKEN');
    });
  });

  describe('logout', () => {
    it('answers 204 and ends the access token and its refresh token at once', async () => {
      const { body: session } = await register(newEmail('leaving')).expect(201);
      await post('/auth/logout', {}, session.accessToken).expect(204);
      expect((await me(session.accessToken).expect(401)).body.code).toBe('AUTH.SESSION_ENDED');
      expect((await refresh(session.refreshToken).expect(401)).body.code).toBe('AUTH.SESSION_ENDED');
    });

    it('refuses an API key: it has no session (409 AUTH.NOT_A_SESSION), and the key keeps working', async () => {
      const { body: owner } = await register(newEmail('keyholder')).expect(201);
      const created = await post(`/workspaces/${owner.workspaceId}/api-keys`, { name: 'robot', roles: ['TECHNICAL'] }, owner.accessToken).expect(201);
      const refused = await post('/auth/logout', {}, created.body.apiKey).expect(409);
      expect(refused.body.code).toBe('AUTH.NOT_A_SESSION');
      await me(created.body.apiKey).expect(200);
    });
  });

  describe('bootstrap', () => {
    it('ensureAdmin creates an ADMIN in a new "Proofline Operations" workspace once, and changes nothing the second time', async () => {
      const deps = { users: t.infrastructure.identity.users, states: t.infrastructure.states, pipeline: t.infrastructure.pipeline };
      const email = newEmail('operator');
      const made = await ensureAdmin(deps, { email, password: PASSWORD });
      expect(made.outcome).toBe('created');
      const [registered] = await stream(`workspace-${made.tenantId}`);
      expect(registered.envelope).toMatchObject({ type: 'workspaces.registered', data: { name: 'Proofline Operations', owner: { email, role: 'ADMIN' } } });

      const signedIn = await login(email).expect(200);
      expect(signedIn.body).toMatchObject({ tenantId: made.tenantId, role: 'ADMIN' });
      expect((await me(signedIn.body.accessToken).expect(200)).body.roles).toEqual(['ADMIN']);

      const before = await eventCount();
      expect(await ensureAdmin(deps, { email, password: 'another passphrase entirely' })).toEqual({ outcome: 'already-present', tenantId: made.tenantId });
      expect(await eventCount()).toBe(before);
      await login(email).expect(200); // the password was not overwritten
    });

    it('seedDemoTenant creates the four documented demo accounts, each signing in with its role, and a second seed appends nothing', async () => {
      await seedDemoTenant(t.infrastructure);
      expect(DEMO_ACCOUNTS.map((a) => a.role)).toEqual(['CUSTOMER_ADMIN', 'FINANCE', 'TECHNICAL', 'AUDITOR']);
      for (const account of DEMO_ACCOUNTS) {
        const signedIn = await login(account.email, DEMO_PASSWORD, DEMO_TENANT_ID).expect(200);
        expect(signedIn.body).toMatchObject({ tenantId: DEMO_TENANT_ID, role: account.role });
      }
      const before = await eventCount();
      await seedDemoTenant(t.infrastructure);
      expect(await eventCount()).toBe(before);
    });
  });
});
