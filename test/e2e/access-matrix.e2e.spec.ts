import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { CONTROLLERS } from '../../src/app/app.module';
import { registeredRoutes } from '../../src/http/registered-routes';
import { routeTable, type Route } from '../../src/http/route-table';
import { ADMINISTRATIVE_ROLES, ROLES, type Role } from '../../src/workspaces/events';
import { startTestApp, type TestApp } from '../support/app';
import { accessTokenFor, bearer, makeMember, removeMember, signUp } from '../support/identity';

/**
 * Generated from the application's route table: a new endpoint is covered the moment it is
 * declared. Every route is called without a credential (401), with every role it does not
 * admit (403), and with an admitted role of another tenant against this tenant's resources (404).
 */
const ROUTES = routeTable(CONTROLLERS);
const TENANT_PARAMS = ['workspaceId', 'tenantId'];
/** Served by Swagger UI, outside the controllers: public documentation. */
const DOCUMENTATION = /^\/docs([/-]|$)/;

const guarded = ROUTES.filter((route): route is Route & { policy: { kind: 'roles'; roles: readonly Role[]; tenantParam?: string } } => route.policy?.kind === 'roles');
const publicRoutes = ROUTES.filter((route) => route.policy?.kind === 'public');
const name = (route: Route) => `${route.method} ${route.path}`;
/** A write only administrators may make: members, invitations, API keys, password resets, the workspace itself. */
const changesAccess = (route: Route & { policy: { roles: readonly Role[] } }) => route.method !== 'GET' && route.policy.roles.every((role) => ADMINISTRATIVE_ROLES.includes(role));

describe('access matrix over the route table', () => {
  let t: TestApp;
  let home: string;
  let foreign: string;
  beforeAll(async () => {
    t = await startTestApp({ env: { PROOFLINE_TENANT_REQUESTS_PER_MINUTE: '100000' } });
    home = (await signUp(t.infrastructure, 'Home')).tenantId;
    foreign = (await signUp(t.infrastructure, 'Foreign')).tenantId;
  }, 120_000); // a guard, not a measure: it took over 30 s once on a loaded machine
  afterAll(() => t.close());

  /** The route's URL with the tenant parameter set to `tenantId` and any other parameter to a well-formed id that names nothing. */
  const urlOf = (route: Route, tenantId: string) => route.path.replace(/:(\w+)/g, (_, param: string) => (TENANT_PARAMS.includes(param) ? tenantId : param === 'seq' ? '0' : randomUUID()));
  const call = (route: Route, tenantId: string, headers: Record<string, string> = {}) => {
    const method = route.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete';
    const pending = request(t.server)[method](urlOf(route, tenantId)).set(headers);
    return method === 'get' ? pending : pending.send({});
  };
  const as = async (tenantId: string, role: Role) => bearer(await accessTokenFor(t.infrastructure, tenantId, role));

  it('the table lists every route Fastify serves, and every route declares who may call it', () => {
    const declared = new Set(ROUTES.map((route) => `${route.method} ${route.path}`));
    const served = registeredRoutes(t.app).filter((route) => route.method !== 'HEAD' && !DOCUMENTATION.test(route.url));
    expect(served.length).toBeGreaterThanOrEqual(ROUTES.length);
    for (const route of served) expect(declared).toContain(`${route.method} ${route.url}`);
    expect(ROUTES.filter((route) => route.policy === undefined).map(name)).toEqual([]);
  });

  it('a route that names a tenant in its path declares it as the tenant parameter', () => {
    for (const route of guarded) {
      const tenantParam = TENANT_PARAMS.find((param) => route.path.includes(`:${param}`));
      expect({ route: name(route), tenantParam: route.policy.tenantParam }).toEqual({ route: name(route), tenantParam });
    }
  });

  describe.each(guarded.map((route) => [name(route), route] as const))('%s', (_name, route) => {
    it('without a credential: 401 with WWW-Authenticate', async () => {
      const response = await call(route, home);
      expect({ status: response.status, code: response.body.code }).toEqual({ status: 401, code: 'AUTH.UNAUTHENTICATED' });
      expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
    });

    const refused = ROLES.filter((role) => !route.policy.roles.includes(role));
    if (refused.length > 0) {
      it.each(refused)('as %s of the tenant: 403 AUTH.ROLE_REQUIRED, recorded', async (role) => {
        const response = await call(route, home, await as(home, role));
        expect({ status: response.status, code: response.body.code }).toEqual({ status: 403, code: 'AUTH.ROLE_REQUIRED' });
        const denials = await t.infrastructure.store.readStream(`security-${home}`, { fromVersion: 0 });
        expect(denials.at(-1)!.envelope).toMatchObject({ type: 'security.access-denied', data: { reason: 'role', role, route: route.path } });
      });
    }

    if (route.policy.tenantParam) {
      it.each(route.policy.roles)("as %s of another tenant: 404 RESOURCE.NOT_FOUND, nothing of this tenant's in the answer", async (role) => {
        const response = await call(route, home, await as(foreign, role));
        expect({ status: response.status, code: response.body.code }).toEqual({ status: 404, code: 'RESOURCE.NOT_FOUND' });
        expect(response.text).not.toContain(home);
      });
    }

    // Routes that change who may do what: an administrator's token outlives neither removal nor demotion.
    if (changesAccess(route)) {
      it("with a removed administrator's old token: 401 AUTH.SESSION_ENDED", async () => {
        const userId = randomUUID();
        const token = await accessTokenFor(t.infrastructure, home, 'CUSTOMER_ADMIN', userId);
        await removeMember(t.infrastructure, home, userId);
        const response = await call(route, home, bearer(token));
        expect({ status: response.status, code: response.body.code }).toEqual({ status: 401, code: 'AUTH.SESSION_ENDED' });
      });

      it("with a demoted administrator's old token (now FINANCE): 403 AUTH.ROLE_REQUIRED", async () => {
        const userId = randomUUID();
        const token = await accessTokenFor(t.infrastructure, home, 'CUSTOMER_ADMIN', userId);
        await makeMember(t.infrastructure, home, userId, 'FINANCE');
        const response = await call(route, home, bearer(token));
        expect({ status: response.status, code: response.body.code, roles: response.body.details?.roles }).toEqual({ status: 403, code: 'AUTH.ROLE_REQUIRED', roles: ['FINANCE'] });
      });
    }

    it.each(route.policy.roles)('as %s of the tenant: admitted (whatever the handler then answers)', async (role) => {
      const response = await call(route, home, await as(home, role));
      expect([401, 403]).not.toContain(response.status);
      expect(response.body?.code).not.toBe('RESOURCE.NOT_FOUND');
    });
  });

  describe.each(publicRoutes.map((route) => [name(route), route] as const))('%s (public)', (_name, route) => {
    it('answers without a credential', async () => {
      const response = await call(route, home);
      expect([401, 403]).not.toContain(response.status);
    });
  });
});
