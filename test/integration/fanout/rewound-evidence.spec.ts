import { applyBatch, PartitionRewoundError } from '../../../projections/runtime/apply-batch';
import { projected } from '../../../projections/runtime/in-process-runner';
import { forgetPartitionOffsets, recordPartitionFailure } from '../../../projections/runtime/positions';
import { createTables, tablesOf } from '../../../projections/runtime/tables';
import type { Projector } from '../../../projections/runtime/projector';
import { workspaceDirectoryProjector } from '../../../projections/workspace-directory.projector';
import { startTestApp, type TestApp } from '../../support/app';
import { appendCrafted, craftedWorkspace } from '../../support/kafka-harness';
import { describeWithService } from '../../support/services';

const TOPIC = 'evidence.workspaces.events.v1';
const projector = workspaceDirectoryProjector;

/**
 * Issue 25 review: what counts as evidence that a partition's offsets started over. A message below
 * the stored offset is a redelivery unless the guard never accounted for it AND the store holds
 * that very event; only then is it KAFKA.PARTITION_REWOUND.
 */
describeWithService('postgres', 'a message below the stored partition offset', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp({ database: 'server' });
    await createTables(t.infrastructure.database.knex, projector, 'live');
  });
  afterEach(() => t.close());

  const storedOffset = (next: number) => t.infrastructure.database.knex('projector_partition_offsets').insert({ projector: projector.name, topic: TOPIC, kafka_partition: 0, next_offset: next });
  const apply = (events: Parameters<typeof applyBatch>[3], offsets: string[]) =>
    applyBatch(t.infrastructure.database.knex, projector, tablesOf(projector, 'live'), events, { fillGapsFrom: t.infrastructure.store, kafka: { topic: TOPIC, partition: 0, offsets } });

  it('given an event the store holds and the guard never accounted for, then it is KAFKA.PARTITION_REWOUND and nothing is applied', async () => {
    const workspace = craftedWorkspace();
    await appendCrafted(t.infrastructure, workspace, 2);
    await storedOffset(30);
    const events = (await t.infrastructure.store.readStream(workspace.streamId)).map(projected);

    await expect(apply(events, ['10', '11'])).rejects.toBeInstanceOf(PartitionRewoundError);
  });

  it('given an event the store no longer holds (a removed row, left out of a rebuilt guard), then it is a redelivery: skipped, not a rewind', async () => {
    const workspace = craftedWorkspace();
    await appendCrafted(t.infrastructure, workspace, 2);
    const [first, removed] = (await t.infrastructure.store.readStream(workspace.streamId)).map(projected);
    const knex = t.infrastructure.database.knex;
    await knex.transaction(async (trx) => {
      await trx.raw('ALTER TABLE events DISABLE TRIGGER USER');
      await trx('events').where({ event_id: removed.envelope.id }).delete();
      await trx.raw('ALTER TABLE events ENABLE TRIGGER USER');
    });
    await apply([first], ['0']); // the guard holds version 0 only, as a rebuild without the removed row leaves it
    await knex('projector_partition_offsets').where({ projector: projector.name, topic: TOPIC }).update({ next_offset: 30 });

    const outcome = await apply([removed], ['1']);

    expect(outcome).toMatchObject({ applied: 0, duplicates: 1 });
  });

  it('given a rewind marked on a partition, then forget-offsets clears it, and a late mark of the same failure does not bring it back', async () => {
    const knex = t.infrastructure.database.knex;
    await storedOffset(30);
    const failure = new PartitionRewoundError(projector.name, TOPIC, 0, 30n, 'evidence');
    await recordPartitionFailure(knex, projector.name, TOPIC, 0, failure);
    expect(await knex('projector_partition_offsets').where({ projector: projector.name, topic: TOPIC }).first('rewound_at')).toEqual({ rewound_at: expect.any(Date) });

    expect(await forgetPartitionOffsets(knex, projector.name, TOPIC)).toBe(1);
    await recordPartitionFailure(knex, projector.name, TOPIC, 0, failure);

    expect(await knex('projector_partition_offsets').where({ projector: projector.name, topic: TOPIC }).select('rewound_at')).toEqual([]);
  });

  it("given a stop (policy 'stop') on an event that a gap fill brought in and that comes again later in the batch, then nothing of the batch is passed: the later version's offset is not committed past it", async () => {
    const workspace = craftedWorkspace();
    await appendCrafted(t.infrastructure, workspace, 2);
    const [v0, v1] = (await t.infrastructure.store.readStream(workspace.streamId)).map(projected);
    const stopping: Projector = {
      ...projector,
      name: `stop_${Date.now()}`,
      onFailure: 'stop',
      apply: async (events, context) => {
        if (events.some((event) => event.envelope.id === v0.envelope.id)) throw new Error('the handler fails on version 0');
        await projector.apply(events, context);
      },
    };
    const knex = t.infrastructure.database.knex;
    await createTables(knex, stopping, 'live');

    // The partition holds version 1 before version 0: version 1 fills version 0 from the store, which fails.
    const outcome = await applyBatch(knex, stopping, tablesOf(stopping, 'live'), [v1, v0], { fillGapsFrom: t.infrastructure.store, kafka: { topic: TOPIC, partition: 0, offsets: ['0', '1'] } });

    expect(outcome).toMatchObject({ stoppedAt: { eventId: v0.envelope.id }, passedEvents: 0, applied: 0 });
    expect(await knex('projector_partition_offsets').where({ projector: stopping.name }).select('next_offset')).toEqual([]);
  });
});
