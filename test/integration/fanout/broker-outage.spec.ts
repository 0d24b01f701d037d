import { randomBytes, randomUUID } from 'node:crypto';
import { comparePositions, formatPosition } from '../../../src/eventstore/global-position';
import { workspaceDecider } from '../../../src/workspaces/workspace.decider';
import { streamIdFor } from '../../../src/commands/stream-id';
import type { CommandContext } from '../../../src/commands/command-context';
import type { FanoutStatus } from '../../../src/fanout/fanout';
import { startTestApp, type TestApp } from '../../support/app';
import { eventually } from '../../support/eventually';
import { checkReadModels, converged, PrivateBroker, storeHead, type ReadModelCheck } from '../../support/kafka-harness';
import { describeWithService } from '../../support/services';

const WORKSPACES = 25;
const ROUNDS = 200; // WORKSPACES × ROUNDS = 5,000 renames
const OUTAGE_AFTER_ROUND = 80; // ~2,000 renames in
const ROUNDS_DURING_OUTAGE = 40;

function context(tenantId: string): CommandContext {
  const id = randomUUID();
  return { tenantId, actor: { id: 'outage-test', role: 'CUSTOMER_ADMIN' }, correlationId: id, causationId: id, commandId: id, now: new Date().toISOString() };
}

describeWithService('kafka', 'fan-out across a Kafka broker outage (a private broker stopped and started mid-load)', () => {
  let broker: PrivateBroker | undefined;
  let t: TestApp | undefined;
  const prefix = `outage-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    broker = await PrivateBroker.create();
    await broker.start();
    t = await startTestApp({ database: 'server', env: { KAFKA_BROKERS: broker.brokers, PROOFLINE_KAFKA_TOPIC_PREFIX: prefix } });
    await t.infrastructure.fanout.start();
  }, 180_000);

  afterAll(async () => {
    await t?.close().catch(() => undefined);
    await broker?.destroy();
  }, 120_000);

  it('the write path keeps working while the broker is down, and afterwards every read model equals the stream exactly once', async () => {
    const infrastructure = t!.infrastructure;
    const knex = infrastructure.database.knex;
    const tenants = Array.from({ length: WORKSPACES }, () => randomUUID());
    for (const tenantId of tenants) {
      await infrastructure.pipeline.handle(workspaceDecider, {
        streamId: streamIdFor('workspace', tenantId),
        command: { type: 'RegisterWorkspace', workspaceId: tenantId, name: 'Round 0', planTier: 'FREE', owner: { userId: randomUUID(), email: `${tenantId}@example.test`, role: 'CUSTOMER_ADMIN' } },
        context: context(tenantId),
      });
    }
    let renamed = 0;
    const rounds = async (from: number, to: number): Promise<void> => {
      for (let round = from; round < to; round += 1) {
        const outcomes = await Promise.all(
          tenants.map((tenantId) =>
            infrastructure.pipeline.handle(workspaceDecider, { streamId: streamIdFor('workspace', tenantId), command: { type: 'RenameWorkspace', name: `Round ${round + 1}` }, context: context(tenantId) }),
          ),
        );
        renamed += outcomes.filter((outcome) => outcome.events.length === 1).length;
      }
    };

    const started = Date.now();
    await rounds(0, OUTAGE_AFTER_ROUND);
    const beforeOutage = renamed;

    await broker!.stop();
    const outageStarted = Date.now();
    await rounds(OUTAGE_AFTER_ROUND, OUTAGE_AFTER_ROUND + ROUNDS_DURING_OUTAGE);
    const duringOutage = renamed - beforeOutage;
    const appendMsDuringOutage = Date.now() - outageStarted;
    const relayDuringOutage = (await infrastructure.fanout.status()).relay;
    // Keep it down a few seconds even if the appends were quick.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 4000 - appendMsDuringOutage)));

    // The rest of the load runs while the broker restarts.
    await Promise.all([broker!.start(), rounds(OUTAGE_AFTER_ROUND + ROUNDS_DURING_OUTAGE, ROUNDS)]);
    const brokerBack = Date.now();
    const appendedAll = Date.now() - started;

    expect(renamed).toBe(WORKSPACES * ROUNDS);
    expect(duringOutage).toBe(WORKSPACES * ROUNDS_DURING_OUTAGE);
    // While Kafka was down the relay could not publish: the outage was real.
    expect(relayDuringOutage?.lagEvents).toBeGreaterThan(0);

    const total = WORKSPACES * (ROUNDS + 1);
    expect(Number((await knex('events').count({ n: '*' }))[0].n)).toBe(total);
    const head = await storeHead(knex);

    let status: FanoutStatus | undefined;
    let check: ReadModelCheck | undefined;
    await eventually(
      async () => {
        check = await checkReadModels(knex);
        status = converged(check) ? await infrastructure.fanout.status() : undefined;
        await new Promise((resolve) => setTimeout(resolve, 250));
        return status;
      },
      (found) => found !== undefined && found.relay!.lagEvents === 0 && found.projectors.every((projector) => projector.lagEvents === 0),
      120_000,
    );
    const convergedAfter = Date.now() - brokerBack;

    expect(formatPosition(await infrastructure.fanout.relay!.checkpoint())).toBe(formatPosition(head));
    expect(comparePositions(await infrastructure.fanout.relay!.checkpoint(), head)).toBe(0);
    expect(check!.actual).toEqual(check!.expected);
    expect(Object.keys(check!.expected)).toHaveLength(WORKSPACES);
    expect(Object.values(check!.actual).every((n) => n === ROUNDS + 1)).toBe(true);
    expect(check!.staleWorkspaces).toEqual([]);
    expect(check!.deadLetters).toBe(0);
    expect(status).toMatchObject({ mode: 'kafka', relay: { active: true, lagEvents: 0 } });
    expect(status!.projectors.map((projector) => [projector.projector, projector.state, projector.lagEvents, projector.lastError])).toEqual([
      ['workspace_directory', 'running', 0, null],
      ['tenant_activity', 'running', 0, null],
    ]);
    const relayRow = await knex('relay_checkpoints').where({ relay: 'main' }).first();
    // At least once: the relay may have re-published a batch whose acknowledgement the outage swallowed.
    expect(Number(relayRow.published)).toBeGreaterThanOrEqual(total);

    console.log(
      `broker outage: ${total} events appended in ${appendedAll} ms (${duringOutage} renames in ${appendMsDuringOutage} ms with the broker down); ` +
        `converged ${convergedAfter} ms after the broker was back; relay published ${relayRow.published} messages for ${total} events`,
    );
  }, 400_000);
});
