import type { Actor } from '../../contracts';
import type { Role } from '../workspaces/events';

/** Who a request runs as, decided from its credential alone: never from a body, query or header field. */
export interface Principal {
  readonly tenantId: string;
  /** `id` is the user id, or `api-key:<keyId>`; `role` is the role the request was admitted under. */
  readonly actor: Actor;
  readonly roles: readonly Role[];
  readonly via: 'access-token' | 'api-key';
  /** The sign-in session of an access token; logging out revokes it. */
  readonly familyId?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}
