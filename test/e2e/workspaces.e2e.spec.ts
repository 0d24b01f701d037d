import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app';
import { bearer, signUp } from '../support/identity';

describe('workspaces over HTTP (embedded profile)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  const owners = new Map<string, { token: string; ownerId: string }>();
  /** A workspace and its owner's token (sign-up over HTTP is tested in auth.e2e.spec.ts, under its own rate limit). */
  const register = async (name: string) => {
    const tenant = await signUp(t.infrastructure, name);
    owners.set(tenant.tenantId, { token: tenant.accessToken, ownerId: tenant.ownerId });
    return tenant.tenantId;
  };
  const as = (tenantId: string) => bearer(owners.get(tenantId)!.token);
  const rename = (workspaceId: string, body: object, headers: Record<string, string> = {}) => request(t.server).patch(`/workspaces/${workspaceId}`).set(as(workspaceId)).set(headers).send(body);
  const eventCount = async () => (await t.infrastructure.store.readAll({ commit: 0n, prepare: 0n }, 10_000)).length;

  it('a sign-up registers its workspace as one signed event naming the owner, and reads it back', async () => {
    const workspaceId = await register('Acme Energy');
    const { ownerId } = owners.get(workspaceId)!;

    const read = await request(t.server).get(`/workspaces/${workspaceId}`).set(as(workspaceId)).expect(200);
    expect(read.body).toEqual({ workspaceId, name: 'Acme Energy', planTier: 'FREE', status: 'active', version: 0 });
    expect(read.headers.etag).toBe('"0"');

    const events = await request(t.server).get(`/workspaces/${workspaceId}/events`).set(as(workspaceId)).expect(200);
    expect(events.body.events).toHaveLength(1);
    expect(events.body.events[0].verification).toEqual({ valid: true });
    expect(events.body.events[0].envelope).toMatchObject({
      type: 'workspaces.registered',
      schemaVersion: 2,
      tenantId: workspaceId,
      actor: { id: ownerId, role: 'CUSTOMER_ADMIN' },
      data: { name: 'Acme Energy', owner: { userId: ownerId, role: 'CUSTOMER_ADMIN' } },
    });
  });

  it('renames with If-Match, answers 409 with both versions on a stale one, and writes nothing then', async () => {
    const workspaceId = await register('Before');
    await request(t.server).patch(`/workspaces/${workspaceId}`).set(as(workspaceId)).set('if-match', '"0"').send({ name: 'After' }).expect(200);
    const before = await eventCount();
    const stale = await request(t.server).patch(`/workspaces/${workspaceId}`).set(as(workspaceId)).set('if-match', '"0"').send({ name: 'Again' }).expect(409);
    expect(stale.body).toEqual({
      code: 'STREAM.WRONG_EXPECTED_VERSION',
      message: expect.stringContaining('expected version 0, found version 1'),
      details: { streamId: `workspace-${workspaceId}`, expectedVersion: 0, actualVersion: 1 },
    });
    expect(await eventCount()).toBe(before);
  });

  it('records no event for a change that changes nothing', async () => {
    const workspaceId = await register('Same');
    const same = await request(t.server).patch(`/workspaces/${workspaceId}`).set(as(workspaceId)).send({ name: 'Same' }).expect(200);
    expect(same.body).toMatchObject({ version: 0, events: [] });
  });

  it('refuses changes to a closed workspace with a stable code', async () => {
    const workspaceId = await register('Closing');
    await request(t.server).post(`/workspaces/${workspaceId}/close`).set(as(workspaceId)).send({ reason: 'customer left' }).expect(200);
    const refused = await request(t.server).put(`/workspaces/${workspaceId}/plan`).set(as(workspaceId)).send({ planTier: 'PRO' }).expect(409);
    expect(refused.body.code).toBe('WORKSPACE.CLOSED');
  });

  describe('Idempotency-Key', () => {
    it('returns the first outcome to a retry and appends one event', async () => {
      const workspaceId = await register('Once');
      const before = await eventCount();
      const first = await rename(workspaceId, { name: 'Once more' }, { 'idempotency-key': 'rename-once' }).expect(200);
      const retry = await rename(workspaceId, { name: 'Once more' }, { 'idempotency-key': 'rename-once' }).expect(200);
      expect(retry.body).toEqual(first.body);
      expect(retry.headers['idempotent-replayed']).toBe('true');
      expect(await eventCount()).toBe(before + 1);
    });

    it('appends one event when the same request races itself', async () => {
      const workspaceId = await register('Race');
      const before = await eventCount();
      const attempts = await Promise.all(
        Array.from({ length: 8 }, () => request(t.server).put(`/workspaces/${workspaceId}/plan`).set(as(workspaceId)).set('idempotency-key', 'plan-race').send({ planTier: 'PRO' })),
      );
      expect(attempts.map((r) => r.status).every((s) => s === 200)).toBe(true);
      expect(new Set(attempts.map((r) => JSON.stringify(r.body))).size).toBe(1);
      expect(await eventCount()).toBe(before + 1);
    });

    it('refuses the same key for a different request (422) and writes nothing', async () => {
      const workspaceId = await register('Keyed');
      await request(t.server).patch(`/workspaces/${workspaceId}`).set(as(workspaceId)).set('idempotency-key', 'k-1').send({ name: 'One' }).expect(200);
      const before = await eventCount();
      const reused = await request(t.server).patch(`/workspaces/${workspaceId}`).set(as(workspaceId)).set('idempotency-key', 'k-1').send({ name: 'Two' }).expect(422);
      expect(reused.body.code).toBe('IDEMPOTENCY.KEY_REUSED');
      expect(await eventCount()).toBe(before);
    });

    it('records a keyed no-op, so its retry stays a no-op after others changed the workspace', async () => {
      const workspaceId = await register('Steady');
      const first = await request(t.server).patch(`/workspaces/${workspaceId}`).set(as(workspaceId)).set('idempotency-key', 'noop-1').send({ name: 'Steady' }).expect(200);
      expect(first.body).toMatchObject({ version: 0, events: [] });
      await request(t.server).patch(`/workspaces/${workspaceId}`).set(as(workspaceId)).send({ name: 'Moved on' }).expect(200);
      const before = await eventCount();

      const retry = await request(t.server).patch(`/workspaces/${workspaceId}`).set(as(workspaceId)).set('idempotency-key', 'noop-1').send({ name: 'Steady' }).expect(200);
      expect(retry.headers['idempotent-replayed']).toBe('true');
      expect(retry.body).toEqual(first.body);
      expect(await eventCount()).toBe(before);
    });

    it('scopes keys to the tenant: the same key in two tenants is two requests', async () => {
      const a = await register('Tenant A');
      const b = await register('Tenant B');
      const ra = await request(t.server).patch(`/workspaces/${a}`).set(as(a)).set('idempotency-key', 'shared').send({ name: 'Renamed' }).expect(200);
      const rb = await request(t.server).patch(`/workspaces/${b}`).set(as(b)).set('idempotency-key', 'shared').send({ name: 'Renamed' }).expect(200);
      expect(ra.headers['idempotent-replayed']).toBeUndefined();
      expect(rb.headers['idempotent-replayed']).toBeUndefined();
      expect(rb.body.streamId).toBe(`workspace-${b}`);
    });
  });

  describe('tenancy', () => {
    it('answers 404 to another tenant for reads and commands, and writes nothing', async () => {
      const workspaceId = await register('Private');
      const intruder = await register('Intruder');
      const before = await eventCount();
      for (const call of [
        request(t.server).get(`/workspaces/${workspaceId}`).set(as(intruder)),
        request(t.server).get(`/workspaces/${workspaceId}/events`).set(as(intruder)),
        request(t.server).patch(`/workspaces/${workspaceId}`).set(as(intruder)).send({ name: 'Mine now' }),
      ]) {
        const response = await call;
        expect(response.status).toBe(404);
        expect(response.body.code).toBe('RESOURCE.NOT_FOUND');
      }
      // a workspace that does not exist answers the same, so the answer does not say which exist
      const missing = await request(t.server).get('/workspaces/00000000-0000-7000-8000-00000000dead').set(as(intruder)).expect(404);
      expect(missing.body.code).toBe('RESOURCE.NOT_FOUND');
      // the refusals are on the intruder's record, not the target's
      const denials = (await t.infrastructure.store.readStream(`security-${intruder}`, { fromVersion: 0 })).map((e) => e.envelope.data);
      expect(denials).toEqual(expect.arrayContaining([expect.objectContaining({ reason: 'foreign-tenant', route: '/workspaces/:workspaceId/events' })]));
      expect(await t.infrastructure.store.readStream(`security-${workspaceId}`, { fromVersion: 0 })).toEqual([]);
      expect(await eventCount()).toBe(before + 4); // one access-denied event per refusal, nothing else
    });
  });

  describe('bad input: 4xx naming the field and the rule, nothing written', () => {
    let target = '';
    beforeAll(async () => {
      target = await register('Bad Input Target');
    });
    const raw = (body: string, contentType = 'application/json') => request(t.server).patch(`/workspaces/${target}`).set(as(target)).set('content-type', contentType).send(body);
    const plan = (body: object) => request(t.server).put(`/workspaces/${target}/plan`).set(as(target)).send(body);
    const cases: Array<[string, () => request.Test, number, string, string | undefined]> = [
      ['unknown field', () => rename(target, { name: 'Fine', extra: 1 }), 400, 'REQUEST.INVALID', 'extra'],
      ['wrong type', () => rename(target, { name: 42 }), 400, 'REQUEST.INVALID', 'name'],
      ['too short', () => rename(target, { name: 'A' }), 400, 'REQUEST.INVALID', 'name'],
      ['bad enum', () => plan({ planTier: 'GOLD' }), 400, 'REQUEST.INVALID', 'planTier'],
      ['malformed JSON', () => raw('{"name":'), 400, 'REQUEST.MALFORMED_JSON', 'body'],
      ['not JSON', () => raw('name=x', 'text/plain'), 415, 'REQUEST.UNSUPPORTED_MEDIA_TYPE', 'content-type'],
      ['oversize body', () => rename(target, { name: 'x'.repeat(2 * 1024 * 1024) }), 413, 'REQUEST.BODY_TOO_LARGE', 'body'],
      ['bad Idempotency-Key', () => rename(target, { name: 'Fine' }, { 'idempotency-key': 'has space' }), 400, 'REQUEST.INVALID_HEADER', 'Idempotency-Key'],
      // valid JSON text that has no RFC 8785 form, so it can be neither hashed nor signed
      ['lone surrogate', () => raw('{"name":"Fine \\ud800"}'), 400, 'REQUEST.INVALID', 'name'],
      ['number beyond double range', () => raw('{"name":"Fine","extra":1e999}'), 400, 'REQUEST.INVALID', 'extra'],
    ];
    it.each(cases)('%s', async (_name, send, status, code, field) => {
      const before = await eventCount();
      const response = await send();
      expect(response.status).toBe(status);
      expect(response.body.code).toBe(code);
      if (field) expect(response.body.details.fields.map((f: { field: string }) => f.field)).toContain(field);
      expect(await eventCount()).toBe(before);
    });

    it('a fromVersion beyond the safe integers names the field (the database would refuse it as a bigint)', async () => {
      const workspaceId = await register('Paged');
      const response = await request(t.server).get(`/workspaces/${workspaceId}/events?fromVersion=100000000000000000000`).set(as(workspaceId)).expect(400);
      expect(response.body).toMatchObject({ code: 'REQUEST.INVALID', details: { fields: [{ field: 'fromVersion', rule: 'max' }] } });
    });

    it('a bad If-Match names the header', async () => {
      const workspaceId = await register('Matchy');
      const response = await request(t.server).patch(`/workspaces/${workspaceId}`).set(as(workspaceId)).set('if-match', 'yesterday').send({ name: 'Other' }).expect(400);
      expect(response.body.details.fields[0].field).toBe('If-Match');
    });
  });

  describe('operations', () => {
    it('GET /health reports ok with every dependency', async () => {
      const health = await request(t.server).get('/health').expect(200);
      expect(health.body.status).toBe('ok');
      expect(health.body.info.eventStore).toEqual({ status: 'up', engine: 'pglite' });
      expect(health.body.info.signing).toMatchObject({ status: 'up', alg: 'EdDSA' });
    });

    it('GET /metrics exposes append latency and appended events', async () => {
      await register('Metered');
      const metrics = await request(t.server).get('/metrics').expect(200);
      expect(metrics.text).toMatch(/proofline_eventstore_append_duration_seconds_count\{outcome="ok"\} [1-9]/);
      expect(metrics.text).toMatch(/proofline_eventstore_appended_events_total\{type="workspaces.registered"\} [1-9]/);
    });

    it('serves the OpenAPI document and UI at /docs', async () => {
      const spec = await request(t.server).get('/docs/openapi.json').expect(200);
      expect(Object.keys(spec.body.paths)).toEqual(expect.arrayContaining(['/auth/login', '/workspaces/{workspaceId}', '/workspaces/{workspaceId}/members', '/health', '/.well-known/proofline/keys']));
      await request(t.server).get('/docs').expect(200);
    });

    it('publishes the signing keys with certificates at the well-known URL', async () => {
      const keys = await request(t.server).get('/.well-known/proofline/keys').expect(200);
      expect(keys.body.keys).toHaveLength(1);
      expect(keys.body.keys[0]).toMatchObject({ alg: 'EdDSA', status: 'active' });
      expect(keys.body.keys[0].certificatePem).toContain('BEGIN CERTIFICATE');
    });

    it('echoes a caller correlation id and records it in the events', async () => {
      const workspaceId = await register('Correlated');
      const renamed = await rename(workspaceId, { name: 'Correlated Co' }, { 'x-correlation-id': 'trace-123' }).expect(200);
      expect(renamed.headers['x-correlation-id']).toBe('trace-123');
      const events = await request(t.server).get(`/workspaces/${workspaceId}/events`).set(as(workspaceId)).expect(200);
      expect(events.body.events[1].envelope.metadata.correlationId).toBe('trace-123');
    });
  });
});
