import { randomBytes } from 'node:crypto';
import type { BatchOutcome } from '../../../projections/runtime/apply-batch';
import { KafkaProjectionRunner } from '../../../projections/runtime/kafka-runner';
import { readPosition } from '../../../projections/runtime/positions';
import type { Projector } from '../../../projections/runtime/projector';
import { tenantActivityProjector } from '../../../projections/tenant-activity.projector';
import { workspaceDirectoryProjector } from '../../../projections/workspace-directory.projector';
import { startTestApp, type TestApp } from '../../support/app';
import { eventually } from '../../support/eventually';
import { appendCrafted, checkReadModels, converged, craftedWorkspace, type CraftedWorkspace } from '../../support/kafka-harness';
import { describeWithService, serviceUrl } from '../../support/services';

const PROJECTORS: readonly Projector[] = [workspaceDirectoryProjector, tenantActivityProjector];
const WORKSPACES = 20;
const WAVES = 10;
const PER_WAVE = 10; // events per workspace per wave: 20 × 10 × 10 = 2,000 events

/** What the runners reported, per projector: every batch outcome, summed. */
class Outcomes {
  readonly batches = new Map<string, number>();
  readonly applied = new Map<string, number>();
  readonly duplicates = new Map<string, number>();
  deadLettered = 0;

  record = (projector: string, outcome: BatchOutcome): void => {
    this.batches.set(projector, (this.batches.get(projector) ?? 0) + 1);
    this.applied.set(projector, (this.applied.get(projector) ?? 0) + outcome.applied);
    this.duplicates.set(projector, (this.duplicates.get(projector) ?? 0) + outcome.duplicates);
    this.deadLettered += outcome.deadLettered + (outcome.stoppedAt ? 1 : 0);
  };
}

describeWithService('kafka', 'a projector killed between committing its rows and acknowledging its Kafka offsets', () => {
  const started: TestApp[] = [];
  const runners: KafkaProjectionRunner[] = [];

  async function appWithRelay(): Promise<TestApp> {
    const prefix = `crash-${randomBytes(4).toString('hex')}`;
    const t = await startTestApp({ database: 'server', env: { KAFKA_BROKERS: serviceUrl('kafka'), PROOFLINE_KAFKA_TOPIC_PREFIX: prefix } });
    started.push(t);
    t.infrastructure.fanout.relay!.start(); // the relay only: the projectors are the runners built below
    return t;
  }

  function runnerOf(t: TestApp, options: ConstructorParameters<typeof KafkaProjectionRunner>[6]): KafkaProjectionRunner {
    const { fanout, database } = t.infrastructure;
    const runner = new KafkaProjectionRunner(database.knex, t.infrastructure.store, fanout.kafka!, fanout.topics!, fanout.names, PROJECTORS, options);
    runners.push(runner);
    return runner;
  }

  /** WAVES waves of appends, `between` awaited after each (the caller's chance to crash and restart things). */
  async function appendWaves(t: TestApp, between: (wave: number) => Promise<void>): Promise<number> {
    const workspaces: CraftedWorkspace[] = Array.from({ length: WORKSPACES }, craftedWorkspace);
    for (let wave = 0; wave < WAVES; wave += 1) {
      await Promise.all(workspaces.map((workspace) => appendCrafted(t.infrastructure, workspace, PER_WAVE)));
      await between(wave);
    }
    return WORKSPACES * WAVES * PER_WAVE;
  }

  async function expectExactlyOnce(t: TestApp, total: number, outcomes: Outcomes[]): Promise<void> {
    const knex = t.infrastructure.database.knex;
    const check = await eventually(() => checkReadModels(knex), converged, 120_000);
    expect(check.actual).toEqual(check.expected);
    expect(Object.values(check.expected).reduce((sum, n) => sum + n, 0)).toBe(total);
    expect(check.staleWorkspaces).toEqual([]);
    expect(check.deadLetters).toBe(0);
    for (const projector of PROJECTORS) {
      // Every event applied once across all runners and redeliveries: not once per delivery.
      const applied = outcomes.reduce((sum, o) => sum + (o.applied.get(projector.name) ?? 0), 0);
      expect({ projector: projector.name, applied }).toEqual({ projector: projector.name, applied: total });
      expect((await readPosition(knex, projector.name)).applied).toBe(total);
    }
    expect(outcomes.reduce((sum, o) => sum + o.deadLettered, 0)).toBe(0);
  }

  afterEach(async () => {
    await Promise.allSettled(runners.splice(0).map((runner) => runner.close()));
    await Promise.allSettled(started.splice(0).map((t) => t.close()));
  }, 60_000);

  it('a hook that throws after the commit for the first batches: kafkajs redelivers them and the revision guard makes them no-ops', async () => {
    const t = await appWithRelay();
    const CRASHES = 3;
    const crashes = new Map<string, number>();
    const outcomes = new Outcomes();
    const runner = runnerOf(t, {
      onBatch: outcomes.record,
      afterCommitBeforeAck: async (projector) => {
        const n = crashes.get(projector) ?? 0;
        if (n >= CRASHES) return;
        crashes.set(projector, n + 1);
        throw new Error(`killed after the commit, before the ack (${projector}, crash ${n + 1})`);
      },
    });
    const t0 = Date.now();
    await runner.start();
    const total = await appendWaves(t, () => new Promise((resolve) => setTimeout(resolve, 300)));
    await expectExactlyOnce(t, total, [outcomes]);

    for (const projector of PROJECTORS) {
      expect(crashes.get(projector.name)).toBe(CRASHES);
      // The redelivered batches were recognised and skipped by the guard.
      expect(outcomes.duplicates.get(projector.name) ?? 0).toBeGreaterThan(0);
    }
    console.log(
      `projector crash (throw ×${CRASHES}): ${total} events converged in ${Date.now() - t0} ms; ` +
        PROJECTORS.map((p) => `${p.name}: ${outcomes.batches.get(p.name)} batches, ${outcomes.duplicates.get(p.name)} duplicates skipped`).join('; '),
    );
  }, 240_000);

  it('a runner closed from inside the hook, offsets uncommitted: a new runner in the same consumer group gets the batch again and applies nothing twice', async () => {
    const t = await appWithRelay();
    const first = new Outcomes();
    const second = new Outcomes();
    let closing: Promise<void> | undefined;
    let killedAfterBatch = 0;
    const doomed = runnerOf(t, {
      onBatch: first.record,
      afterCommitBeforeAck: async (projector) => {
        if (projector !== tenantActivityProjector.name) return;
        // Mid-stream: the first runner has already committed several batches (rows and offsets) for real.
        if (closing || (first.batches.get(projector) ?? 0) < 3) return;
        killedAfterBatch = first.batches.get(projector)!;
        closing = doomed.close();
        throw new Error('killed after the commit, before the ack');
      },
    });
    const t0 = Date.now();
    await doomed.start();
    let successor: KafkaProjectionRunner | undefined;
    const total = await appendWaves(t, async () => {
      // Slow enough for the runner to see several batches before the kill.
      await new Promise((resolve) => setTimeout(resolve, 300));
      if (closing && !successor) {
        await closing;
        successor = runnerOf(t, { onBatch: second.record });
        await successor.start();
      }
    });
    await eventually(async () => closing !== undefined, Boolean, 60_000);
    if (!successor) {
      await closing;
      successor = runnerOf(t, { onBatch: second.record });
      await successor.start();
    }
    await expectExactlyOnce(t, total, [first, second]);

    expect(killedAfterBatch).toBeGreaterThanOrEqual(3);
    // The batch whose rows were committed but whose offsets were not came back to the new runner, and the guard skipped it.
    expect(second.duplicates.get(tenantActivityProjector.name) ?? 0).toBeGreaterThan(0);
    expect(second.applied.get(tenantActivityProjector.name) ?? 0).toBeGreaterThan(0);
    console.log(
      `projector crash (closed in the hook after batch ${killedAfterBatch}): ${total} events converged in ${Date.now() - t0} ms; ` +
        `new runner: ${second.batches.get(tenantActivityProjector.name)} batches, ${second.duplicates.get(tenantActivityProjector.name)} duplicates skipped, ` +
        `${second.applied.get(tenantActivityProjector.name)} applied`,
    );
  }, 240_000);
});
