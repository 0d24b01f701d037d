import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import type { Knex } from 'knex';
import { KafkaProjectionRunner } from '../../../projections/runtime/kafka-runner';
import { readPosition } from '../../../projections/runtime/positions';
import type { Projector } from '../../../projections/runtime/projector';
import { tablesOf } from '../../../projections/runtime/tables';
import { tenantActivityProjector } from '../../../projections/tenant-activity.projector';
import { workspaceDirectoryProjector } from '../../../projections/workspace-directory.projector';
import { startTestApp, type TestApp } from '../../support/app';
import { eventually } from '../../support/eventually';
import { appendCrafted, checkReadModels, converged, craftedWorkspace, type CraftedWorkspace } from '../../support/kafka-harness';
import { describeWithService, serviceUrl } from '../../support/services';

const PROJECTORS: readonly Projector[] = [workspaceDirectoryProjector, tenantActivityProjector];
const WORKSPACES = 10;

/** Every table a projector's batch transaction writes: its read model, its guard, its position and its partition offsets. */
function projectorTables(): string[] {
  return [...PROJECTORS.flatMap((projector) => [...Object.values(tablesOf(projector, 'live').tables), tablesOf(projector, 'live').guard]), 'projector_positions', 'projector_partition_offsets'];
}

function sorted(offsets: Record<string, string>): string {
  return JSON.stringify(Object.entries(offsets).sort(([a], [b]) => a.localeCompare(b)));
}

/** Issue 25, item 6: a projector's committed transaction lost (synchronous_commit = off, failover) while its Kafka offset survived. */
describeWithService('kafka', "a projector's database behind its Kafka offsets", () => {
  let t: TestApp | undefined;
  const runners: KafkaProjectionRunner[] = [];
  const prefix = `offsets-${randomBytes(4).toString('hex')}`;
  const kafka = new Kafka({ clientId: 'offsets-test', brokers: [serviceUrl('kafka')], logLevel: logLevel.NOTHING });

  afterAll(async () => {
    await Promise.allSettled(runners.map((runner) => runner.close()));
    await t?.close();
  }, 60_000);

  function runner(): KafkaProjectionRunner {
    const { database, store, fanout, metrics } = t!.infrastructure;
    const made = new KafkaProjectionRunner(database.knex, store, fanout.kafka!, fanout.topics!, fanout.names, PROJECTORS, { metrics, stallSeconds: 5 });
    runners.push(made);
    return made;
  }

  /** Per projector, Kafka's committed offset of each partition of the workspaces topic (`topic/partition` → offset). */
  async function committedInKafka(): Promise<Record<string, Record<string, string>>> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const topic = `${prefix}.workspaces.events.v1`;
      const result: Record<string, Record<string, string>> = {};
      for (const projector of PROJECTORS) {
        const [offsets] = await admin.fetchOffsets({ groupId: t!.infrastructure.fanout.names.consumerGroup(projector.name), topics: [topic] });
        result[projector.name] = Object.fromEntries(offsets.partitions.map((p) => [`${topic}/${p.partition}`, p.offset]));
      }
      return result;
    } finally {
      await admin.disconnect();
    }
  }

  /** The same, as the database holds it. */
  async function storedInDatabase(knex: Knex): Promise<Record<string, Record<string, string>>> {
    const rows: Array<{ projector: string; topic: string; kafka_partition: number; next_offset: string }> = await knex('projector_partition_offsets').select('projector', 'topic', 'kafka_partition', 'next_offset');
    const result: Record<string, Record<string, string>> = {};
    for (const projector of PROJECTORS) {
      result[projector.name] = Object.fromEntries(rows.filter((row) => row.projector === projector.name).map((row) => [`${row.topic}/${row.kafka_partition}`, String(row.next_offset)]));
    }
    return result;
  }

  it('the database lost the last batches (rows, guard, position, partition offsets) while Kafka kept the offsets: on assignment the consumer seeks back to the database offset and applies them again', async () => {
    t = await startTestApp({ database: 'server', env: { KAFKA_BROKERS: serviceUrl('kafka'), PROOFLINE_KAFKA_TOPIC_PREFIX: prefix, PROOFLINE_KAFKA_PARTITIONS: '2' } });
    t.infrastructure.fanout.relay!.start();
    const knex = t.infrastructure.database.knex;
    const workspaces: CraftedWorkspace[] = Array.from({ length: WORKSPACES }, craftedWorkspace);
    const first = runner();
    await first.start();

    // Wave 1, applied and committed everywhere.
    for (const workspace of workspaces) await appendCrafted(t.infrastructure, workspace, 5);
    await eventually(() => checkReadModels(knex), converged, 60_000);
    const offsetsSettled = (db: Record<string, Record<string, string>>, kafkaSide: Record<string, Record<string, string>>) =>
      PROJECTORS.every((p) => Object.keys(db[p.name]).length > 0 && sorted(db[p.name]) === sorted(kafkaSide[p.name]));
    await eventually(async () => offsetsSettled(await storedInDatabase(knex), await committedInKafka()), Boolean, 30_000);

    // What the database will fall back to: everything the projectors' transactions wrote, as of now.
    const tables = projectorTables();
    for (const table of tables) await knex.raw('CREATE TABLE ?? AS TABLE ??', [`snap_${table}`, table]);
    const afterWave1 = await storedInDatabase(knex);

    // Wave 2, applied and committed everywhere too.
    for (const workspace of workspaces) await appendCrafted(t.infrastructure, workspace, 5);
    await eventually(() => checkReadModels(knex), converged, 60_000);
    await eventually(async () => offsetsSettled(await storedInDatabase(knex), await committedInKafka()), Boolean, 30_000);
    const kafkaAfterWave2 = await committedInKafka();
    await first.close();

    // The database loses wave 2's commits, all of them at once (as a failover to a replica that had not received them).
    await knex.transaction(async (trx) => {
      for (const table of tables) {
        await trx.raw('DELETE FROM ??', [table]);
        await trx.raw('INSERT INTO ?? SELECT * FROM ??', [table, `snap_${table}`]);
      }
    });
    expect(await storedInDatabase(knex)).toEqual(afterWave1);
    const lost = await checkReadModels(knex);
    expect(converged(lost)).toBe(false);
    expect(Object.values(lost.actual)).toEqual(workspaces.map(() => 5));
    // The setup is what it claims: Kafka's offsets are ahead of the database's on every partition that got events.
    for (const projector of PROJECTORS) {
      for (const [key, offset] of Object.entries(afterWave1[projector.name])) expect({ key, behind: BigInt(offset) < BigInt(kafkaAfterWave2[projector.name][key]) }).toEqual({ key, behind: true });
    }

    // A new consumer (same groups), and no new event: the lost batches come back from Kafka only because it seeks to the database's offsets.
    await runner().start();
    const check = await eventually(() => checkReadModels(knex), converged, 60_000);
    expect(check.staleWorkspaces).toEqual([]);
    expect(check.actual).toEqual(check.expected);
    expect(Object.values(check.actual)).toEqual(workspaces.map(() => 10));
    expect(check.deadLetters).toBe(0);
    for (const projector of PROJECTORS) expect({ projector: projector.name, applied: (await readPosition(knex, projector.name)).applied }).toEqual({ projector: projector.name, applied: WORKSPACES * 10 });
    await eventually(async () => offsetsSettled(await storedInDatabase(knex), await committedInKafka()), Boolean, 30_000);
    expect(await storedInDatabase(knex)).toEqual(kafkaAfterWave2);
  }, 240_000);
});
