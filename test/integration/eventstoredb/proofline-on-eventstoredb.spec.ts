import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { tablesOf } from '../../../projections/runtime/tables';
import { tenantActivityProjector } from '../../../projections/tenant-activity.projector';
import { workspaceDirectoryProjector } from '../../../projections/workspace-directory.projector';
import { EsdbEventStore } from '../../../src/eventstore/eventstoredb/esdb-event-store';
import { START } from '../../../src/eventstore/global-position';
import { startTestApp, type TestApp } from '../../support/app';
import { startEsdbTestServer, type EsdbTestServer } from '../../support/esdb';
import { eventually } from '../../support/eventually';
import { accessTokenFor, bearer, signUp } from '../../support/identity';
import { describeWithService, serviceUrl } from '../../support/services';

/**
 * Proofline with its events in EventStoreDB (through the protocol test server, test/support/esdb):
 * the same commands, the relay publishing to a real Kafka broker, projectors on the PostgreSQL
 * server, the ledger building and verifying receipts from EventStoreDB's $all.
 */
describeWithService('kafka', 'Proofline on the EventStoreDB adapter: relay, projections and ledger', () => {
  let esdb: EsdbTestServer;
  let t: TestApp;
  const prefix = `esdb-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    esdb = await startEsdbTestServer();
    t = await startTestApp({
      database: 'server',
      env: {
        ESDB_CONNECTION_STRING: esdb.connectionString,
        KAFKA_BROKERS: serviceUrl('kafka'),
        PROOFLINE_KAFKA_TOPIC_PREFIX: prefix,
        PROOFLINE_LEDGER_CHECKPOINT_EVERY: '1000000',
        PROOFLINE_LEDGER_CHECKPOINT_SECONDS: '86400',
      },
    });
    await t.infrastructure.fanout.start();
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await esdb?.close();
  }, 30_000);

  const buildLedger = async () => {
    for (let round = 0; round < 20; round++) {
      const outcome = await t.infrastructure.ledger.builder.catchUp();
      if (outcome.receipts === 0 && outcome.checkpoints === 0) return;
    }
  };

  it('stores events in EventStoreDB, not in PostgreSQL, as binary events carrying the signed bytes', async () => {
    const tenant = await signUp(t.infrastructure, 'Stored In ESDB');
    await request(t.server).patch(`/workspaces/${tenant.tenantId}`).set(bearer(tenant.accessToken)).send({ name: 'Stored In ESDB Ltd' }).expect(200);

    const stored = await t.infrastructure.store.readStream(`workspace-${tenant.tenantId}`);
    expect(stored.map((event) => event.envelope.type)).toEqual(['workspaces.registered', 'workspaces.renamed']);
    const onServer = esdb.allEvents().filter((event) => event.streamName === `workspace-${tenant.tenantId}`);
    expect(onServer.map((event) => Buffer.from(event.data).toString('utf8'))).toEqual(stored.map((event) => event.raw));
    expect(onServer.every((event) => event.contentType === 'application/octet-stream')).toBe(true);
    const { rows } = await t.infrastructure.database.knex.raw('SELECT count(*)::int AS n FROM events');
    expect(rows[0].n).toBe(0);
  }, 60_000);

  it('command → EventStoreDB → relay → Kafka → projector row, with the relay checkpointing an EventStoreDB position', async () => {
    const tenant = await signUp(t.infrastructure, 'Through ESDB');
    await request(t.server).patch(`/workspaces/${tenant.tenantId}`).set(bearer(tenant.accessToken)).send({ name: 'Through ESDB Ltd' }).expect(200);
    const knex = t.infrastructure.database.knex;

    const row = await eventually(
      () => knex(tablesOf(workspaceDirectoryProjector, 'live').tables.workspaces).where({ tenant_id: tenant.tenantId }).first(),
      (found) => found?.name === 'Through ESDB Ltd',
    );
    expect(row).toMatchObject({ name: 'Through ESDB Ltd', members: 1 });
    const activity = await eventually(
      () => knex(tablesOf(tenantActivityProjector, 'live').tables.daily).where({ tenant_id: tenant.tenantId }).sum({ n: 'events' }).first(),
      (sum) => Number(sum?.n) === 2,
    );
    expect(Number(activity?.n)).toBe(2);

    const admin = await accessTokenFor(t.infrastructure, tenant.tenantId, 'ADMIN');
    const status = await eventually(
      async () => (await request(t.server).get('/projections/status').set(bearer(admin)).expect(200)).body,
      (body) => body.relay.lagEvents === 0 && body.projectors.every((p: { lagEvents: number }) => p.lagEvents === 0),
    );
    expect(status).toMatchObject({ mode: 'kafka', relay: { active: true, lagEvents: 0 } });
    const checkpoint = await t.infrastructure.fanout.relay!.checkpoint();
    expect(checkpoint).not.toEqual(START);
    const positions = esdb.allEvents().map((event) => `${event.commit}/${event.prepare}`);
    expect(positions).toContain(`${checkpoint.commit}/${checkpoint.prepare}`);
  }, 60_000);

  it('builds the receipt chain from EventStoreDB and verifies it, online and against the store', async () => {
    const tenant = await signUp(t.infrastructure, 'Ledger On ESDB');
    for (const name of ['Ledger 1', 'Ledger 2', 'Ledger 3']) {
      await request(t.server).patch(`/workspaces/${tenant.tenantId}`).set(bearer(tenant.accessToken)).send({ name }).expect(200);
    }
    const auditor = await accessTokenFor(t.infrastructure, tenant.tenantId, 'AUDITOR');
    await buildLedger();
    await t.infrastructure.ledger.builder.checkpointNow(tenant.tenantId);
    await buildLedger();

    const verified = await request(t.server).post(`/ledger/${tenant.tenantId}/verify`).set(bearer(auditor)).expect(200);
    expect(verified.body).toMatchObject({ ok: true, pendingEvents: 0 });
    const events = (await t.infrastructure.store.readAll(START, 10_000, { tenantId: tenant.tenantId })).length;
    expect(verified.body.receipts).toBe(events);
    expect(events).toBeGreaterThanOrEqual(6); // registered, the auditor's membership, three renames, the checkpoint event
  }, 60_000);

  it('answers a retried Idempotency-Key with the first outcome, from the claim kept in EventStoreDB', async () => {
    const tenant = await signUp(t.infrastructure, 'Idempotent On ESDB');
    const rename = () =>
      request(t.server).patch(`/workspaces/${tenant.tenantId}`).set(bearer(tenant.accessToken)).set('Idempotency-Key', 'rename-once').send({ name: 'Renamed Once' });
    const first = await rename().expect(200);
    const second = await rename().expect(200);

    expect(second.body).toEqual(first.body);
    expect(second.headers['idempotent-replayed']).toBe('true');
    const renames = (await t.infrastructure.store.readStream(`workspace-${tenant.tenantId}`)).filter((event) => event.envelope.type === 'workspaces.renamed');
    expect(renames).toHaveLength(1);
  }, 60_000);

  it('given EventStoreDB down, then a command answers 503 STORE.UNAVAILABLE, and once it is back the command succeeds and the relay carries on', async () => {
    const tenant = await signUp(t.infrastructure, 'Outage On ESDB');
    const admin = await accessTokenFor(t.infrastructure, tenant.tenantId, 'ADMIN');
    await esdb.stop();
    try {
      const refused = await request(t.server).patch(`/workspaces/${tenant.tenantId}`).set(bearer(tenant.accessToken)).send({ name: 'During Outage' });
      if (refused.status !== 503) console.log(JSON.stringify(refused.body));
      expect(refused.status).toBe(503);
      expect(refused.body.code).toBe('STORE.UNAVAILABLE');
      const status = await request(t.server).get('/projections/status').set(bearer(admin)).expect(200);
      expect(status.body.relay).toMatchObject({ lagEvents: null, lagSeconds: null });
      expect(status.body.relay.lastError).toMatch(/event store (is )?unreachable/);
      await request(t.server).get('/metrics').expect(200);
    } finally {
      await esdb.start();
    }
    await eventually(
      async () => (await request(t.server).patch(`/workspaces/${tenant.tenantId}`).set(bearer(tenant.accessToken)).send({ name: 'After Outage' })).status,
      (status) => status === 200,
      30_000,
    );
    const row = await eventually(
      () => t.infrastructure.database.knex(tablesOf(workspaceDirectoryProjector, 'live').tables.workspaces).where({ tenant_id: tenant.tenantId }).first(),
      (found) => found?.name === 'After Outage',
      30_000,
    );
    expect(row.name).toBe('After Outage');
    const names = (await t.infrastructure.store.readStream(`workspace-${tenant.tenantId}`)).map((event) => event.envelope.data.name);
    expect(names).not.toContain('During Outage');
  }, 90_000);
});

describe('Proofline on the EventStoreDB adapter, embedded read models with in-process projectors', () => {
  let esdb: EsdbTestServer;
  let t: TestApp;

  beforeAll(async () => {
    esdb = await startEsdbTestServer();
    t = await startTestApp({ env: { ESDB_CONNECTION_STRING: esdb.connectionString } });
    await t.infrastructure.fanout.start();
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await esdb?.close();
  }, 30_000);

  it('projects commands from the EventStoreDB subscription into the read models', async () => {
    expect(t.infrastructure.fanout.mode).toBe('in-process');
    const tenant = await signUp(t.infrastructure, 'Subscribed');
    await request(t.server).patch(`/workspaces/${tenant.tenantId}`).set(bearer(tenant.accessToken)).send({ name: 'Subscribed Ltd' }).expect(200);

    const row = await eventually(
      () => t.infrastructure.database.knex(tablesOf(workspaceDirectoryProjector, 'live').tables.workspaces).where({ tenant_id: tenant.tenantId }).first(),
      (found) => found?.name === 'Subscribed Ltd',
    );
    expect(row.name).toBe('Subscribed Ltd');
  });

  it('reads the store through the adapter the configuration names', () => {
    const store = (t.infrastructure.store as unknown as { inner: unknown }).inner;
    expect(store).toBeInstanceOf(EsdbEventStore);
  });
});
