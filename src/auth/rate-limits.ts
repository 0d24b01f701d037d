import { ProoflineError } from '../errors/proofline-error';
import type { RateLimiter, RateLimitRule } from './state/rate-limiter';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** The limits of docs/security.md ("Rate limits"); the per-tenant one is configured (PROOFLINE_TENANT_REQUESTS_PER_MINUTE). */
export const RATE_LIMITS = {
  signupPerIp: { name: 'signup-ip', limit: 5, windowMs: HOUR },
  signinPerIp: { name: 'signin-ip', limit: 10, windowMs: 15 * MINUTE },
  signinPerAccount: { name: 'signin-account', limit: 10, windowMs: 15 * MINUTE },
  passwordResetPerIp: { name: 'password-reset-ip', limit: 3, windowMs: HOUR },
  passwordResetPerAccount: { name: 'password-reset-account', limit: 3, windowMs: HOUR },
  invitationPerIp: { name: 'invitation-ip', limit: 10, windowMs: HOUR },
} satisfies Record<string, RateLimitRule>;

export function tenantRequestsRule(perMinute: number): RateLimitRule {
  return { name: 'tenant', limit: perMinute, windowMs: MINUTE };
}

/** Counts one hit; a refusal is a 429 with Retry-After in whole seconds. */
export async function enforceRateLimit(limiter: RateLimiter, rule: RateLimitRule, key: string): Promise<void> {
  const decision = await limiter.hit(rule, key);
  if (decision.allowed) return;
  throw new ProoflineError(
    'RATE_LIMIT.EXCEEDED',
    `too many requests: the ${rule.name} limit is ${rule.limit} per ${describeWindow(rule.windowMs)}; retry in ${decision.retryAfterSeconds} s`,
    429,
    { rule: rule.name, limit: rule.limit, windowSeconds: rule.windowMs / 1000, retryAfterSeconds: decision.retryAfterSeconds },
    { 'retry-after': String(decision.retryAfterSeconds) },
  );
}

function describeWindow(windowMs: number): string {
  if (windowMs % HOUR === 0) return windowMs === HOUR ? 'hour' : `${windowMs / HOUR} hours`;
  return windowMs === MINUTE ? 'minute' : `${windowMs / MINUTE} minutes`;
}
