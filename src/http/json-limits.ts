import type { FastifyInstance } from 'fastify';
import { ProoflineError } from '../errors/proofline-error';

/**
 * How deeply a JSON body may nest. No Proofline command needs more than a few levels; the cap
 * stops a few kilobytes of brackets from exhausting the stack of every recursive walk after
 * parsing (validation, transformation, canonical JSON, hashing).
 */
export const MAX_JSON_DEPTH = 64;

/**
 * How many values (objects, arrays, scalars) a JSON body may hold. The byte limit alone lets a
 * megabyte of tiny members through, and transforming 60,000 keys costs seconds of CPU before
 * any handler or rate limit runs. No Proofline command comes near this.
 */
export const MAX_JSON_VALUES = 10_000;

/** The first limit a parsed body breaks, walked with an explicit stack (never recursively), or undefined. */
export function jsonLimitBroken(value: unknown, limits: { depth: number; values: number }): 'max-depth' | 'max-values' | undefined {
  const pending: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  let values = 0;
  while (pending.length > 0) {
    const next = pending.pop()!;
    values += 1;
    if (values > limits.values) return 'max-values';
    if (next.value === null || typeof next.value !== 'object') continue;
    const depth = next.depth + 1;
    if (depth > limits.depth) return 'max-depth';
    for (const item of Object.values(next.value)) pending.push({ value: item, depth });
  }
  return undefined;
}

/** Whether a parsed body nests deeper than `limit`. */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  return jsonLimitBroken(value, { depth: limit, values: Number.POSITIVE_INFINITY }) === 'max-depth';
}

function refusal(rule: 'max-depth' | 'max-values'): ProoflineError {
  const message = rule === 'max-depth' ? `the JSON body nests deeper than ${MAX_JSON_DEPTH} levels` : `the JSON body holds more than ${MAX_JSON_VALUES} values`;
  return new ProoflineError('REQUEST.INVALID', message, 400, { fields: [{ field: 'body', rule, message }] });
}

/**
 * Refuses an over-deep or over-large body as soon as it is parsed, before the access guard,
 * validation or any other walk sees it (a Fastify hook runs before Nest's pipeline).
 */
export function refuseOversizedJson(fastify: FastifyInstance): void {
  fastify.addHook('preValidation', async (request) => {
    const broken = jsonLimitBroken(request.body, { depth: MAX_JSON_DEPTH, values: MAX_JSON_VALUES });
    if (broken) throw refusal(broken);
  });
}
