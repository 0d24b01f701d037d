import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { CHECK_TIMEOUT_MS } from '../../src/observability/readiness';
import { startTestApp, type TestApp } from '../support/app';
import { startEsdbTestServer, type EsdbTestServer } from '../support/esdb';
import { eventually } from '../support/eventually';
import { freePort, PrivateBroker } from '../support/kafka-harness';
import { describeWithService, describeWithServices, hostAndPort, serviceUrl } from '../support/services';
import { TcpProxy } from '../support/tcp-proxy';

const health = (t: TestApp) => request(t.server).get('/health');

/**
 * A 503 is a readiness answer, not a hang: every check has its own deadline (CHECK_TIMEOUT_MS),
 * so the answer comes well within the test's own time limit, which is what catches a hang here.
 */
async function timedHealth(t: TestApp) {
  return health(t).timeout(CHECK_TIMEOUT_MS * 5);
}

function expectNotReady(answer: request.Response, dependency: string, message: RegExp): void {
  expect(answer.status).toBe(503);
  expect(answer.headers['retry-after']).toBe('5');
  expect(answer.body.status).toBe('error');
  expect(answer.body.error[dependency]).toMatchObject({ status: 'down', message: expect.stringMatching(message) });
}

describe('GET /health in the embedded profile', () => {
  let t: TestApp;
  beforeAll(async () => (t = await startTestApp()));
  afterAll(() => t?.close());

  it('checks the event store and the signing key, the only dependencies it has', async () => {
    const answer = await health(t).expect(200);
    expect(Object.keys(answer.body.info)).toEqual(['eventStore', 'signing']);
    expect(answer.body.info.eventStore).toEqual({ status: 'up', engine: 'pglite' });
  });
});

describe('GET /health with the events in EventStoreDB (the protocol test server)', () => {
  let esdb: EsdbTestServer;
  let t: TestApp;
  beforeAll(async () => {
    esdb = await startEsdbTestServer();
    t = await startTestApp({ env: { ESDB_CONNECTION_STRING: esdb.connectionString } });
  });
  afterAll(async () => {
    await t?.close();
    await esdb?.close();
  });

  it('checks EventStoreDB as the event store and the PostgreSQL database beside it; 503 while EventStoreDB is down, 200 once it is back', async () => {
    const up = await health(t).expect(200);
    expect(up.body.info).toMatchObject({ eventStore: { status: 'up', engine: 'eventstoredb' }, database: { status: 'up', engine: 'pglite' }, signing: { status: 'up' } });
    await esdb.stop();
    expectNotReady(await timedHealth(t), 'eventStore', /./);
    expect((await health(t)).body.info.database).toEqual({ status: 'up', engine: 'pglite' });
    await esdb.start();
    expect((await eventually(() => health(t), (answer) => answer.status === 200)).status).toBe(200);
  }, 60_000);
});

describeWithServices(['postgres', 'redis'], 'GET /health with Redis holding sessions and rate limits', () => {
  const { host, port } = hostAndPort('redis');
  let proxy: TcpProxy;
  let t: TestApp;
  beforeAll(async () => {
    proxy = new TcpProxy(host, port);
    await proxy.start();
    t = await startTestApp({ database: 'server', authStore: 'redis', env: { REDIS_URL: `redis://127.0.0.1:${proxy.port}` } });
  });
  afterAll(async () => {
    await proxy?.start(); // the app's close cleans its keys through the proxy
    await t?.close();
    await proxy?.cut();
  });

  it('reports Redis up; 503 naming it while it is unreachable; 200 again once it is back', async () => {
    const up = await health(t).expect(200);
    expect(up.body.info).toMatchObject({ eventStore: { status: 'up', engine: 'postgres' }, signing: { status: 'up' }, redis: { status: 'up' } });
    await proxy.cut();
    expectNotReady(await timedHealth(t), 'redis', /^Redis is unreachable/);
    expect(Object.keys((await health(t)).body.info)).toEqual(['eventStore', 'signing', 'eventHorizon']);
    await proxy.start();
    expect((await eventually(() => health(t), (answer) => answer.status === 200)).body.info.redis).toEqual({ status: 'up' });
  }, 60_000);
});

describeWithService('postgres', 'GET /health when KAFKA_BROKERS names no broker', () => {
  let t: TestApp;
  beforeAll(async () => (t = await startTestApp({ database: 'server', env: { KAFKA_BROKERS: `127.0.0.1:${await freePort()}` } })));
  afterAll(() => t?.close());

  it('answers 503 with kafka down at once, saying why, the relay OFF', async () => {
    const answer = await timedHealth(t);
    expectNotReady(answer, 'kafka', /ECONNREFUSED/);
    expect(answer.body.error.kafka.relay).toEqual({ lease: 'OFF', lastError: null });
    expect(answer.body.info.eventStore).toEqual({ status: 'up', engine: 'postgres' });
  }, 30_000);
});

describeWithServices(['postgres', 'kafka'], 'GET /health with Kafka carrying the events', () => {
  const prefix = `health-${randomBytes(4).toString('hex')}`;
  let t: TestApp;
  let standby: TestApp | undefined;
  beforeAll(async () => (t = await startTestApp({ database: 'server', env: { KAFKA_BROKERS: serviceUrl('kafka'), PROOFLINE_KAFKA_TOPIC_PREFIX: prefix } })), 60_000);
  afterAll(async () => {
    await standby?.close();
    await t?.close();
  }, 60_000);

  it("reports the brokers that answered and the relay's lease: OFF before the fan-out starts, HELD by the first instance, STANDBY on a second one", async () => {
    const before = await health(t).expect(200);
    expect(before.body.info.kafka).toEqual({ status: 'up', brokers: expect.arrayContaining([serviceUrl('kafka').split(',')[0]]), relay: { lease: 'OFF', lastError: null } });
    await t.infrastructure.fanout.start();
    const held = await eventually(() => health(t), (answer) => answer.body.info?.kafka?.relay?.lease === 'HELD');
    expect(held.status).toBe(200);
    expect(held.body.info.kafka.relay).toEqual({ lease: 'HELD', lastError: null });

    standby = await startTestApp({ database: 'server', env: { KAFKA_BROKERS: serviceUrl('kafka'), PROOFLINE_KAFKA_TOPIC_PREFIX: prefix, DATABASE_SCHEMA: t.infrastructure.config.DATABASE_SCHEMA! } });
    await standby.infrastructure.fanout.start();
    const second = await health(standby).expect(200);
    expect(second.body.info.kafka.relay).toEqual({ lease: 'STANDBY', lastError: null });
  }, 90_000);
});

describeWithServices(['postgres', 'kafka'], 'GET /health across a Kafka broker outage (a private broker stopped and started)', () => {
  let broker: PrivateBroker | undefined;
  let t: TestApp | undefined;
  beforeAll(async () => {
    broker = await PrivateBroker.create();
    await broker.start();
    t = await startTestApp({ database: 'server', env: { KAFKA_BROKERS: broker.brokers } });
  }, 180_000);
  afterAll(async () => {
    await t?.close();
    await broker?.destroy();
  }, 60_000);

  it('answers 200, then 503 with kafka down while the broker is stopped, then 200 once it is back', async () => {
    expect((await health(t!).expect(200)).body.info.kafka.brokers).toEqual([broker!.brokers]);
    await broker!.stop();
    expectNotReady(await timedHealth(t!), 'kafka', /./);
    await broker!.start();
    const back = await eventually(() => health(t!), (answer) => answer.status === 200, 60_000);
    expect(back.body.info.kafka).toMatchObject({ status: 'up', brokers: [broker!.brokers] });
  }, 240_000);
});
