import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { canonicalJson, newEventId, type Actor } from '../../contracts';
import type { CommandContext } from '../commands/command-context';
import { ProoflineError } from '../errors/proofline-error';

/** Who is calling and under which correlation id; the tenant is decided per route. */
export interface RequestContext {
  readonly actor: Actor;
  /** The tenant the caller acts for, if it named one. */
  readonly tenantId?: string;
  readonly correlationId: string;
  readonly idempotencyKey?: string;
  readonly requestHash: string;
}

const TOKEN = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;
const TENANT = /^[A-Za-z0-9][A-Za-z0-9_:@-]{0,127}$/;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * Until identity lands (docs/api.md, "Who is calling"), the caller names itself in the
 * X-Actor-Id, X-Actor-Role and X-Tenant-Id headers. Every command and query still runs as
 * (tenant, actor); only the source of those two values will change.
 */
export const Caller = createParamDecorator((_: unknown, execution: ExecutionContext): RequestContext => {
  const request = execution.switchToHttp().getRequest<FastifyRequest>();
  return requestContextOf(request);
});

export function requestContextOf(request: FastifyRequest): RequestContext {
  const actorId = header(request, 'x-actor-id') ?? 'anonymous';
  const role = header(request, 'x-actor-role') ?? 'ANONYMOUS';
  const tenantId = header(request, 'x-tenant-id');
  const idempotencyKey = header(request, 'idempotency-key');
  check('X-Actor-Id', actorId, TOKEN, 'letters, digits and ._:@- (at most 128)');
  check('X-Actor-Role', role, /^[A-Z][A-Z_]{0,31}$/, 'an upper-case role name such as ADMIN');
  if (tenantId !== undefined) check('X-Tenant-Id', tenantId, TENANT, 'letters, digits and _:@- (at most 128; no dots: they separate a stream\'s tenant from its entity)');
  if (idempotencyKey !== undefined) check('Idempotency-Key', idempotencyKey, IDEMPOTENCY_KEY, 'printable ASCII without spaces, 1 to 255 characters');
  const unhashable = firstUnhashable(request.body, '');
  if (unhashable) throw new ProoflineError('REQUEST.INVALID', unhashable.message, 400, { fields: [unhashable] });
  return {
    actor: { id: actorId, role },
    tenantId,
    correlationId: String(request.id),
    idempotencyKey,
    requestHash: createHash('sha256')
      .update(canonicalJson({ method: request.method, path: request.url.split('?')[0], body: request.body ?? null }))
      .digest('hex'),
  };
}

/** The command context for `tenantId`, stamped with the time and a command id. */
export function commandContext(caller: RequestContext, tenantId: string): CommandContext {
  const commandId = newEventId();
  return {
    tenantId,
    actor: caller.actor,
    correlationId: caller.correlationId,
    causationId: commandId,
    commandId,
    now: new Date().toISOString(),
    idempotency: caller.idempotencyKey ? { key: caller.idempotencyKey, requestHash: caller.requestHash } : undefined,
  };
}

/** The caller's tenant must be the one the route addresses; anything else looks like absence (404). */
export function requireTenant(caller: RequestContext, tenantId: string, notFound: () => ProoflineError): string {
  if (caller.tenantId !== tenantId) throw notFound();
  return tenantId;
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The first value of a parsed JSON body that RFC 8785 cannot serialise, so that it could be neither
 * hashed (the idempotency request hash) nor signed: a string or key with a lone UTF-16 surrogate
 * ("\ud800" is valid JSON text), or a number beyond the double range (1e999 parses to Infinity).
 */
function firstUnhashable(value: unknown, path: string): { field: string; rule: string; message: string } | undefined {
  const field = path || 'body';
  if (typeof value === 'string') {
    return value.isWellFormed() ? undefined : { field, rule: 'well-formed-unicode', message: `${field} must not contain a lone UTF-16 surrogate` };
  }
  if (typeof value === 'number') {
    return Number.isFinite(value) ? undefined : { field, rule: 'finite-number', message: `${field} must be a number within the IEEE 754 double range` };
  }
  if (value === null || typeof value !== 'object') return undefined;
  for (const [key, item] of Object.entries(value)) {
    const at = path ? `${path}.${key}` : key;
    if (!key.isWellFormed()) return { field: at, rule: 'well-formed-unicode', message: `the field name ${JSON.stringify(key)} contains a lone UTF-16 surrogate` };
    const problem = firstUnhashable(item, at);
    if (problem) return problem;
  }
  return undefined;
}

function check(field: string, value: string, pattern: RegExp, rule: string): void {
  if (!pattern.test(value)) {
    throw new ProoflineError('REQUEST.INVALID_HEADER', `${field} must be ${rule}`, 400, { fields: [{ field, rule: 'pattern', message: `${field} must be ${rule}` }] });
  }
}
