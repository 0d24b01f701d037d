import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { canonicalJson, newEventId, type Actor } from '../../contracts';
import type { Principal } from '../auth/principal';
import type { Role } from '../workspaces/events';
import type { CommandContext } from '../commands/command-context';
import { ProoflineError } from '../errors/proofline-error';

/** Who is calling, for which tenant, under which correlation id: all from the credential, none from a field. */
export interface RequestContext {
  readonly actor: Actor;
  /** The role the request was admitted under (the guard picked it from the credential's roles). */
  readonly role: Role;
  /** The credential's tenant; every command and query of the request runs in it. */
  readonly tenantId: string;
  readonly principal: Principal;
  readonly correlationId: string;
  readonly idempotencyKey?: string;
  readonly requestHash: string;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** The authenticated caller of a route the access guard admitted (docs/security.md). */
export const Caller = createParamDecorator((_: unknown, execution: ExecutionContext): RequestContext => {
  const request = execution.switchToHttp().getRequest<FastifyRequest>();
  return requestContextOf(request);
});

/** The address and correlation id of any request, authenticated or not. */
export const Client = createParamDecorator((_: unknown, execution: ExecutionContext) => {
  const request = execution.switchToHttp().getRequest<FastifyRequest>();
  requireHashableBody(request);
  return { ip: request.ip, correlationId: String(request.id) };
});

export function requestContextOf(request: FastifyRequest): RequestContext {
  const principal = request.principal;
  // Only reachable if a route used @Caller() while declaring itself public: a programming error, not a client's.
  if (!principal) throw new ProoflineError('AUTH.NO_PRINCIPAL', 'this endpoint reads the caller but admits anonymous requests', 500);
  const idempotencyKey = header(request, 'idempotency-key');
  if (idempotencyKey !== undefined) check('Idempotency-Key', idempotencyKey, IDEMPOTENCY_KEY, 'printable ASCII without spaces, 1 to 255 characters');
  requireHashableBody(request);
  return {
    actor: principal.actor,
    role: principal.actor.role as Role,
    tenantId: principal.tenantId,
    principal,
    correlationId: String(request.id),
    idempotencyKey,
    requestHash: createHash('sha256')
      // The caller is part of the request: another member reusing a key and body gets 422, not someone else's outcome.
      .update(canonicalJson({ method: request.method, path: request.url.split('?')[0], body: request.body ?? null, actor: principal.actor.id }))
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

/** What is signed must be representable in RFC 8785: a 400 naming the field, before anything is decided. */
function requireHashableBody(request: FastifyRequest): void {
  const unhashable = firstUnhashable(request.body);
  if (unhashable) throw new ProoflineError('REQUEST.INVALID', unhashable.message, 400, { fields: [unhashable] });
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The first value of a parsed JSON body that RFC 8785 cannot serialise, so that it could be neither
 * hashed (the idempotency request hash) nor signed: a string or key with a lone UTF-16 surrogate
 * ("\ud800" is valid JSON text), or a number beyond the double range (1e999 parses to Infinity).
 * Walked with an explicit stack, depth first in key order: no body can exhaust the call stack.
 */
function firstUnhashable(body: unknown): { field: string; rule: string; message: string } | undefined {
  const pending: Array<{ value: unknown; path: string }> = [{ value: body, path: '' }];
  while (pending.length > 0) {
    const { value, path } = pending.pop()!;
    const field = path || 'body';
    if (typeof value === 'string') {
      if (!value.isWellFormed()) return { field, rule: 'well-formed-unicode', message: `${field} must not contain a lone UTF-16 surrogate` };
    } else if (typeof value === 'number') {
      if (!Number.isFinite(value)) return { field, rule: 'finite-number', message: `${field} must be a number within the IEEE 754 double range` };
    } else if (value !== null && typeof value === 'object') {
      const children = Object.entries(value);
      for (const [key] of children) {
        if (!key.isWellFormed()) return { field: path ? `${path}.${key}` : key, rule: 'well-formed-unicode', message: `the field name ${JSON.stringify(key)} contains a lone UTF-16 surrogate` };
      }
      for (let index = children.length - 1; index >= 0; index -= 1) {
        const [key, item] = children[index];
        pending.push({ value: item, path: path ? `${path}.${key}` : key });
      }
    }
  }
  return undefined;
}

function check(field: string, value: string, pattern: RegExp, rule: string): void {
  if (!pattern.test(value)) {
    throw new ProoflineError('REQUEST.INVALID_HEADER', `${field} must be ${rule}`, 400, { fields: [{ field, rule: 'pattern', message: `${field} must be ${rule}` }] });
  }
}
