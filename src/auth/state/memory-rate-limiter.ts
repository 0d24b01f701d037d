import { retryAfterSeconds, type RateLimitDecision, type RateLimiter, type RateLimitRule } from './rate-limiter';

interface HitLog {
  readonly windowMs: number;
  /** Times of the counted hits, oldest first. */
  times: number[];
}

/** Logs of keys nobody hit for a while are only dropped by a sweep, so run one at most this often. */
const SWEEP_INTERVAL_MS = 60_000;

/** A sliding-window log per rule and key, for a single process (tests, one-node deployments). */
export class MemoryRateLimiter implements RateLimiter {
  private readonly logs = new Map<string, HitLog>();
  private lastSweep = Number.NEGATIVE_INFINITY;

  async hit(rule: RateLimitRule, key: string, now = Date.now()): Promise<RateLimitDecision> {
    this.sweepIfDue(now);
    const logKey = `${rule.name}\u0000${key}`;
    const times = (this.logs.get(logKey)?.times ?? []).filter((time) => time > now - rule.windowMs);

    if (times.length < rule.limit) {
      times.push(now);
      // `now` is caller-supplied and may run backwards; the refusal arithmetic needs the log in order.
      if (times.length > 1 && times[times.length - 2] > now) times.sort((a, b) => a - b);
      this.logs.set(logKey, { windowMs: rule.windowMs, times });
      return { allowed: true, limit: rule.limit, remaining: rule.limit - times.length, retryAfterSeconds: 0 };
    }

    this.logs.set(logKey, { windowMs: rule.windowMs, times });
    // One more hit fits once all but limit-1 of the counted hits have left the window (a limit
    // below one never admits anything, so then just say "a whole window").
    const leavesLast = times[times.length - rule.limit] ?? now;
    return { allowed: false, limit: rule.limit, remaining: 0, retryAfterSeconds: retryAfterSeconds(leavesLast + rule.windowMs - now) };
  }

  async close(): Promise<void> {
    this.logs.clear();
  }

  private sweepIfDue(now: number): void {
    if (now - this.lastSweep < SWEEP_INTERVAL_MS) return;
    this.lastSweep = now;
    for (const [logKey, log] of this.logs) {
      if (log.times.every((time) => time <= now - log.windowMs)) this.logs.delete(logKey);
    }
  }
}
