import type { FastifyInstance } from 'fastify';
import { ProoflineError } from '../errors/proofline-error';

/**
 * How deeply a JSON body may nest. No Proofline command needs more than a few levels; the cap
 * stops a few kilobytes of brackets from exhausting the stack of every recursive walk after
 * parsing (validation, transformation, canonical JSON, hashing).
 */
export const MAX_JSON_DEPTH = 64;

/** Whether a parsed body nests deeper than `limit`: walked with an explicit stack, never recursively. */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  const pending: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  while (pending.length > 0) {
    const next = pending.pop()!;
    if (next.value === null || typeof next.value !== 'object') continue;
    const depth = next.depth + 1;
    if (depth > limit) return true;
    for (const item of Object.values(next.value)) pending.push({ value: item, depth });
  }
  return false;
}

export function tooDeep(limit = MAX_JSON_DEPTH): ProoflineError {
  const message = `the JSON body nests deeper than ${limit} levels`;
  return new ProoflineError('REQUEST.INVALID', message, 400, { fields: [{ field: 'body', rule: 'max-depth', message }] });
}

/**
 * Refuses an over-deep body as soon as it is parsed, before the access guard, validation or any
 * other walk sees it (a Fastify hook runs before Nest's pipeline).
 */
export function refuseDeepJson(fastify: FastifyInstance, limit = MAX_JSON_DEPTH): void {
  fastify.addHook('preValidation', async (request) => {
    if (nestsDeeperThan(request.body, limit)) throw tooDeep(limit);
  });
}
