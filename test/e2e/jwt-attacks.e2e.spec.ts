import { randomBytes, randomUUID } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, SignJWT, type JWTPayload } from 'jose';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app';
import { bearer, signUp, TEST_PASSWORD, type TestTenant } from '../support/identity';

/** Known to the test only because it is given to the app: it lets the test mint tokens the app would mint. */
const SECRET = randomBytes(36).toString('base64url');
const KEY = new TextEncoder().encode(SECRET);
const ACCESS_SECONDS = 60;

type Claims = JWTPayload & { tid?: string; role?: string; fam?: string };
type Code = 'AUTH.INVALID_TOKEN' | 'AUTH.TOKEN_EXPIRED' | 'AUTH.SESSION_ENDED';

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Signs `claims` exactly as given (no defaults added), under the header and key chosen by the test. */
function mint(claims: Claims, options: { key?: Uint8Array; alg?: string; typ?: string } = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: options.alg ?? 'HS256', typ: options.typ ?? 'at+jwt' }).sign(options.key ?? KEY);
}

/** The `alg: none` trick: a header claiming no signature, any payload, and an empty signature part. */
function unsigned(claims: Claims, alg = 'none'): string {
  return `${b64({ alg, typ: 'at+jwt' })}.${b64(claims)}.`;
}

describe('forged, replayed and misused JWTs are refused (HTTP)', () => {
  let t: TestApp;
  let a: TestTenant;
  let b: TestTenant;
  /** The payload of a genuine access token of tenant A's owner. */
  let genuine: Claims;
  /** What a refusal must never echo: ids, names and addresses of either tenant. */
  let secrets: string[];

  beforeAll(async () => {
    t = await startTestApp({ env: { PROOFLINE_TOKEN_SECRET: SECRET, PROOFLINE_ACCESS_TOKEN_SECONDS: String(ACCESS_SECONDS) } });
    a = await signUp(t.infrastructure, 'Alpha Secret Works');
    b = await signUp(t.infrastructure, 'Bravo Hidden Holdings');
    genuine = decodeJwt(a.accessToken) as Claims;
    secrets = [a.tenantId, b.tenantId, a.email, b.email, a.ownerId, b.ownerId, 'Alpha Secret Works', 'Bravo Hidden Holdings'];
  });
  afterAll(() => t.close());

  const now = () => Math.floor(Date.now() / 1000);
  /** Both routes for the tenant the token claims: /auth/me and GET /workspaces/:id. */
  const routes = (token: string) => {
    const tenantId = (decodeJwt(token) as Claims).tid ?? a.tenantId;
    return [
      () => request(t.server).get('/auth/me').set(bearer(token)),
      () => request(t.server).get(`/workspaces/${tenantId}`).set(bearer(token)),
    ];
  };

  async function expectRefused(token: string, code: Code): Promise<void> {
    for (const call of routes(token)) {
      const response = await call();
      expect({ status: response.status, code: response.body.code }).toEqual({ status: 401, code });
      expect(response.body).toEqual({ code, message: expect.any(String), details: expect.any(Object) });
      expect(response.headers['www-authenticate']).toBe('Bearer realm="proofline"');
      const text = response.text;
      for (const secret of secrets) expect(text).not.toContain(secret);
    }
  }

  it('accepts the genuine token on both routes (control), and it has the configured lifetime', async () => {
    for (const call of routes(a.accessToken)) await call().expect(200);
    expect(genuine.exp! - genuine.iat!).toBe(ACCESS_SECONDS);
    expect(decodeProtectedHeader(a.accessToken)).toEqual({ alg: 'HS256', typ: 'at+jwt' });
  });

  it('accepts a token the test mints with the known secret and the genuine claims (so each refusal below is down to its one change)', async () => {
    const token = await mint({ ...genuine, jti: randomUUID() });
    const me = await request(t.server).get('/auth/me').set(bearer(token)).expect(200);
    expect(me.body).toEqual({ tenantId: a.tenantId, actorId: a.ownerId, roles: ['CUSTOMER_ADMIN'], via: 'access-token' });
    await request(t.server).get(`/workspaces/${a.tenantId}`).set(bearer(token)).expect(200);
  });

  it('refuses alg none with the genuine payload, however it is spelled', async () => {
    for (const alg of ['none', 'None', 'NONE']) await expectRefused(unsigned(genuine, alg), 'AUTH.INVALID_TOKEN');
  });

  it('refuses alg none with the role raised to ADMIN', async () => {
    await expectRefused(unsigned({ ...genuine, role: 'ADMIN' }), 'AUTH.INVALID_TOKEN');
    // The genuine signature glued onto the raised payload does not help either.
    const [, , signature] = a.accessToken.split('.');
    await expectRefused(`${b64({ alg: 'none', typ: 'at+jwt' })}.${b64({ ...genuine, role: 'ADMIN' })}.${signature}`, 'AUTH.INVALID_TOKEN');
  });

  it('refuses a token signed with another key, claims otherwise identical', async () => {
    await expectRefused(await mint(genuine, { key: randomBytes(48) }), 'AUTH.INVALID_TOKEN');
  });

  it('refuses HS512 (and HS384) under the right secret: the algorithm is pinned', async () => {
    await expectRefused(await mint(genuine, { alg: 'HS512' }), 'AUTH.INVALID_TOKEN');
    await expectRefused(await mint(genuine, { alg: 'HS384' }), 'AUTH.INVALID_TOKEN');
  });

  it('refuses an expired token of a live session with AUTH.TOKEN_EXPIRED', async () => {
    const expired = await mint({ ...genuine, jti: randomUUID(), iat: now() - 2 * ACCESS_SECONDS, exp: now() - ACCESS_SECONDS });
    await expectRefused(expired, 'AUTH.TOKEN_EXPIRED');
  });

  it('refuses a tampered payload that keeps the original signature', async () => {
    const [header, , signature] = a.accessToken.split('.');
    await expectRefused(`${header}.${b64({ ...genuine, tid: b.tenantId })}.${signature}`, 'AUTH.INVALID_TOKEN');
    await expectRefused(`${header}.${b64({ ...genuine, role: 'ADMIN' })}.${signature}`, 'AUTH.INVALID_TOKEN');
    await expectRefused(`${header}.${b64({ ...genuine, exp: genuine.exp! + 86_400 })}.${signature}`, 'AUTH.INVALID_TOKEN');
  });

  it('refuses a refresh token as a bearer credential, and an access token at /auth/refresh', async () => {
    await expectRefused(a.refreshToken, 'AUTH.INVALID_TOKEN');
    // Same claims as a genuine access token, but the refresh type: typ alone tells them apart.
    await expectRefused(await mint({ ...genuine, jti: randomUUID() }, { typ: 'refresh+jwt' }), 'AUTH.INVALID_TOKEN');

    const refused = await request(t.server).post('/auth/refresh').send({ refreshToken: a.accessToken }).expect(401);
    expect(refused.body.code).toBe('AUTH.INVALID_TOKEN');
    expect(refused.headers['www-authenticate']).toBe('Bearer realm="proofline"');
    expect(refused.body).not.toHaveProperty('accessToken');
  });

  it('refuses a wrong issuer or audience, even under the right secret', async () => {
    await expectRefused(await mint({ ...genuine, iss: 'someone-else' }), 'AUTH.INVALID_TOKEN');
    await expectRefused(await mint({ ...genuine, aud: 'another-api' }), 'AUTH.INVALID_TOKEN');
    const { iss: _iss, ...withoutIssuer } = genuine;
    await expectRefused(await mint(withoutIssuer), 'AUTH.INVALID_TOKEN');
  });

  it('refuses a correctly signed token whose session does not exist: the signature alone is not enough', async () => {
    await expectRefused(await mint({ ...genuine, jti: randomUUID(), fam: randomUUID() }), 'AUTH.SESSION_ENDED');
  });

  it('ends both tokens of a session at logout, and leaves other sessions alone', async () => {
    const login = await request(t.server).post('/auth/login').send({ email: a.email, password: TEST_PASSWORD }).expect(200);
    const { accessToken, refreshToken } = login.body as { accessToken: string; refreshToken: string };
    await request(t.server).get('/auth/me').set(bearer(accessToken)).expect(200);

    await request(t.server).post('/auth/logout').set(bearer(accessToken)).expect(204);

    await expectRefused(accessToken, 'AUTH.SESSION_ENDED');
    // Re-minting it with a fresh expiry does not revive the session.
    await expectRefused(await mint({ ...(decodeJwt(accessToken) as Claims), jti: randomUUID(), exp: now() + ACCESS_SECONDS }), 'AUTH.SESSION_ENDED');
    const refresh = await request(t.server).post('/auth/refresh').send({ refreshToken }).expect(401);
    expect(refresh.body.code).toBe('AUTH.SESSION_ENDED');
    // The sign-up session of the same account is another family: still valid.
    await request(t.server).get('/auth/me').set(bearer(a.accessToken)).expect(200);
  });
});
