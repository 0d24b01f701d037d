import { randomUUID } from 'node:crypto';
import type { RateLimitDecision, RateLimiter, RateLimitRule } from '../../src/auth/state/rate-limiter';

export interface OpenedRateLimiter {
  readonly limiter: RateLimiter;
  close(): Promise<void>;
}

/** A fixed epoch so the arithmetic in the tests reads plainly; the limiter is told the time. */
const T0 = 1_700_000_000_000;
const SECOND = 1_000;

/**
 * The behaviour every RateLimiter adapter must have, tested only through the port. The suite
 * shares one limiter between its tests; each test uses rule names and keys of its own.
 */
export function rateLimiterConformance(name: string, open: () => Promise<OpenedRateLimiter>): void {
  describe(`RateLimiter conformance: ${name}`, () => {
    let opened: OpenedRateLimiter | undefined;
    let limiter: RateLimiter;

    beforeAll(async () => {
      opened = await open();
      limiter = opened.limiter;
    });

    afterAll(async () => {
      await opened?.close();
    });

    const rule = (limit: number, windowMs: number): RateLimitRule => ({ name: `rule-${randomUUID()}`, limit, windowMs });
    const clientKey = () => `client-${randomUUID()}`;
    /** Hits one after the other (order matters to a sliding window), at the given times. */
    const hitsAt = async (limitRule: RateLimitRule, key: string, times: readonly number[]): Promise<RateLimitDecision[]> => {
      const decisions: RateLimitDecision[] = [];
      for (const time of times) decisions.push(await limiter.hit(limitRule, key, time));
      return decisions;
    };

    it('allows exactly `limit` hits in a window, counting remaining down to 0, then refuses', async () => {
      const fivePerMinute = rule(5, 60 * SECOND);
      const key = clientKey();

      const decisions = await hitsAt(fivePerMinute, key, [0, 1, 2, 3, 4, 5].map((s) => T0 + s * SECOND));

      expect(decisions.map((decision) => decision.allowed)).toEqual([true, true, true, true, true, false]);
      expect(decisions.map((decision) => decision.remaining)).toEqual([4, 3, 2, 1, 0, 0]);
      expect(decisions.every((decision) => decision.limit === 5)).toBe(true);
      expect(decisions.slice(0, 5).every((decision) => decision.retryAfterSeconds === 0)).toBe(true);
    });

    it('says to retry when the oldest counted hit leaves the window, and a client that waits that long gets through', async () => {
      const fivePerMinute = rule(5, 60 * SECOND);
      const key = clientKey();
      await hitsAt(fivePerMinute, key, [0, 1, 2, 3, 4].map((s) => T0 + s * SECOND));

      const refused = await limiter.hit(fivePerMinute, key, T0 + 10 * SECOND);

      expect(refused).toEqual({ allowed: false, limit: 5, remaining: 0, retryAfterSeconds: 50 });
      expect((await limiter.hit(fivePerMinute, key, T0 + 10 * SECOND + refused.retryAfterSeconds * SECOND)).allowed).toBe(true);
    });

    it('rounds the wait up to whole seconds and never says less than 1', async () => {
      const threePer10s = rule(3, 10 * SECOND);
      const key = clientKey();
      await hitsAt(threePer10s, key, [T0, T0 + 4 * SECOND, T0 + 8 * SECOND]);

      expect((await limiter.hit(threePer10s, key, T0 + 8_500)).retryAfterSeconds).toBe(2);
      expect((await limiter.hit(threePer10s, key, T0 + 9_999)).retryAfterSeconds).toBe(1);
    });

    it('slides: once the oldest hit is a window old it no longer counts, and the next refusal is timed by the next oldest', async () => {
      const threePer10s = rule(3, 10 * SECOND);
      const key = clientKey();
      await hitsAt(threePer10s, key, [T0, T0 + 4 * SECOND, T0 + 8 * SECOND]);

      const afterOldestLeft = await limiter.hit(threePer10s, key, T0 + 10 * SECOND + 1);
      const refusedAgain = await limiter.hit(threePer10s, key, T0 + 10_500);

      expect(afterOldestLeft).toMatchObject({ allowed: true, remaining: 0 });
      expect(refusedAgain).toMatchObject({ allowed: false, retryAfterSeconds: 4 });
      expect((await limiter.hit(threePer10s, key, T0 + 14 * SECOND)).allowed).toBe(true);
    });

    it('keeps keys apart, and rules apart even for the same key', async () => {
      const onePerMinute = rule(1, 60 * SECOND);
      const otherRule = rule(1, 60 * SECOND);
      const key = clientKey();
      const otherKey = clientKey();
      await limiter.hit(onePerMinute, key, T0);

      expect((await limiter.hit(onePerMinute, key, T0 + 1)).allowed).toBe(false);
      expect((await limiter.hit(onePerMinute, otherKey, T0 + 1)).allowed).toBe(true);
      expect((await limiter.hit(otherRule, key, T0 + 1)).allowed).toBe(true);
    });

    it('does not count refused hits: a client hammering through its refusals is let in when its counted hits leave', async () => {
      const twoPer10s = rule(2, 10 * SECOND);
      const key = clientKey();
      await hitsAt(twoPer10s, key, [T0, T0 + 1 * SECOND]);

      const hammering = await hitsAt(twoPer10s, key, [2, 3, 4, 5, 6, 7, 8, 9].map((s) => T0 + s * SECOND));
      const afterFirstLeft = await limiter.hit(twoPer10s, key, T0 + 10 * SECOND);
      const afterSecondLeft = await limiter.hit(twoPer10s, key, T0 + 11 * SECOND);

      expect(hammering.every((decision) => !decision.allowed)).toBe(true);
      expect(afterFirstLeft.allowed).toBe(true);
      expect(afterSecondLeft.allowed).toBe(true);
    });

    it('given 50 concurrent hits with limit 10, allows exactly 10, each with a different remaining', async () => {
      const tenPerMinute = rule(10, 60 * SECOND);
      const key = clientKey();

      const decisions = await Promise.all(Array.from({ length: 50 }, () => limiter.hit(tenPerMinute, key, T0)));

      const allowed = decisions.filter((decision) => decision.allowed);
      expect(allowed).toHaveLength(10);
      expect(allowed.map((decision) => decision.remaining).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(decisions.filter((decision) => !decision.allowed).every((decision) => decision.retryAfterSeconds === 60)).toBe(true);
    });

    it('reads the clock itself when not told the time', async () => {
      const onePerMinute = rule(1, 60 * SECOND);
      const key = clientKey();

      const first = await limiter.hit(onePerMinute, key);
      const second = await limiter.hit(onePerMinute, key);

      expect(first.allowed).toBe(true);
      expect(second.allowed).toBe(false);
      expect(second.retryAfterSeconds).toBeGreaterThanOrEqual(59);
      expect(second.retryAfterSeconds).toBeLessThanOrEqual(60);
    });
  });
}
