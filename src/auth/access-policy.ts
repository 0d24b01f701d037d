import { SetMetadata } from '@nestjs/common';
import { ROLES, type Role } from '../workspaces/events';

export const ACCESS_POLICY = 'proofline:access-policy';

export type AccessPolicy =
  | { readonly kind: 'public' }
  | {
      readonly kind: 'roles';
      readonly roles: readonly Role[];
      /** The path parameter naming the tenant the route acts on; it must be the credential's tenant, or the answer is 404. */
      readonly tenantParam?: string;
    };

export const ANY_ROLE: readonly Role[] = ROLES;

/**
 * Declared next to every endpoint (or on its controller); the access guard refuses to serve a
 * route without one, and the route-table test calls every route with every role.
 */
export const Allow = (roles: readonly Role[], options: { tenantParam?: string } = {}) => SetMetadata(ACCESS_POLICY, { kind: 'roles', roles, tenantParam: options.tenantParam } satisfies AccessPolicy);

/** Reachable without a credential (sign-in, health, public keys); limits, if any, are the endpoint's own. */
export const PublicRoute = () => SetMetadata(ACCESS_POLICY, { kind: 'public' } satisfies AccessPolicy);
