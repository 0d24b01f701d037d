import type { NestFastifyApplication } from '@nestjs/platform-fastify';

export interface RegisteredRoute {
  readonly method: string;
  readonly url: string;
}

const registered = new WeakMap<NestFastifyApplication, RegisteredRoute[]>();

/**
 * Records every route Fastify serves, whoever added it (Nest controllers, Swagger UI), so a
 * test can prove the declared route table leaves none out. Call before routes are added.
 */
export function recordRoutes(app: NestFastifyApplication): void {
  const routes: RegisteredRoute[] = [];
  registered.set(app, routes);
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRoute', (options) => {
      for (const method of [options.method].flat()) routes.push({ method: String(method), url: options.url });
    });
}

export function registeredRoutes(app: NestFastifyApplication): readonly RegisteredRoute[] {
  return registered.get(app) ?? [];
}
