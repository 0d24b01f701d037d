import { RequestMethod, type Type } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { ACCESS_POLICY, type AccessPolicy } from '../auth/access-policy';

export interface Route {
  readonly method: string;
  /** In Fastify's syntax, e.g. `/workspaces/:workspaceId/members`. */
  readonly path: string;
  readonly controller: string;
  readonly handler: string;
  readonly policy: AccessPolicy | undefined;
}

/** Every route the controllers declare, with its access policy, read from the same metadata Nest routes by. */
export function routeTable(controllers: readonly Type[]): Route[] {
  return controllers.flatMap((controller) => {
    const base = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '');
    const classPolicy = Reflect.getMetadata(ACCESS_POLICY, controller) as AccessPolicy | undefined;
    const prototype = controller.prototype as Record<string, unknown>;
    return Object.getOwnPropertyNames(prototype)
      .filter((name) => name !== 'constructor' && typeof prototype[name] === 'function' && Reflect.hasMetadata(PATH_METADATA, prototype[name] as object))
      .map((name) => {
        const handler = prototype[name] as object;
        const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod];
        const path = String(Reflect.getMetadata(PATH_METADATA, handler));
        return { method, path: joinPath(base, path), controller: controller.name, handler: name, policy: (Reflect.getMetadata(ACCESS_POLICY, handler) as AccessPolicy | undefined) ?? classPolicy };
      });
  });
}

/** Routes that would serve nobody: the app refuses to start with one. */
export function routesWithoutPolicy(controllers: readonly Type[]): Route[] {
  return routeTable(controllers).filter((route) => route.policy === undefined);
}

function joinPath(base: string, path: string): string {
  const joined = `/${[base, path].map((part) => part.replace(/^\/+|\/+$/g, '')).filter(Boolean).join('/')}`;
  return joined;
}
