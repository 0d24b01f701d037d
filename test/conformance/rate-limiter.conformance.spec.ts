import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { MemoryRateLimiter } from '../../src/auth/state/memory-rate-limiter';
import { RedisRateLimiter } from '../../src/auth/state/redis-rate-limiter';
import { closeRedis, openRedis } from '../../src/auth/state/redis-connection';
import { deleteRedisKeys, uniqueRedisPrefix } from '../support/redis-keys';
import { describeWithService, serviceUrl } from '../support/services';
import { rateLimiterConformance } from './rate-limiter.conformance';
import { failureOf } from './helpers';

rateLimiterConformance('MemoryRateLimiter', async () => {
  const limiter = new MemoryRateLimiter();
  return { limiter, close: () => limiter.close() };
});

describe('MemoryRateLimiter, for any sorted sequence of hit times', () => {
  const scenario = fc.record({
    limit: fc.integer({ min: 1, max: 6 }),
    windowMs: fc.integer({ min: 1, max: 5_000 }),
    gaps: fc.array(fc.integer({ min: 0, max: 2_000 }), { minLength: 1, maxLength: 60 }),
  });

  it('never allows more than `limit` hits in any window, refuses only when `limit` allowed hits lie in the preceding window, and says how long that lasts', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ limit, windowMs, gaps }) => {
        const limiter = new MemoryRateLimiter();
        const rule = { name: 'property', limit, windowMs };
        const allowedTimes: number[] = [];
        let now = 1_700_000_000_000;
        for (const gap of gaps) {
          now += gap;
          const inPrecedingWindow = allowedTimes.filter((time) => time > now - windowMs);

          const decision = await limiter.hit(rule, 'client', now);

          if (decision.allowed) {
            allowedTimes.push(now);
            expect(inPrecedingWindow.length).toBeLessThan(limit);
            expect(decision.remaining).toBe(limit - inPrecedingWindow.length - 1);
          } else {
            expect(inPrecedingWindow.length).toBe(limit);
            expect(decision.retryAfterSeconds).toBe(Math.max(1, Math.ceil((inPrecedingWindow[0] + windowMs - now) / 1000)));
          }
        }
        // Any window of length windowMs holds the most allowed hits when it ends at one of them.
        for (const end of allowedTimes) {
          expect(allowedTimes.filter((time) => time > end - windowMs && time <= end).length).toBeLessThanOrEqual(limit);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describeWithService('redis', 'RedisRateLimiter', () => {
  const keyPrefix = uniqueRedisPrefix();
  let admin: Redis;

  beforeAll(async () => {
    admin = await openRedis(serviceUrl('redis'));
  });

  afterAll(async () => {
    await deleteRedisKeys(keyPrefix, admin);
    await closeRedis(admin);
  });

  rateLimiterConformance('RedisRateLimiter', async () => {
    const limiter = new RedisRateLimiter(await openRedis(serviceUrl('redis')), `${keyPrefix}conformance:`);
    return { limiter, close: () => limiter.close() };
  });

  describe('in Redis', () => {
    let limiter: RedisRateLimiter;

    beforeAll(async () => {
      limiter = new RedisRateLimiter(await openRedis(serviceUrl('redis')), `${keyPrefix}specifics:`);
    });

    afterAll(async () => {
      await limiter.close();
    });

    it('writes only keys under its prefix, each expiring within the window so idle clients cost nothing', async () => {
      const prefix = `${keyPrefix}specifics:`;
      const rule = { name: 'expiry', limit: 3, windowMs: 5_000 };

      await limiter.hit(rule, 'a');
      await limiter.hit(rule, 'b');

      const keys = await admin.keys(`${prefix}*`);
      expect(keys).toHaveLength(2);
      for (const key of keys) {
        const ttl = await admin.pttl(key);
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(rule.windowMs);
      }
    });

    it('turns an error reply from Redis into a 503 DEPENDENCY.UNAVAILABLE that says Redis answered', async () => {
      const prefix = `${keyPrefix}wrongtype:`;
      const wrongType = new RedisRateLimiter(admin, prefix);
      const rule = { name: 'wrongtype', limit: 3, windowMs: 5_000 };
      await wrongType.hit(rule, 'client');
      const [key] = await admin.keys(`${prefix}*`);
      await admin.set(key, 'not a sorted set', 'PX', 5_000);

      const error = await failureOf(wrongType.hit(rule, 'client'));

      expect(error).toMatchObject({
        code: 'DEPENDENCY.UNAVAILABLE',
        status: 503,
        details: { dependency: 'redis', operation: 'rate limit check' },
      });
      expect((error as Error).message).toMatch(/^Redis refused the command \(rate limit check\): WRONGTYPE/);
    });
  });
});
