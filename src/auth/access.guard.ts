import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import type { Infrastructure } from '../app/infrastructure';
import { INFRASTRUCTURE } from '../app/tokens';
import { ProoflineError, rejected } from '../errors/proofline-error';
import { ACCESS_POLICY, type AccessPolicy } from './access-policy';
import type { Principal } from './principal';
import { enforceRateLimit, tenantRequestsRule } from './rate-limits';

/**
 * Runs before every handler (and before body validation): authenticate, count against the
 * tenant's limit, then admit by tenant and role. A route of another tenant answers 404 so its
 * existence does not leak; both kinds of refusal are recorded as security events.
 */
@Injectable()
export class AccessGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(INFRASTRUCTURE) private readonly infrastructure: Infrastructure,
  ) {}

  async canActivate(execution: ExecutionContext): Promise<boolean> {
    const policy = this.reflector.getAllAndOverride<AccessPolicy | undefined>(ACCESS_POLICY, [execution.getHandler(), execution.getClass()]);
    // Fail closed: an endpoint someone forgot to declare serves nobody (and the route-table test names it).
    if (!policy) throw new ProoflineError('AUTH.NO_ACCESS_POLICY', 'this endpoint declares no access policy', 500);
    if (policy.kind === 'public') return true;
    const request = execution.switchToHttp().getRequest<FastifyRequest>();
    const { identity, config } = this.infrastructure;
    const principal = await identity.authenticator.authenticate(request.headers.authorization);
    request.principal = principal;
    await enforceRateLimit(identity.limiter, tenantRequestsRule(config.PROOFLINE_TENANT_REQUESTS_PER_MINUTE), principal.tenantId);
    const target = policy.tenantParam ? (request.params as Record<string, string | undefined>)[policy.tenantParam] : undefined;
    if (policy.tenantParam && target !== principal.tenantId) {
      await this.recordDenial(request, principal, 'foreign-tenant', policy.roles);
      throw rejected.notFound('RESOURCE.NOT_FOUND', 'no such resource');
    }
    const admittedAs = principal.roles.find((role) => policy.roles.includes(role));
    if (!admittedAs) {
      await this.recordDenial(request, principal, 'role', policy.roles);
      throw new ProoflineError('AUTH.ROLE_REQUIRED', `this endpoint needs one of the roles ${policy.roles.join(', ')}; the credential has ${principal.roles.join(', ')}`, 403, {
        required: policy.roles,
        roles: principal.roles,
      });
    }
    request.principal = { ...principal, actor: { id: principal.actor.id, role: admittedAs } };
    return true;
  }

  private async recordDenial(request: FastifyRequest, principal: Principal, reason: 'role' | 'foreign-tenant', requiredRoles: readonly string[]): Promise<void> {
    await this.infrastructure.identity.securityLog.record(
      { tenantId: principal.tenantId, actor: principal.actor, correlationId: String(request.id) },
      {
        type: 'security.access-denied',
        // The route pattern, not the URL: it names the endpoint without copying another tenant's ids into this tenant's log.
        data: { method: request.method, route: request.routeOptions.url ?? request.url.split('?')[0], reason, role: principal.actor.role, requiredRoles: [...requiredRoles], ip: request.ip },
      },
    );
  }
}
