import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type Consumer, type ConsumerConfig, type ConsumerRunConfig } from 'kafkajs';
import type { BatchOutcome } from '../../../projections/runtime/apply-batch';
import { InProcessProjectionRunner } from '../../../projections/runtime/in-process-runner';
import { KafkaProjectionRunner } from '../../../projections/runtime/kafka-runner';
import { readPosition } from '../../../projections/runtime/positions';
import type { Projector } from '../../../projections/runtime/projector';
import { tenantActivityProjector } from '../../../projections/tenant-activity.projector';
import { workspaceDirectoryProjector } from '../../../projections/workspace-directory.projector';
import { comparePositions, START } from '../../../src/eventstore/global-position';
import { startTestApp, type TestApp } from '../../support/app';
import { eventually } from '../../support/eventually';
import { appendCrafted, checkReadModels, converged, craftedWorkspace, type CraftedWorkspace } from '../../support/kafka-harness';
import { describeWithService, serviceUrl } from '../../support/services';

const PROJECTORS: readonly Projector[] = [workspaceDirectoryProjector, tenantActivityProjector];
const WORKSPACES = 12;
const ROUNDS = 4;

/** Issue 25, item 7: the in-process runner must not resume from the fastest partition a Kafka consumer reached. */
describeWithService('kafka', 'switching a projector from Kafka to the in-process runner after a partition lagged', () => {
  let t: TestApp | undefined;
  let kafkaRunner: KafkaProjectionRunner | undefined;
  let inProcess: InProcessProjectionRunner | undefined;
  const prefix = `switch-${randomBytes(4).toString('hex')}`;
  const topic = `${prefix}.workspaces.events.v1`;

  afterAll(async () => {
    await kafkaRunner?.close();
    await inProcess?.close();
    await t?.close();
  }, 60_000);

  it('partition 0 never applied, partition 1 applied to its end: the in-process runner applies what partition 0 held, every event exactly once', async () => {
    t = await startTestApp({ database: 'server', env: { KAFKA_BROKERS: serviceUrl('kafka'), PROOFLINE_KAFKA_TOPIC_PREFIX: prefix, PROOFLINE_KAFKA_PARTITIONS: '2' } });
    const { database, store, fanout } = t.infrastructure;
    const knex = database.knex;
    fanout.relay!.start();

    // Partition 0 of the workspaces topic lags: its batches are never handed to the projectors (the partition is paused).
    const lagging = Object.create(fanout.kafka!) as Kafka;
    lagging.consumer = (config: ConsumerConfig): Consumer => {
      const consumer = fanout.kafka!.consumer(config);
      const run = consumer.run.bind(consumer);
      consumer.run = (runConfig?: ConsumerRunConfig) =>
        run({
          ...runConfig,
          eachBatch: async (payload) => {
            if (payload.batch.topic === topic && payload.batch.partition === 0) {
              payload.pause();
              return;
            }
            await runConfig!.eachBatch!(payload);
          },
        });
      return consumer;
    };
    const kafkaOutcomes: BatchOutcome[] = [];
    kafkaRunner = new KafkaProjectionRunner(knex, store, lagging, fanout.topics!, fanout.names, PROJECTORS, { onBatch: (_projector, outcome) => kafkaOutcomes.push(outcome) });
    await kafkaRunner.start();

    // Rounds over all workspaces, so the two partitions' events interleave in the store's order.
    const workspaces: CraftedWorkspace[] = Array.from({ length: WORKSPACES }, craftedWorkspace);
    for (let round = 0; round < ROUNDS; round += 1) for (const workspace of workspaces) await appendCrafted(t.infrastructure, workspace, 2);
    const total = WORKSPACES * ROUNDS * 2;

    const admin = new Kafka({ clientId: 'switch-test', brokers: [serviceUrl('kafka')], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    const ends = await eventually(
      async () => Object.fromEntries((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)])),
      (found) => (found[0] ?? 0) + (found[1] ?? 0) === total,
      60_000,
    );
    await admin.disconnect();
    expect(ends[0] + ends[1]).toBe(total);
    // Both partitions hold events (12 random stream keys on 2 partitions).
    expect(ends[0]).toBeGreaterThan(0);
    expect(ends[1]).toBeGreaterThan(0);

    const partitionOne = async () =>
      (await knex('projector_partition_offsets').where({ topic, kafka_partition: 1 }).select('projector', 'next_offset')).map((row) => `${row.projector}:${row.next_offset}`).sort();
    await eventually(partitionOne, (rows) => rows.length === PROJECTORS.length && rows.every((row) => row.endsWith(`:${ends[1]}`)), 60_000);
    await kafkaRunner.close();
    kafkaRunner = undefined;

    // The setup is what it claims: partition 0 applied nothing, and the saved position is past some of its events.
    expect(await knex('projector_partition_offsets').where({ topic, kafka_partition: 0 }).select('projector')).toEqual([]);
    const behind = await checkReadModels(knex);
    expect(converged(behind)).toBe(false);
    const appliedThroughKafka = kafkaOutcomes.reduce((sum, outcome) => sum + outcome.applied, 0);
    expect(appliedThroughKafka).toBe(ends[1] * PROJECTORS.length);
    const saved = await readPosition(knex, tenantActivityProjector.name);
    const partitionZeroEvents = (await store.readAll(START, total + 10)).filter((event) => behind.staleWorkspaces.includes(event.envelope.streamId));
    expect(partitionZeroEvents).toHaveLength(ends[0]);
    expect(partitionZeroEvents.some((event) => comparePositions(event.position, saved.position) < 0)).toBe(true);

    // Embedded from now on.
    const inProcessOutcomes: BatchOutcome[] = [];
    inProcess = new InProcessProjectionRunner(knex, store, PROJECTORS, { topicNames: fanout.names, pollIntervalMs: 50, onBatch: (_projector, outcome) => inProcessOutcomes.push(outcome) });
    await inProcess.start();
    const check = await eventually(() => checkReadModels(knex), converged, 60_000);
    expect(check.staleWorkspaces).toEqual([]);
    expect(check.actual).toEqual(check.expected);
    expect(Object.values(check.actual)).toEqual(workspaces.map(() => ROUNDS * 2));
    expect(check.deadLetters).toBe(0);
    for (const projector of PROJECTORS) expect({ projector: projector.name, applied: (await readPosition(knex, projector.name)).applied }).toEqual({ projector: projector.name, applied: total });
    // What partition 1 had applied was read again and recognised, not applied twice.
    expect(inProcessOutcomes.reduce((sum, outcome) => sum + outcome.applied, 0)).toBe(ends[0] * PROJECTORS.length);
    // The per-partition rows were dropped with the switch: back on Kafka, a projector reads its partitions from the start (the guard makes that a no-op).
    expect(await knex('projector_partition_offsets').count({ n: '*' })).toEqual([{ n: '0' }]);
  }, 240_000);
});
