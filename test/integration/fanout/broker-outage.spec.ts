import { randomBytes, randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Consumer, type ConsumerConfig } from 'kafkajs';
import request from 'supertest';
import { KafkaProjectionRunner } from '../../../projections/runtime/kafka-runner';
import { tenantActivityProjector } from '../../../projections/tenant-activity.projector';
import type { CommandContext } from '../../../src/commands/command-context';
import { streamIdFor } from '../../../src/commands/stream-id';
import { formatPosition } from '../../../src/eventstore/global-position';
import type { FanoutStatus } from '../../../src/fanout/fanout';
import { eventsAfter } from '../../../src/fanout/lag';
import { TopicNames } from '../../../src/fanout/topics';
import { workspaceDecider } from '../../../src/workspaces/workspace.decider';
import { startTestApp, type TestApp } from '../../support/app';
import { eventually } from '../../support/eventually';
import { accessTokenFor, bearer, signUp } from '../../support/identity';
import { checkReadModels, converged, PrivateBroker, storeHead, type ReadModelCheck } from '../../support/kafka-harness';
import { describeWithService } from '../../support/services';

const WORKSPACES = 25;
const ROUNDS = 200; // WORKSPACES × ROUNDS = 5,000 renames
const OUTAGE_AFTER_ROUND = 80; // ~2,000 renames in
const ROUNDS_DURING_OUTAGE = 40; // 1,000 renames with the broker down
const LONG_OUTAGE_MS = 45_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function context(tenantId: string): CommandContext {
  const id = randomUUID();
  return { tenantId, actor: { id: 'outage-test', role: 'CUSTOMER_ADMIN' }, correlationId: id, causationId: id, commandId: id, now: new Date().toISOString() };
}

describeWithService('kafka', 'fan-out across a Kafka broker outage (a private broker stopped and started mid-load)', () => {
  let broker: PrivateBroker | undefined;
  let t: TestApp | undefined;
  const prefix = `outage-${randomBytes(4).toString('hex')}`;
  const tenants = Array.from({ length: WORKSPACES }, () => randomUUID());
  let renamed = 0;

  beforeAll(async () => {
    broker = await PrivateBroker.create();
    await broker.start();
    t = await startTestApp({ database: 'server', env: { KAFKA_BROKERS: broker.brokers, PROOFLINE_KAFKA_TOPIC_PREFIX: prefix } });
    await t.infrastructure.fanout.start();
    for (const tenantId of tenants) {
      const owner = { userId: randomUUID(), email: `${tenantId}@example.test`, role: 'CUSTOMER_ADMIN' as const };
      await t.infrastructure.pipeline.handle(workspaceDecider, {
        streamId: streamIdFor('workspace', tenantId),
        command: { type: 'RegisterWorkspace', workspaceId: tenantId, name: 'Round 0', planTier: 'FREE', owner },
        context: context(tenantId),
      });
    }
  }, 180_000);

  afterAll(async () => {
    // Closing while the consumers are still restarting after an outage can leave them running (see the last test): let them settle first.
    if (t) await eventually(() => checkReadModels(t!.infrastructure.database.knex), converged, 60_000).catch(() => undefined);
    await t?.close().catch(() => undefined);
    await broker?.destroy();
  }, 180_000);

  /** Renames every workspace once per round, the workspaces side by side (through the command pipeline). */
  async function rounds(from: number, to: number): Promise<void> {
    for (let round = from; round < to; round += 1) {
      const outcomes = await Promise.all(
        tenants.map((tenantId) =>
          t!.infrastructure.pipeline.handle(workspaceDecider, { streamId: streamIdFor('workspace', tenantId), command: { type: 'RenameWorkspace', name: `Round ${round + 1}` }, context: context(tenantId) }),
        ),
      );
      renamed += outcomes.filter((outcome) => outcome.events.length === 1).length;
    }
  }

  /** The relay at the store's head, then the read models equal to the stream, then no lag anywhere; how long each took. */
  async function convergence(): Promise<{ relayMs: number; readModelsMs: number; check: ReadModelCheck; status: FanoutStatus }> {
    const knex = t!.infrastructure.database.knex;
    const since = Date.now();
    const head = formatPosition(await storeHead(knex));
    const reached = await eventually(async () => formatPosition(await t!.infrastructure.fanout.relay!.checkpoint()), (position) => position === head, 120_000);
    expect(reached).toBe(head);
    const relayMs = Date.now() - since;
    const check = await eventually(() => checkReadModels(knex), converged, 120_000);
    const readModelsMs = Date.now() - since;
    const noLag = (found: FanoutStatus) => found.relay!.lagEvents === 0 && found.projectors.every((projector) => projector.lagEvents === 0);
    const status = await eventually(() => t!.infrastructure.fanout.status(), noLag, 30_000);
    return { relayMs, readModelsMs, check, status };
  }

  function expectExactlyOnce({ check, status }: { check: ReadModelCheck; status: FanoutStatus }, eventsPerTenant: number): void {
    expect(check.actual).toEqual(check.expected);
    expect(Object.keys(check.actual).sort()).toEqual([...tenants].sort());
    expect(Object.values(check.actual).filter((n) => n !== eventsPerTenant)).toEqual([]);
    expect(check.staleWorkspaces).toEqual([]);
    expect(check.deadLetters).toBe(0);
    expect(status).toMatchObject({ mode: 'kafka', relay: { active: true, lagEvents: 0 } });
    expect(status.projectors.map((projector) => projector.projector)).toEqual(expect.arrayContaining(['workspace_directory', 'tenant_activity']));
    expect(status.projectors.filter((projector) => projector.state !== 'running' || projector.lagEvents !== 0 || projector.lastError !== null)).toEqual([]);
  }

  it('the write path keeps working while the broker is down, and afterwards every read model equals the stream exactly once', async () => {
    const knex = t!.infrastructure.database.knex;
    const started = Date.now();
    await rounds(0, OUTAGE_AFTER_ROUND);

    const stopping = Date.now();
    await broker!.stop();
    const down = Date.now();
    const before = renamed;
    await rounds(OUTAGE_AFTER_ROUND, OUTAGE_AFTER_ROUND + ROUNDS_DURING_OUTAGE);
    const duringOutage = renamed - before;
    const appendMsDuringOutage = Date.now() - down;
    const relayLagDuringOutage = (await eventsAfter(t!.infrastructure.store, await t!.infrastructure.fanout.relay!.checkpoint())).count;
    await sleep(4000 - appendMsDuringOutage); // down a few seconds even if the appends were quick

    // The rest of the load runs while the broker starts again.
    const restarting = Date.now();
    let back = 0;
    await Promise.all([broker!.start().then(() => (back = Date.now())), rounds(OUTAGE_AFTER_ROUND + ROUNDS_DURING_OUTAGE, ROUNDS)]);
    const appendedIn = Date.now() - started;

    expect(renamed).toBe(WORKSPACES * ROUNDS);
    expect(duringOutage).toBe(WORKSPACES * ROUNDS_DURING_OUTAGE); // every command during the outage succeeded
    expect(relayLagDuringOutage).toBeGreaterThanOrEqual(duringOutage); // and none of them could be published: the outage was real
    const total = WORKSPACES * (ROUNDS + 1);
    expect(Number((await knex('events').count({ n: '*' }))[0].n)).toBe(total);

    const converging = await convergence();
    expect(formatPosition(await t!.infrastructure.fanout.relay!.checkpoint())).toBe(formatPosition(await storeHead(knex)));
    expectExactlyOnce(converging, ROUNDS + 1);
    const relayRow = await knex('relay_checkpoints').where({ relay: 'main' }).first();
    expect(Number(relayRow.published)).toBeGreaterThanOrEqual(total); // at least once: a swallowed acknowledgement is published again

    console.log(
      `broker outage: ${total} events appended in ${appendedIn} ms, ${duringOutage} of them in ${appendMsDuringOutage} ms with the broker down; ` +
        `broker stop ${down - stopping} ms, down ${restarting - down} ms, start ${back - restarting} ms; after the last append: relay at the head in ` +
        `${converging.relayMs} ms, read models equal to the stream in ${converging.readModelsMs} ms; relay published ${relayRow.published} messages for ${total} events`,
    );
  }, 400_000);

  it(`an outage longer than the Kafka clients' retry budget (${LONG_OUTAGE_MS / 1000} s): relay and consumers recover by themselves`, async () => {
    const before = renamed;
    await broker!.stop();
    const down = Date.now();
    await rounds(ROUNDS, ROUNDS + 20);
    await sleep(LONG_OUTAGE_MS - (Date.now() - down));
    await broker!.start();
    const converging = await convergence();
    expect(renamed - before).toBe(WORKSPACES * 20);
    expectExactlyOnce(converging, ROUNDS + 21);
    console.log(`long broker outage: relay at the head ${converging.relayMs} ms after the broker was back, read models ${converging.readModelsMs} ms`);
  }, 400_000);

  // The status page must answer while Kafka is down: that is when operators look at it.
  it('GET /projections/status still answers while the broker is down', async () => {
    const tenant = await signUp(t!.infrastructure, 'Status During Outage');
    const admin = await accessTokenFor(t!.infrastructure, tenant.tenantId, 'ADMIN');
    await broker!.stop();
    try {
      const rename = { streamId: streamIdFor('workspace', tenant.tenantId), command: { type: 'RenameWorkspace' as const, name: 'Unpublished' }, context: context(tenant.tenantId) };
      await t!.infrastructure.pipeline.handle(workspaceDecider, rename);
      const response = await request(t!.server).get('/projections/status').set(bearer(admin));
      console.log(`GET /projections/status with the broker down: ${response.status} ${JSON.stringify(response.body).slice(0, 200)}`);
      expect(response.status).toBe(200);
      expect(response.body.relay.lagEvents).toBeGreaterThanOrEqual(1);
    } finally {
      await broker!.start();
    }
  }, 180_000);

  // kafkajs arms a crashed consumer's restart after its crash event; a close in between must still stop it.
  it('a runner closed while its consumer is crashing stays closed (it does not rejoin the group later)', async () => {
    const raw = new Kafka({ clientId: 'zombie-check', brokers: [broker!.brokers], logLevel: logLevel.NOTHING, retry: { retries: 8, maxRetryTime: 5000 } });
    const consumers: Consumer[] = [];
    const joinedAfterClose: string[] = [];
    let closing: Promise<void> | undefined;
    const recording = Object.create(raw) as Kafka;
    recording.consumer = (config: ConsumerConfig) => {
      const consumer = raw.consumer(config);
      consumers.push(consumer);
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        if (payload.restart && !closing) closing = runner.close(); // shutdown requested just as kafkajs handles a crash
      });
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
        if (closing) joinedAfterClose.push(payload.memberId);
      });
      return consumer;
    };
    const names = new TopicNames(`zombie-${randomBytes(4).toString('hex')}`);
    const runner = new KafkaProjectionRunner(t!.infrastructure.database.knex, t!.infrastructure.store, recording, t!.infrastructure.fanout.topics!, names, [tenantActivityProjector]);
    await runner.start();
    try {
      await broker!.stop();
      const down = Date.now();
      await eventually(async () => closing !== undefined, Boolean, 120_000);
      const crashedAfter = Date.now() - down;
      await closing;
      await broker!.start();
      const back = Date.now();
      await eventually(async () => joinedAfterClose.length, (n) => n > 0, 60_000);
      console.log(`zombie consumer: crash ${crashedAfter} ms into the outage, runner closed; ${joinedAfterClose.length} group join(s) after close, the first ${Date.now() - back} ms after the broker was back`);
      expect(joinedAfterClose).toEqual([]);
    } finally {
      await broker!.start();
      for (let attempt = 0; attempt < 2; attempt += 1) {
        await Promise.allSettled(consumers.map((consumer) => consumer.disconnect()));
        await sleep(3000);
      }
    }
  }, 300_000);
});
