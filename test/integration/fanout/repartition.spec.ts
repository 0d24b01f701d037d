import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import type { BatchOutcome } from '../../../projections/runtime/apply-batch';
import { KafkaProjectionRunner } from '../../../projections/runtime/kafka-runner';
import { forgetPartitionOffsets, readPosition } from '../../../projections/runtime/positions';
import type { Projector } from '../../../projections/runtime/projector';
import { tenantActivityProjector } from '../../../projections/tenant-activity.projector';
import { workspaceDirectoryProjector } from '../../../projections/workspace-directory.projector';
import { tablesOf } from '../../../projections/runtime/tables';
import type { RecordedEvent } from '../../../src/eventstore/event-store.port';
import { Fanout } from '../../../src/fanout/fanout';
import { TopicRepartitionedError } from '../../../src/fanout/partition-record';
import { messageOf } from '../../../src/fanout/relay';
import { startTestApp, type TestApp } from '../../support/app';
import { eventually } from '../../support/eventually';
import { appendCrafted, checkReadModels, converged, craftedWorkspace } from '../../support/kafka-harness';
import { describeWithService, serviceUrl } from '../../support/services';

const PROJECTORS: readonly Projector[] = [workspaceDirectoryProjector, tenantActivityProjector];

/** Issue 25, item 1: partitions added to a topic must neither go unnoticed nor lose a stream's earlier events. */
describeWithService('kafka', 'a topic whose partitions change under Proofline', () => {
  const started: TestApp[] = [];
  const closers: Array<() => Promise<unknown>> = [];
  const kafka = new Kafka({ clientId: 'repartition-test', brokers: [serviceUrl('kafka')], logLevel: logLevel.NOTHING });

  async function app(prefix: string): Promise<TestApp> {
    const t = await startTestApp({ database: 'server', env: { KAFKA_BROKERS: serviceUrl('kafka'), PROOFLINE_KAFKA_TOPIC_PREFIX: prefix, PROOFLINE_KAFKA_PARTITIONS: '2' } });
    started.push(t);
    return t;
  }

  /** A producer the test publishes with itself (no relay), disconnected after the test. */
  async function connectedProducer(): Promise<Producer> {
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await producer.connect();
    closers.push(() => producer.disconnect());
    return producer;
  }

  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
    await Promise.allSettled(started.splice(0).map((t) => t.close()));
  }, 60_000);

  it('partitions added after Proofline recorded the count: the fan-out refuses to start with KAFKA.TOPIC_REPARTITIONED, naming the topic and both counts; recording the new count (the documented procedure) lets it start again', async () => {
    const prefix = `repart-${randomBytes(4).toString('hex')}`;
    const t = await app(prefix);
    const { database, store, metrics, config } = t.infrastructure;
    const topic = `${prefix}.workspaces.events.v1`;

    const first = new Fanout('kafka', database.knex, store, metrics, config, PROJECTORS);
    closers.push(() => first.close());
    await first.start();
    expect(await database.knex('kafka_topic_partitions').where({ topic }).first('partitions')).toEqual({ partitions: 2 });
    await first.close();

    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createPartitions({ topicPartitions: [{ topic, count: 4 }] });
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
      expect(metadata.topics[0].partitions).toHaveLength(4);
    } finally {
      await admin.disconnect();
    }

    // An event for the relay to publish to the repartitioned topic.
    await appendCrafted(t.infrastructure, craftedWorkspace(), 1);
    const second = new Fanout('kafka', database.knex, store, metrics, config, PROJECTORS);
    closers.push(() => second.close());
    const refused = await second.start().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(TopicRepartitionedError);
    expect(refused).toMatchObject({ code: 'KAFKA.TOPIC_REPARTITIONED', topic, recorded: 2, found: 4 });
    expect((refused as Error).message).toContain(`topic ${topic} has 4 partitions but 2 were recorded`);
    // The record is not overwritten by the refused start: the next start refuses too.
    expect(await database.knex('kafka_topic_partitions').where({ topic }).first('partitions')).toEqual({ partitions: 2 });
    // The relay (started first, in the background) refuses the topic as well, and says so.
    const relayError = await eventually(async () => second.relay!.lastError, (error) => typeof error === 'string' && error.includes('KAFKA.TOPIC_REPARTITIONED'), 30_000);
    expect(relayError).toContain(topic);
    await second.close();

    // The documented procedure after a drain (docs/projections.md, "Repartitioning a topic"): record the new count, start again.
    await database.knex.raw('UPDATE kafka_topic_partitions SET partitions = ?, recorded_at = now() WHERE topic = ?', [4, topic]);
    const third = new Fanout('kafka', database.knex, store, metrics, config, PROJECTORS);
    closers.push(() => third.close());
    await third.start();
    await appendCrafted(t.infrastructure, craftedWorkspace(), 3);
    const check = await eventually(() => checkReadModels(database.knex), converged, 60_000);
    expect(check.staleWorkspaces).toEqual([]);
    expect(check.actual).toEqual(check.expected);
    expect(Object.values(check.actual).sort()).toEqual([1, 3]);
    expect(third.relay!.lastError).toBeUndefined();
  }, 180_000);

  it("a lagging projector that gets a stream's later versions before its earlier ones (another partition) fills the gap from the store: every event applied once, none skipped", async () => {
    const prefix = `gapfill-${randomBytes(4).toString('hex')}`;
    const t = await app(prefix);
    const { database, store, metrics, fanout } = t.infrastructure;
    const knex = database.knex;
    const topic = `${prefix}.workspaces.events.v1`;
    const WORKSPACES = 5;
    const VERSIONS = 10;
    const LATER_FROM = 5; // versions 5..9 are delivered first, on partition 1; 0..4 later, on partition 0

    // No relay: the test publishes the stored events itself, in the order a repartitioned topic can deliver them.
    const workspaces = Array.from({ length: WORKSPACES }, craftedWorkspace);
    for (const workspace of workspaces) await appendCrafted(t.infrastructure, workspace, VERSIONS);
    const streams: RecordedEvent[][] = await Promise.all(workspaces.map((workspace) => store.readStream(workspace.streamId)));
    expect(streams.map((events) => events.length)).toEqual(workspaces.map(() => VERSIONS));
    await fanout.topics!.ensure([topic]);
    const producer = await connectedProducer();
    const publish = (partition: number, events: RecordedEvent[]) => producer.send({ topic, acks: -1, messages: events.map((event) => ({ ...messageOf(event), partition })) });

    await publish(1, streams.flatMap((events) => events.slice(LATER_FROM)));
    const outcomes: BatchOutcome[] = [];
    const runner = new KafkaProjectionRunner(knex, store, fanout.kafka!, fanout.topics!, fanout.names, PROJECTORS, { metrics, onBatch: (_projector, outcome) => outcomes.push(outcome) });
    closers.push(() => runner.close());
    await runner.start();

    // Only the later versions are in Kafka, yet the read models hold every version: the earlier ones came from the store.
    const afterLater = await eventually(() => checkReadModels(knex), converged, 60_000);
    expect(afterLater.staleWorkspaces).toEqual([]);
    expect(afterLater.actual).toEqual(afterLater.expected);
    expect(Object.values(afterLater.actual)).toEqual(workspaces.map(() => VERSIONS));

    // The earlier versions arrive at last: recognised as applied, not applied again.
    await publish(0, streams.flatMap((events) => events.slice(0, LATER_FROM)));
    const earlierCount = WORKSPACES * LATER_FROM;
    const offsetsOf = async () =>
      (await knex('projector_partition_offsets').where({ topic, kafka_partition: 0 }).select('projector', 'next_offset')).map((row) => `${row.projector}:${row.next_offset}`).sort();
    const delivered = await eventually(offsetsOf, (rows) => rows.length === PROJECTORS.length && rows.every((row) => row.endsWith(`:${earlierCount}`)), 60_000);
    expect(delivered).toEqual(PROJECTORS.map((p) => `${p.name}:${earlierCount}`).sort());

    const check = await checkReadModels(knex);
    expect(check.actual).toEqual(check.expected);
    expect(check.staleWorkspaces).toEqual([]);
    expect(check.deadLetters).toBe(0);
    for (const projector of PROJECTORS) {
      expect({ projector: projector.name, applied: (await readPosition(knex, projector.name)).applied }).toEqual({ projector: projector.name, applied: WORKSPACES * VERSIONS });
      const fills = (await metrics.projectionGapFills.get()).values.find((value) => value.labels.projector === projector.name)?.value;
      expect({ projector: projector.name, fills }).toEqual({ projector: projector.name, fills: earlierCount });
    }
    expect(outcomes.reduce((sum, outcome) => sum + outcome.gapFills, 0)).toBe(earlierCount * PROJECTORS.length);
    expect(outcomes.reduce((sum, outcome) => sum + outcome.applied, 0)).toBe(WORKSPACES * VERSIONS * PROJECTORS.length);
    // At least the earlier versions, each seen once more (a redelivery adds to it, and changes nothing).
    expect(outcomes.reduce((sum, outcome) => sum + outcome.duplicates, 0)).toBeGreaterThanOrEqual(earlierCount * PROJECTORS.length);
  }, 180_000);
  it("a version whose predecessors the store does not hold (gone): the projector waits, applies nothing of it, and its status says why instead of reading a plain 'running'", async () => {
    const prefix = `gapgone-${randomBytes(4).toString('hex')}`;
    const t = await app(prefix);
    const { database, store, metrics, fanout } = t.infrastructure;
    const knex = database.knex;
    const topic = `${prefix}.workspaces.events.v1`;

    // Version 9 of a stream whose store holds versions 0..5 only (6..8 gone, as after rows were removed).
    const workspace = craftedWorkspace();
    await appendCrafted(t.infrastructure, workspace, 6);
    const stored = await store.readStream(workspace.streamId);
    const beyond = { ...stored[5], streamVersion: 9 };
    await fanout.topics!.ensure([topic]);
    const producer = await connectedProducer();
    await producer.send({ topic, acks: -1, messages: [{ ...messageOf(beyond), partition: 0 }] });

    const runner = new KafkaProjectionRunner(knex, store, fanout.kafka!, fanout.topics!, fanout.names, [workspaceDirectoryProjector], { metrics });
    closers.push(() => runner.close());
    await runner.start();

    const lastErrorOf = async () => (await fanout.status()).projectors.find((p) => p.projector === workspaceDirectoryProjector.name)?.lastError ?? '';
    const stuck = await eventually(lastErrorOf, (error) => error.includes('version 9 arrived'), 60_000);
    expect(stuck).toContain(`${topic}/0 (since `);
    expect(stuck).toContain(`batch failed, retrying: stream ${workspace.streamId}: version 9 arrived, but versions 0..8 are not all in the event store (found 6)`);
    expect((await readPosition(knex, workspaceDirectoryProjector.name)).state).toBe('running');
    const failures = (await metrics.projectionBatchFailures.get()).values.find((value) => value.labels.projector === workspaceDirectoryProjector.name)?.value ?? 0;
    expect(failures).toBeGreaterThanOrEqual(1);
    // Nothing of it was applied, and the partition's offset did not move past it.
    expect(await knex('projector_partition_offsets').where({ projector: workspaceDirectoryProjector.name, topic, kafka_partition: 0 }).first('next_offset')).toEqual({ next_offset: '0' });

    // Another partition's batches commit meanwhile (the stream's stored versions): the failing partition keeps saying so.
    await producer.send({ topic, acks: -1, messages: stored.map((event) => ({ ...messageOf(event), partition: 1 })) });
    const applied = await eventually(() => checkReadModels(knex), (check) => check.staleWorkspaces.length === 0, 60_000);
    expect(applied.staleWorkspaces).toEqual([]);
    expect(await eventually(lastErrorOf, (error) => error.includes('versions 6..8 are not all in the event store (found 0)'), 30_000)).toContain(`${topic}/0 (since `);
  }, 180_000);
  it('a gap whose stored versions include a row filed under another tenant: the fill refuses it (the relay would not publish it either) and the projector waits, saying why', async () => {
    const prefix = `gapmisfiled-${randomBytes(4).toString('hex')}`;
    const t = await app(prefix);
    const { database, store, metrics, fanout } = t.infrastructure;
    const knex = database.knex;
    const topic = `${prefix}.workspaces.events.v1`;
    const workspace = craftedWorkspace();
    const bystander = craftedWorkspace();
    await appendCrafted(t.infrastructure, workspace, 6);
    await appendCrafted(t.infrastructure, bystander, 1);
    const stored = await store.readStream(workspace.streamId);
    await knex.transaction(async (trx) => {
      await trx.raw('ALTER TABLE events DISABLE TRIGGER USER');
      await trx('events').where({ event_id: stored[2].envelope.id }).update({ tenant_id: bystander.tenantId });
      await trx.raw('ALTER TABLE events ENABLE TRIGGER USER');
    });
    await fanout.topics!.ensure([topic]);
    const producer = await connectedProducer();
    await producer.send({ topic, acks: -1, messages: [{ ...messageOf(stored[5]), partition: 0 }] });

    const runner = new KafkaProjectionRunner(knex, store, fanout.kafka!, fanout.topics!, fanout.names, [workspaceDirectoryProjector], { metrics });
    closers.push(() => runner.close());
    await runner.start();

    const lastErrorOf = async () => (await fanout.status()).projectors.find((p) => p.projector === workspaceDirectoryProjector.name)?.lastError ?? '';
    const stuck = await eventually(lastErrorOf, (error) => error.includes('cannot fill the gap'), 60_000);
    expect(stuck).toContain(`stream ${workspace.streamId}: version 2 in the event store cannot fill the gap: event ${stored[2].envelope.id} of stream ${workspace.streamId} (tenant ${workspace.tenantId}) is stored as event ${stored[2].envelope.id} of stream ${workspace.streamId} (tenant ${bystander.tenantId})`);
    const directory = tablesOf(workspaceDirectoryProjector, 'live').tables.workspaces;
    expect(await knex(directory).whereIn('tenant_id', [workspace.tenantId, bystander.tenantId]).select('tenant_id')).toEqual([]);
  }, 180_000);
  it("a topic deleted and created again (offsets start over below what was applied): the projector applies nothing of it and says KAFKA.PARTITION_REWOUND instead of skipping, also once the new log is longer than the old; after forget-offsets it applies the new topic", async () => {
    const prefix = `recreated-${randomBytes(4).toString('hex')}`;
    const t = await app(prefix);
    const { database, store, metrics, fanout } = t.infrastructure;
    const knex = database.knex;
    const topic = `${prefix}.workspaces.events.v1`;
    await fanout.topics!.ensure([topic]);
    const producer = await connectedProducer();
    const publishOn0 = async (workspaces: ReturnType<typeof craftedWorkspace>[]) => {
      const events = (await Promise.all(workspaces.map((workspace) => store.readStream(workspace.streamId)))).flat();
      await producer.send({ topic, acks: -1, messages: events.map((event) => ({ ...messageOf(event), partition: 0 })) });
    };
    const startRunner = async () => {
      const runner = new KafkaProjectionRunner(knex, store, fanout.kafka!, fanout.topics!, fanout.names, PROJECTORS, { metrics });
      closers.push(() => runner.close());
      await runner.start();
      return runner;
    };

    const before = Array.from({ length: 4 }, craftedWorkspace);
    for (const workspace of before) await appendCrafted(t.infrastructure, workspace, 3);
    await publishOn0(before);
    const first = await startRunner();
    await eventually(() => checkReadModels(knex), converged, 60_000);
    await first.close();

    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.deleteTopics({ topics: [topic], timeout: 30_000 });
      await eventually(async () => (await admin.listTopics()).includes(topic), (listed) => !listed, 30_000);
      await eventually(
        () => admin.createTopics({ topics: [{ topic, numPartitions: 2, replicationFactor: 1 }], waitForLeaders: true }).catch(() => false),
        (created) => created === true,
        30_000,
      );
    } finally {
      await admin.disconnect();
    }
    // Fifteen new messages: the new log soon reaches past the offset (12) the projectors applied the old one up to.
    const after = Array.from({ length: 5 }, craftedWorkspace);
    for (const workspace of after) await appendCrafted(t.infrastructure, workspace, 3);
    await publishOn0(after.slice(0, 2));
    await startRunner();

    const lastErrorOf = async (name: string) => (await fanout.status()).projectors.find((p) => p.projector === name)?.lastError ?? '';
    for (const projector of PROJECTORS) {
      const said = await eventually(() => lastErrorOf(projector.name), (error) => error.includes('KAFKA.PARTITION_REWOUND'), 60_000);
      expect(said).toContain(`${topic}/0: the message at offset 0 (stream ${after[0].streamId} version 0) was never applied, below offset 12 up to which projector ${projector.name} applied this partition`);
    }
    // It stays refused as the new log grows past the stored offset: nothing below it is taken for applied.
    await publishOn0(after.slice(2));
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    for (const projector of PROJECTORS) expect(await lastErrorOf(projector.name)).toContain('KAFKA.PARTITION_REWOUND');
    const stuck = await checkReadModels(knex);
    expect(stuck.staleWorkspaces.sort()).toEqual(after.map((workspace) => workspace.streamId).sort());

    for (const projector of PROJECTORS) expect(await forgetPartitionOffsets(knex, projector.name, topic)).toBe(1);
    const check = await eventually(() => checkReadModels(knex), converged, 60_000);
    expect(check.staleWorkspaces).toEqual([]);
    expect(check.actual).toEqual(check.expected);
    for (const projector of PROJECTORS) expect(await eventually(() => lastErrorOf(projector.name), (error) => error === '', 30_000)).toBe('');
  }, 240_000);

  it('a message that is not a relay message (no headers): its partition stops, and the projector says so instead of retrying in silence', async () => {
    const prefix = `poison-${randomBytes(4).toString('hex')}`;
    const t = await app(prefix);
    const { database, store, metrics, fanout } = t.infrastructure;
    const topic = `${prefix}.workspaces.events.v1`;
    await fanout.topics!.ensure([topic]);
    const producer = await connectedProducer();
    await producer.send({ topic, acks: -1, messages: [{ key: 'x', value: 'not an envelope', partition: 0 }] });
    const runner = new KafkaProjectionRunner(database.knex, store, fanout.kafka!, fanout.topics!, fanout.names, [workspaceDirectoryProjector], { metrics });
    closers.push(() => runner.close());
    await runner.start();

    const lastErrorOf = async () => (await fanout.status()).projectors.find((p) => p.projector === workspaceDirectoryProjector.name)?.lastError ?? '';
    const said = await eventually(lastErrorOf, (error) => error.includes('message at offset 0 has no'), 60_000);
    expect(said).toContain(`${topic}/0 (since `);
    expect((await metrics.projectionBatchFailures.get()).values.find((value) => value.labels.projector === workspaceDirectoryProjector.name)?.value ?? 0).toBeGreaterThanOrEqual(1);
  }, 120_000);
});
