import { ProofError, type ProofErrorKind } from './errors';

/**
 * Index and size arithmetic on plain numbers. JavaScript's bitwise operators truncate to 32 bits,
 * so everything here uses division and remainder instead, which stay exact for every safe
 * integer (sizes up to 2^53 − 1).
 */

export const isOdd = (x: number): boolean => x % 2 === 1;

/** x >> 1 without the 32-bit truncation of `>>`. */
export const half = (x: number): number => Math.floor(x / 2);

export function isPowerOfTwo(x: number): boolean {
  if (x < 1) return false;
  let v = x;
  while (v % 2 === 0) v /= 2;
  return v === 1;
}

/** The k of RFC 6962 §2.1: the largest power of two strictly smaller than n. Requires n ≥ 2. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** Throws `kind` unless `value` is a safe integer ≥ 0; `name` goes into the message. */
export function requireCount(value: number, name: string, kind: ProofErrorKind): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ProofError(kind, `${name} ${String(value)} is not a non-negative safe integer`);
  }
}
