export interface RateLimitRule {
  /** Names the rule in keys, metrics and errors, e.g. 'signin-ip'. */
  readonly name: string;
  readonly limit: number;
  readonly windowMs: number;
}

export interface RateLimitDecision {
  readonly allowed: boolean;
  readonly limit: number;
  /** Hits left in the window after this one (0 when refused). */
  readonly remaining: number;
  /** When refused: whole seconds (>= 1) until one more hit would be allowed; 0 when allowed. */
  readonly retryAfterSeconds: number;
}

export interface RateLimiter {
  /**
   * Sliding-window log: counts this hit of `key` under `rule` only when fewer than `rule.limit`
   * hits were counted in the last `rule.windowMs` (refused hits are not counted, so a client that
   * waits Retry-After gets through). `now` (epoch ms) defaults to Date.now().
   */
  hit(rule: RateLimitRule, key: string, now?: number): Promise<RateLimitDecision>;
  close(): Promise<void>;
}

/** Rounds a wait up to whole seconds, never below one: a Retry-After of 0 would invite an immediate retry that is refused again. */
export function retryAfterSeconds(waitMs: number): number {
  return Math.max(1, Math.ceil(waitMs / 1000));
}
