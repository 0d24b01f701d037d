import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { ProoflineError } from '../../src/errors/proofline-error';
import { closeRedis, openRedis } from '../../src/auth/state/redis-connection';
import { RedisRateLimiter } from '../../src/auth/state/redis-rate-limiter';
import { RedisTokenFamilyStore } from '../../src/auth/state/redis-token-family-store';
import { failureOf, sleep } from '../conformance/helpers';
import { describeWithService, hostAndPort, serviceUrl } from '../support/services';
import { TcpProxy } from '../support/tcp-proxy';

/** Longest an operation may take to fail during an outage: callers must get a 503, not a hang. */
const FAIL_FAST_MS = 3_000;

async function expectUnavailable(operation: string, attempt: () => Promise<unknown>): Promise<void> {
  const started = Date.now();
  const error = await failureOf(attempt());
  expect(Date.now() - started).toBeLessThan(FAIL_FAST_MS);
  expect(error).toBeInstanceOf(ProoflineError);
  expect(error).toMatchObject({ code: 'DEPENDENCY.UNAVAILABLE', status: 503, details: { dependency: 'redis', operation } });
  expect((error as Error).message).toMatch(new RegExp(`^Redis is unreachable \\(${operation}\\): `));
}

async function eventually<T>(attempt: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(100);
    }
  }
}

describeWithService('redis', 'when Redis goes away and comes back', () => {
  const keyPrefix = `proofline-test:${randomUUID()}:`;
  const { host, port } = hostAndPort('redis');
  const signIn = { name: 'signin-ip', limit: 100, windowMs: 60_000 };
  let proxy: TcpProxy;
  let limiter: RedisRateLimiter;
  let families: RedisTokenFamilyStore;

  beforeAll(async () => {
    proxy = new TcpProxy(host, port);
    await proxy.start();
    // One client for both stores, as the application shares it.
    const redis = await openRedis(`redis://127.0.0.1:${proxy.port}`);
    limiter = new RedisRateLimiter(redis, keyPrefix);
    families = new RedisTokenFamilyStore(redis, keyPrefix);
  });

  afterAll(async () => {
    await proxy.start();
    await limiter?.close();
    await families?.close();
    await proxy.cut();
    const admin = await openRedis(serviceUrl('redis'));
    const keys = await admin.keys(`${keyPrefix}*`);
    if (keys.length > 0) await admin.del(...keys);
    await closeRedis(admin);
  });

  it('fails every operation within seconds with 503 DEPENDENCY.UNAVAILABLE, then the same stores work again with their state intact', async () => {
    const family = { familyId: randomUUID(), userId: 'user', tenantId: 'tenant', currentTokenId: 'first', expiresAt: Date.now() + 60_000 };
    await families.create(family);
    expect((await limiter.hit(signIn, '10.0.0.1')).allowed).toBe(true);

    await proxy.cut();
    // At once (the client may not yet have seen the connection drop), and again once it is busy reconnecting.
    for (const moment of ['just cut', 'while reconnecting']) {
      if (moment === 'while reconnecting') await sleep(1_500);
      await expectUnavailable('rate limit check', () => limiter.hit(signIn, '10.0.0.1'));
      await expectUnavailable('refresh token rotation', () => families.rotate(family.familyId, 'first', 'second'));
      await expectUnavailable('session check', () => families.isActive(family.familyId));
      await expectUnavailable('refresh family revoke', () => families.revoke(family.familyId));
      await expectUnavailable('refresh family create', () => families.create({ ...family, familyId: randomUUID() }));
    }

    await proxy.start();
    const afterOutage = await eventually(() => limiter.hit(signIn, '10.0.0.1'));

    expect(afterOutage).toMatchObject({ allowed: true, remaining: 98 });
    expect(await families.isActive(family.familyId)).toBe(true);
    expect(await families.rotate(family.familyId, 'first', 'second')).toMatchObject({ kind: 'rotated' });
  }, 30_000);
});

describe('opening a Redis connection', () => {
  let silent: Server | undefined;

  afterEach(async () => {
    await new Promise<void>((resolve) => (silent ? silent.close(() => resolve()) : resolve()));
    silent = undefined;
  });

  it('given nothing listening, fails at once with a 503 naming Redis and the cause', async () => {
    const closed = new TcpProxy('127.0.0.1', 1);
    await closed.start();
    await closed.cut();

    const error = await failureOf(openRedis(`redis://127.0.0.1:${closed.port}`));

    expect(error).toMatchObject({ code: 'DEPENDENCY.UNAVAILABLE', status: 503, details: { dependency: 'redis', operation: 'connect' } });
    expect((error as Error).message).toBe(`Redis is unreachable (connect): connect ECONNREFUSED 127.0.0.1:${closed.port}`);
  });

  it('given a server that accepts but never answers, gives up after connectTimeoutMs', async () => {
    // Reads and ignores everything, so it still notices the client hanging up and can close.
    const server = createServer((socket) => socket.resume());
    silent = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const started = Date.now();

    const error = await failureOf(openRedis(`redis://127.0.0.1:${port}`, { connectTimeoutMs: 500 }));

    expect(Date.now() - started).toBeLessThan(1_500);
    expect(error).toMatchObject({ code: 'DEPENDENCY.UNAVAILABLE', status: 503, message: 'Redis is unreachable (connect): no ready connection within 500 ms' });
  });
});
