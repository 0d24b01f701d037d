import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import request from 'supertest';
import { tablesOf } from '../../../projections/runtime/tables';
import { tenantActivityProjector } from '../../../projections/tenant-activity.projector';
import { workspaceDirectoryProjector } from '../../../projections/workspace-directory.projector';
import { START } from '../../../src/eventstore/global-position';
import { HEADERS } from '../../../src/fanout/topics';
import { startTestApp, type TestApp } from '../../support/app';
import { eventually } from '../../support/eventually';
import { accessTokenFor, bearer, signUp } from '../../support/identity';
import { describeWithService, serviceUrl } from '../../support/services';

describeWithService('kafka', 'fan-out through a real Kafka broker', () => {
  let t: TestApp;
  const prefix = `test-${randomBytes(4).toString('hex')}`;
  beforeAll(async () => {
    t = await startTestApp({ database: 'server', env: { KAFKA_BROKERS: serviceUrl('kafka'), PROOFLINE_KAFKA_TOPIC_PREFIX: prefix } });
    await t.infrastructure.fanout.start();
  }, 60_000);
  afterAll(() => t?.close(), 30_000);

  it('command → event → Kafka → projector row', async () => {
    const tenant = await signUp(t.infrastructure, 'Through Kafka');
    await request(t.server).patch(`/workspaces/${tenant.tenantId}`).set(bearer(tenant.accessToken)).send({ name: 'Through Kafka Ltd' }).expect(200);
    const knex = t.infrastructure.database.knex;
    const row = await eventually(
      () => knex(tablesOf(workspaceDirectoryProjector, 'live').tables.workspaces).where({ tenant_id: tenant.tenantId }).first(),
      (found) => found?.name === 'Through Kafka Ltd',
    );
    expect(row).toMatchObject({ name: 'Through Kafka Ltd', status: 'active', members: 1 });
    const activity = await eventually(
      () => knex(tablesOf(tenantActivityProjector, 'live').tables.daily).where({ tenant_id: tenant.tenantId }).sum({ n: 'events' }).first(),
      (sum) => Number(sum?.n) === 2,
    );
    expect(Number(activity?.n)).toBe(2);
  }, 60_000);

  it('a plain kafkajs consumer finds every envelope byte-identical to the store, keyed by stream, with the headers', async () => {
    const tenant = await signUp(t.infrastructure, 'Byte For Byte');
    for (const name of ['Bytes 1', 'Bytes 2', 'Bytes 3']) await request(t.server).patch(`/workspaces/${tenant.tenantId}`).set(bearer(tenant.accessToken)).send({ name }).expect(200);
    const stored = await t.infrastructure.store.readStream(`workspace-${tenant.tenantId}`);

    const kafka = new Kafka({ clientId: 'external-check', brokers: [serviceUrl('kafka')], logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: `${prefix}-external-${randomBytes(3).toString('hex')}` });
    const seen = new Map<string, { key: string; value: string; headers: Record<string, string> }>();
    await consumer.connect();
    await consumer.subscribe({ topic: `${prefix}.workspaces.events.v1`, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([name, value]) => [name, String(value)]));
        seen.set(headers[HEADERS.eventId], { key: String(message.key), value: message.value!.toString('utf8'), headers });
      },
    });
    try {
      // topics keep every event: a projector added later (or down for long) still finds them all
      const admin = kafka.admin();
      await admin.connect();
      const described = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: `${prefix}.workspaces.events.v1`, configNames: ['retention.ms'] }] });
      await admin.disconnect();
      expect(described.resources[0].configEntries[0]).toMatchObject({ configName: 'retention.ms', configValue: '-1' });

      await eventually(async () => stored.every((event) => seen.has(event.envelope.id)), Boolean, 30_000);
      for (const event of stored) {
        const message = seen.get(event.envelope.id);
        expect(message?.value).toBe(event.raw);
        expect(message?.key).toBe(event.envelope.streamId);
        expect(message?.headers).toMatchObject({
          [HEADERS.eventType]: event.envelope.type,
          [HEADERS.schemaVersion]: String(event.envelope.schemaVersion),
          [HEADERS.tenantId]: tenant.tenantId,
          [HEADERS.correlationId]: event.envelope.metadata.correlationId,
          [HEADERS.streamVersion]: String(event.streamVersion),
        });
      }
    } finally {
      await consumer.disconnect();
    }
  }, 60_000);

  it('GET /projections/status shows the relay active and every projector caught up', async () => {
    const tenant = await signUp(t.infrastructure, 'Lag Check');
    const admin = await accessTokenFor(t.infrastructure, tenant.tenantId, 'ADMIN');
    const status = await eventually(
      async () => (await request(t.server).get('/projections/status').set(bearer(admin)).expect(200)).body,
      (body) => body.relay.lagEvents === 0 && body.projectors.every((p: { lagEvents: number }) => p.lagEvents === 0),
    );
    expect(status).toMatchObject({ mode: 'kafka', relay: { active: true, lagEvents: 0 } });
    expect(status.projectors.every((p: { state: string }) => p.state === 'running')).toBe(true);
    const metrics = await request(t.server).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/proofline_relay_published_events_total [1-9]/);
    expect(metrics.text).toMatch(/proofline_projection_lag_events\{projector="tenant_activity"\} 0/);
    expect(await t.infrastructure.fanout.relay!.checkpoint()).not.toEqual(START);
  }, 60_000);
});
