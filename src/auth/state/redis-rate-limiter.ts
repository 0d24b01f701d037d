import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { retryAfterSeconds, type RateLimitDecision, type RateLimiter, type RateLimitRule } from './rate-limiter';
import { closeRedis, unavailable } from './redis-connection';

/**
 * KEYS[1] the hit log (a sorted set of hit times); ARGV now, windowMs, limit, member.
 * Returns {1, remaining} when the hit is counted, {0, msUntilOneMoreFits} when refused.
 * One script so that concurrent hits cannot all read the same count and all get in.
 */
const SLIDING_WINDOW_HIT = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
  return {1, limit - count - 1}
end
local index = math.max(count - limit, 0)
local leavesLast = redis.call('ZRANGE', KEYS[1], index, index, 'WITHSCORES')
local leavesAt = now
if leavesLast[2] then leavesAt = tonumber(leavesLast[2]) end
return {0, leavesAt + window - now}
`;

interface SlidingWindowScript {
  prooflineSlidingWindowHit(key: string, now: number, windowMs: number, limit: number, member: string): Promise<[number, number]>;
}

/** A sliding-window log per rule and key in a Redis sorted set, shared by every instance of the API. */
export class RedisRateLimiter implements RateLimiter {
  private readonly redis: Redis & SlidingWindowScript;

  constructor(
    redis: Redis,
    private readonly keyPrefix: string,
  ) {
    redis.defineCommand('prooflineSlidingWindowHit', { numberOfKeys: 1, lua: SLIDING_WINDOW_HIT });
    this.redis = redis as Redis & SlidingWindowScript;
  }

  async hit(rule: RateLimitRule, key: string, now = Date.now()): Promise<RateLimitDecision> {
    const logKey = `${this.keyPrefix}ratelimit:${rule.name}:${key}`;
    // Two hits in the same millisecond must both be logged, so the member cannot be the time alone.
    const member = `${now}-${randomUUID()}`;
    let reply: [number, number];
    try {
      reply = await this.redis.prooflineSlidingWindowHit(logKey, now, rule.windowMs, rule.limit, member);
    } catch (error) {
      throw unavailable('rate limit check', error);
    }
    const [counted, figure] = reply;
    return counted === 1
      ? { allowed: true, limit: rule.limit, remaining: figure, retryAfterSeconds: 0 }
      : { allowed: false, limit: rule.limit, remaining: 0, retryAfterSeconds: retryAfterSeconds(figure) };
  }

  /** Closes the client it was given; stores sharing that client may each call this. */
  async close(): Promise<void> {
    await closeRedis(this.redis);
  }
}
