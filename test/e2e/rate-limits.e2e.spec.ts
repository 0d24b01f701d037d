import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app';
import { bearer, signUp, TEST_PASSWORD } from '../support/identity';
import { describeWithService } from '../support/services';

type AuthStore = 'memory' | 'redis';

const WRONG_PASSWORD = 'not-the-password-at-all';
let addresses = 0;
/** A client address no other test used: each starts with a clean per-IP count. */
const freshIp = () => {
  addresses += 1;
  return `10.${(addresses >> 8) & 255}.${addresses & 255}.7`;
};
const freshEmail = (label: string) => `${label}-${randomUUID().slice(0, 8)}@example.test`;

/** A 429 as docs/security.md describes it: the rule, and Retry-After in whole seconds within (0, max]. */
function expectLimited(response: request.Response, rule: string, maxRetryAfter: number): void {
  expect({ status: response.status, code: response.body.code, rule: response.body.details?.rule }).toEqual({ status: 429, code: 'RATE_LIMIT.EXCEEDED', rule });
  const retryAfter = response.headers['retry-after'];
  expect(retryAfter).toMatch(/^\d+$/);
  expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
  expect(Number(retryAfter)).toBeLessThanOrEqual(maxRetryAfter);
  expect(response.body.details.retryAfterSeconds).toBe(Number(retryAfter));
}

function rateLimitSuite(authStore: AuthStore): void {
  /** A fresh app per describe, so one limit's counts never reach another's. */
  const appFor = (env: Record<string, string> = {}) => {
    const holder: { t?: TestApp } = {};
    beforeAll(async () => {
      holder.t = await startTestApp({ authStore, env: { PROOFLINE_TRUST_PROXY: '1', ...env } });
    });
    afterAll(() => holder.t?.close());
    return () => holder.t!;
  };

  describe('sign-up: 5 per hour per IP', () => {
    const app = appFor();
    const register = (ip: string, email: string) =>
      request(app().server).post('/auth/register').set('x-forwarded-for', ip).send({ email, password: TEST_PASSWORD, workspaceName: 'Limited Workspace' });
    const eventCount = async () => (await app().infrastructure.store.readAll({ commit: 0n, prepare: 0n }, 100_000)).length;

    it('admits 5, refuses the 6th with nothing created, and still admits another IP', async () => {
      const ip = freshIp();
      for (let i = 0; i < 5; i += 1) await register(ip, freshEmail('signup')).expect(201);

      const before = await eventCount();
      const refusedEmail = freshEmail('refused');
      expectLimited(await register(ip, refusedEmail), 'signup-ip', 3600);
      expect(await eventCount()).toBe(before);
      const login = await request(app().server).post('/auth/login').set('x-forwarded-for', freshIp()).send({ email: refusedEmail, password: TEST_PASSWORD });
      expect({ status: login.status, code: login.body.code }).toEqual({ status: 401, code: 'AUTH.INVALID_CREDENTIALS' });

      const other = await register(freshIp(), freshEmail('other')).expect(201);
      expect(other.body.workspaceId).toEqual(expect.any(String));
    });
  });

  describe('sign-in: 10 per 15 minutes per IP and per account', () => {
    const app = appFor();
    const login = (ip: string, email: string, password: string) => request(app().server).post('/auth/login').set('x-forwarded-for', ip).send({ email, password });

    it('counts every attempt from one IP, wrong passwords included, and refuses the 11th', async () => {
      const [guessed, other] = [await signUp(app().infrastructure), await signUp(app().infrastructure)];
      const ip = freshIp();
      for (let i = 0; i < 9; i += 1) {
        const wrong = await login(ip, guessed.email, WRONG_PASSWORD);
        expect({ status: wrong.status, code: wrong.body.code }).toEqual({ status: 401, code: 'AUTH.INVALID_CREDENTIALS' });
      }
      await login(ip, other.email, TEST_PASSWORD).expect(200);

      // The right password of an account nobody guessed at: refused by the IP's count alone.
      const refused = await login(ip, other.email, TEST_PASSWORD);
      expectLimited(refused, 'signin-ip', 15 * 60);
      expect(refused.body).not.toHaveProperty('accessToken');

      // Both accounts still sign in from elsewhere (the guessed one has used 9 of its 10).
      await login(freshIp(), guessed.email, TEST_PASSWORD).expect(200);
      await login(freshIp(), other.email, TEST_PASSWORD).expect(200);
    });

    it('counts attempts on one account across IPs, and refuses the 11th from a fresh IP', async () => {
      const [target, bystander] = [await signUp(app().infrastructure), await signUp(app().infrastructure)];
      for (let i = 0; i < 10; i += 1) {
        const wrong = await login(freshIp(), target.email, WRONG_PASSWORD);
        expect({ status: wrong.status, code: wrong.body.code }).toEqual({ status: 401, code: 'AUTH.INVALID_CREDENTIALS' });
      }

      expectLimited(await login(freshIp(), target.email, TEST_PASSWORD), 'signin-account', 15 * 60);
      // The address is compared normalised: changing its case is not a fresh account.
      expectLimited(await login(freshIp(), `  ${target.email.toUpperCase()} `, TEST_PASSWORD), 'signin-account', 15 * 60);

      await login(freshIp(), bystander.email, TEST_PASSWORD).expect(200);
    });
  });

  describe('password reset: 3 per hour per IP', () => {
    const app = appFor();
    const redeem = (ip: string) =>
      request(app().server).post('/auth/password-reset').set('x-forwarded-for', ip).send({ resetToken: `bogus-${randomUUID()}`, newPassword: 'a-brand-new-passphrase' });

    it('refuses the 4th bogus token from one IP, and still answers another IP', async () => {
      const ip = freshIp();
      for (let i = 0; i < 3; i += 1) {
        const invalid = await redeem(ip);
        expect({ status: invalid.status, code: invalid.body.code }).toEqual({ status: 400, code: 'AUTH.RESET_TOKEN_INVALID' });
      }
      expectLimited(await redeem(ip), 'password-reset-ip', 3600);

      const elsewhere = await redeem(freshIp());
      expect({ status: elsewhere.status, code: elsewhere.body.code }).toEqual({ status: 400, code: 'AUTH.RESET_TOKEN_INVALID' });
    });
  });

  describe('per tenant: PROOFLINE_TENANT_REQUESTS_PER_MINUTE', () => {
    const app = appFor({ PROOFLINE_TENANT_REQUESTS_PER_MINUTE: '5' });

    it('admits 5 authenticated requests a minute per tenant, refuses the 6th, and leaves other tenants and public routes alone', async () => {
      const [busy, quiet] = [await signUp(app().infrastructure, 'Busy'), await signUp(app().infrastructure, 'Quiet')];
      const read = (tenant: typeof busy, ip = freshIp()) => request(app().server).get(`/workspaces/${tenant.tenantId}`).set('x-forwarded-for', ip).set(bearer(tenant.accessToken));

      for (let i = 0; i < 5; i += 1) await read(busy).expect(200);
      const refused = await read(busy);
      expectLimited(refused, 'tenant', 60);
      expect(refused.text).not.toContain('Busy');
      // Every authenticated route counts against the same tenant, whatever the address.
      expectLimited(await request(app().server).get('/auth/me').set(bearer(busy.accessToken)), 'tenant', 60);

      for (let i = 0; i < 5; i += 1) await read(quiet).expect(200);
      for (let i = 0; i < 7; i += 1) await request(app().server).get('/health').expect(200);
    });
  });
}

describe('rate limits over HTTP [memory store]', () => rateLimitSuite('memory'));
describeWithService('redis', 'rate limits over HTTP, shared in Redis', () => rateLimitSuite('redis'));
