import { randomBytes, randomUUID } from 'node:crypto';
import { comparePositions, formatPosition } from '../../../src/eventstore/global-position';
import { workspaceDecider } from '../../../src/workspaces/workspace.decider';
import { streamIdFor } from '../../../src/commands/stream-id';
import type { CommandContext } from '../../../src/commands/command-context';
import type { FanoutStatus } from '../../../src/fanout/fanout';
import { eventsAfter } from '../../../src/fanout/lag';
import request from 'supertest';
import { startTestApp, type TestApp } from '../../support/app';
import { accessTokenFor, bearer, signUp } from '../../support/identity';
import { eventually } from '../../support/eventually';
import { checkReadModels, converged, PrivateBroker, storeHead, type ReadModelCheck } from '../../support/kafka-harness';
import { describeWithService } from '../../support/services';

const WORKSPACES = 25;
const ROUNDS = 200; // WORKSPACES × ROUNDS = 5,000 renames
const OUTAGE_AFTER_ROUND = 80; // ~2,000 renames in
const ROUNDS_DURING_OUTAGE = 40;
const LONG_OUTAGE_MS = 45_000;

function context(tenantId: string): CommandContext {
  const id = randomUUID();
  return { tenantId, actor: { id: 'outage-test', role: 'CUSTOMER_ADMIN' }, correlationId: id, causationId: id, commandId: id, now: new Date().toISOString() };
}

describeWithService('kafka', 'fan-out across a Kafka broker outage (a private broker stopped and started mid-load)', () => {
  let broker: PrivateBroker | undefined;
  let t: TestApp | undefined;
  const prefix = `outage-${randomBytes(4).toString('hex')}`;

  const stacks = new Map<number, string>();
  require('node:async_hooks').createHook({ init(id: number, type: string) { if (type === 'Timeout') stacks.set(id, new Error().stack!.split('\n').slice(2, 14).join('\n')); }, destroy(id: number) { stacks.delete(id); } }).enable();
  beforeAll(async () => {
    broker = await PrivateBroker.create();
    await broker.start();
    t = await startTestApp({ database: 'server', env: { KAFKA_BROKERS: broker.brokers, PROOFLINE_KAFKA_TOPIC_PREFIX: prefix } });
    await t.infrastructure.fanout.start();
  }, 180_000);

  afterAll(async () => {
    const c0 = Date.now();
    await t?.close().catch(() => undefined);
    console.log('DEBUG close took', Date.now() - c0);
    await broker?.destroy();
    await new Promise((r) => setTimeout(r, 3000));
    const counts = new Map<string, number>(); for (const st of stacks.values()) counts.set(st, (counts.get(st) ?? 0) + 1);
    console.log('DEBUG stacks', [...counts].map(([st, n]) => `${n}x\n${st}`).join('\n-----\n'));
    console.log('DEBUG handles', process.getActiveResourcesInfo(), (process as any)._getActiveHandles().map((h: any) => [h.constructor?.name, h.remoteAddress, h.remotePort, h.localPort, h._idleTimeout, h._onTimeout?.toString().slice(0, 300)]));
  }, 120_000);

  const tenants = Array.from({ length: WORKSPACES }, () => randomUUID());
  let renamed = 0;
  /** Renames every workspace once per round, the workspaces side by side; counts the renames that were appended. */
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

  /** Waits for the relay to reach the store's head, then for the read models to equal the stream; the time each took. */
  async function convergence(timeoutMs: number): Promise<{ relayMs: number; readModelsMs: number; check: ReadModelCheck; status: FanoutStatus }> {
    const knex = t!.infrastructure.database.knex;
    const since = Date.now();
    const head = formatPosition(await storeHead(knex));
    await eventually(async () => formatPosition(await t!.infrastructure.fanout.relay!.checkpoint()), (position) => position === head, timeoutMs);
    const relayMs = Date.now() - since;
    const check = await eventually(() => checkReadModels(knex), converged, timeoutMs);
    const readModelsMs = Date.now() - since;
    const status = await eventually(
      () => t!.infrastructure.fanout.status(),
      (found) => found.relay!.lagEvents === 0 && found.projectors.every((projector) => projector.lagEvents === 0),
      30_000,
    );
    return { relayMs, readModelsMs, check, status };
  }

  it('the write path keeps working while the broker is down, and afterwards every read model equals the stream exactly once', async () => {
    const infrastructure = t!.infrastructure;
    const knex = infrastructure.database.knex;
    for (const tenantId of tenants) {
      await infrastructure.pipeline.handle(workspaceDecider, {
        streamId: streamIdFor('workspace', tenantId),
        command: { type: 'RegisterWorkspace', workspaceId: tenantId, name: 'Round 0', planTier: 'FREE', owner: { userId: randomUUID(), email: `${tenantId}@example.test`, role: 'CUSTOMER_ADMIN' } },
        context: context(tenantId),
      });
    }
    let brokerBack = 0;
    const started = Date.now();
    await rounds(0, OUTAGE_AFTER_ROUND);
    const beforeOutage = renamed;

    const stopping = Date.now();
    await broker!.stop();
    const outageStarted = Date.now();
    await rounds(OUTAGE_AFTER_ROUND, OUTAGE_AFTER_ROUND + ROUNDS_DURING_OUTAGE);
    const duringOutage = renamed - beforeOutage;
    const appendMsDuringOutage = Date.now() - outageStarted;
    const relayLagDuringOutage = (await eventsAfter(knex, await infrastructure.fanout.relay!.checkpoint())).count;
    // Keep it down a few seconds even if the appends were quick.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 4000 - appendMsDuringOutage)));

    // The rest of the load runs while the broker restarts.
    const restarting = Date.now();
    await Promise.all([broker!.start().then(() => (brokerBack = Date.now())), rounds(OUTAGE_AFTER_ROUND + ROUNDS_DURING_OUTAGE, ROUNDS)]);
    const appendedAll = Date.now() - started;

    expect(renamed).toBe(WORKSPACES * ROUNDS);
    expect(duringOutage).toBe(WORKSPACES * ROUNDS_DURING_OUTAGE);
    // While Kafka was down the relay could not publish: the outage was real.
    expect(relayLagDuringOutage).toBeGreaterThanOrEqual(duringOutage);

    const total = WORKSPACES * (ROUNDS + 1);
    expect(Number((await knex('events').count({ n: '*' }))[0].n)).toBe(total);
    const head = await storeHead(knex);

    const { relayMs, readModelsMs, check, status } = await convergence(120_000);

    expect(formatPosition(await infrastructure.fanout.relay!.checkpoint())).toBe(formatPosition(head));
    expect(comparePositions(await infrastructure.fanout.relay!.checkpoint(), head)).toBe(0);
    expect(check.actual).toEqual(check.expected);
    expect(Object.keys(check.expected)).toHaveLength(WORKSPACES);
    expect(Object.values(check.actual).every((n) => n === ROUNDS + 1)).toBe(true);
    expect(check.staleWorkspaces).toEqual([]);
    expect(check.deadLetters).toBe(0);
    expect(status).toMatchObject({ mode: 'kafka', relay: { active: true, lagEvents: 0 } });
    expect(status.projectors.map((projector) => projector.projector)).toEqual(expect.arrayContaining(['workspace_directory', 'tenant_activity']));
    expect(status.projectors.filter((projector) => projector.state !== 'running' || projector.lagEvents !== 0 || projector.lastError !== null)).toEqual([]);
    const relayRow = await knex('relay_checkpoints').where({ relay: 'main' }).first();
    // At least once: the relay may have re-published a batch whose acknowledgement the outage swallowed.
    expect(Number(relayRow.published)).toBeGreaterThanOrEqual(total);

    console.log(
      `broker outage: ${total} events appended in ${appendedAll} ms (${duringOutage} renames in ${appendMsDuringOutage} ms with the broker down); ` +
        `broker stop ${outageStarted - stopping} ms, down ${restarting - outageStarted} ms, start ${brokerBack - restarting} ms; ` +
        `after the load: relay at the head in ${relayMs} ms, read models equal to the stream in ${readModelsMs} ms; relay published ${relayRow.published} messages for ${total} events`,
    );
  }, 400_000);

  it('an outage longer than the Kafka clients\' retry budget (45 s): the relay and the consumers recover by themselves', async () => {
    const before = renamed;
    await broker!.stop();
    const down = Date.now();
    await rounds(ROUNDS, ROUNDS + 20);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, LONG_OUTAGE_MS - (Date.now() - down))));
    await broker!.start();
    const { relayMs, readModelsMs, check, status } = await convergence(120_000);
    expect(renamed - before).toBe(WORKSPACES * 20);
    expect(check.actual).toEqual(check.expected);
    expect(Object.values(check.actual).every((n) => n === ROUNDS + 21)).toBe(true);
    expect(check.staleWorkspaces).toEqual([]);
    expect(check.deadLetters).toBe(0);
    expect(status.projectors.filter((projector) => projector.state !== 'running' || projector.lagEvents !== 0)).toEqual([]);
    console.log(`long broker outage (${LONG_OUTAGE_MS} ms): relay at the head ${relayMs} ms after the broker was back, read models ${readModelsMs} ms`);
  }, 400_000);

  it('DEBUGHANG', async () => {
    await broker!.stop();
    await t!.infrastructure.fanout.status().catch((e) => console.log('status failed', String(e)));
    await new Promise((r) => setTimeout(r, Number(process.env.HANG_WAIT ?? 0)));
  }, 100_000);

  // BUG (reported, not fixed here): Fanout.status() asks the broker for consumer-group offsets and lets the
  // connection error escape, so the operator's status page answers 500 exactly when Kafka is down, instead of
  // showing what the store knows (the relay's lag, the projectors' positions, the relay's last error).
  it.failing('GET /projections/status still answers while the broker is down', async () => {
    const tenant = await signUp(t!.infrastructure, 'Status During Outage');
    const admin = await accessTokenFor(t!.infrastructure, tenant.tenantId, 'ADMIN');
    await broker!.stop();
    try {
      await t!.infrastructure.pipeline.handle(workspaceDecider, { streamId: streamIdFor('workspace', tenant.tenantId), command: { type: 'RenameWorkspace', name: 'Unpublished' }, context: context(tenant.tenantId) });
      const response = await request(t!.server).get('/projections/status').set(bearer(admin));
      console.log(`GET /projections/status with the broker down: ${response.status} ${JSON.stringify(response.body).slice(0, 300)}`);
      expect(response.status).toBe(200);
      expect(response.body.relay.lagEvents).toBeGreaterThanOrEqual(1);
    } finally {
      await broker!.start();
    }
  }, 180_000);
});
