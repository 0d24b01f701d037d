import { performance } from 'node:perf_hooks';

/** Timing and percentiles. */

export interface LatencySummary {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** Milliseconds, rounded to microseconds. */
export function summarize(latenciesMs: readonly number[]): LatencySummary {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, x) => sum + x, 0) / Math.max(1, sorted.length);
  return {
    count: sorted.length,
    mean: round(mean, 3),
    p50: round(percentile(sorted, 50), 3),
    p90: round(percentile(sorted, 90), 3),
    p99: round(percentile(sorted, 99), 3),
    max: round(sorted[sorted.length - 1] ?? NaN, 3),
  };
}

export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export function ratio(numerator: number, denominator: number): number {
  return round(numerator / denominator, 3);
}

export const elapsedMs = (since: number): number => performance.now() - since;
export const nowMs = (): number => performance.now();

/** Calls `fn` synchronously back to back for `durationMs`; returns calls per second. */
export function rateOf(durationMs: number, fn: () => void): number {
  for (let i = 0; i < 50; i++) fn();
  let calls = 0;
  const started = nowMs();
  while (elapsedMs(started) < durationMs) {
    fn();
    calls++;
  }
  return round((calls / elapsedMs(started)) * 1000, 0);
}
