import request from 'supertest';
import { bearer, signUp } from '../support/identity';
import { startTestApp, type TestApp } from '../support/app';
import { describeWithService, hostAndPort } from '../support/services';
import { TcpProxy } from '../support/tcp-proxy';

describeWithService('postgres', 'when the database goes away and comes back', () => {
  let proxy: TcpProxy;
  let t: TestApp;
  const { host, port } = hostAndPort('postgres');

  beforeAll(async () => {
    proxy = new TcpProxy(host, port);
    await proxy.start();
    const url = new URL(process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test');
    url.host = `127.0.0.1:${proxy.port}`;
    t = await startTestApp({ database: 'server', databaseUrl: url.toString(), env: { DATABASE_POOL_SIZE: '4' } });
  });
  afterAll(async () => {
    await proxy.start();
    await t?.close();
    await proxy.cut();
  });

  it('answers 503 STORE.UNAVAILABLE with nothing written, then recovers without a restart', async () => {
    const { tenantId: workspaceId, accessToken } = await signUp(t.infrastructure, 'Before outage');
    const as = bearer(accessToken);

    await proxy.cut();
    const during = await request(t.server).patch(`/workspaces/${workspaceId}`).set(as).set('idempotency-key', 'outage-rename').send({ name: 'During outage' });
    expect(during.status).toBe(503);
    expect(during.body.code).toBe('STORE.UNAVAILABLE');
    expect(during.body.message).toMatch(/nothing was written/);
    const health = await request(t.server).get('/health');
    expect(health.status).toBe(503);
    expect(health.body.error.eventStore.status).toBe('down');

    await proxy.start();
    const retried = await request(t.server).patch(`/workspaces/${workspaceId}`).set(as).set('idempotency-key', 'outage-rename').send({ name: 'During outage' }).expect(200);
    expect(retried.body.events).toHaveLength(1);
    const again = await request(t.server).patch(`/workspaces/${workspaceId}`).set(as).set('idempotency-key', 'outage-rename').send({ name: 'During outage' }).expect(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    const events = await request(t.server).get(`/workspaces/${workspaceId}/events`).set(as).expect(200);
    expect(events.body.events.map((e: { envelope: { type: string } }) => e.envelope.type)).toEqual(['workspaces.registered', 'workspaces.renamed']);
    await request(t.server).get('/health').expect(200);
  }, 60_000);
});
