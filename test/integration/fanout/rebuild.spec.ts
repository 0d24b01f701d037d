import request from 'supertest';
import { tenantActivityProjector } from '../../../projections/tenant-activity.projector';
import { workspaceDirectoryProjector } from '../../../projections/workspace-directory.projector';
import { applyBatch } from '../../../projections/runtime/apply-batch';
import { projected } from '../../../projections/runtime/in-process-runner';
import { defineProjector } from '../../../projections/runtime/projector';
import { rebuildProjection } from '../../../projections/runtime/rebuild';
import { checksumOf, createTables, tablesOf } from '../../../projections/runtime/tables';
import { START } from '../../../src/eventstore/global-position';
import { startTestApp, type TestApp } from '../../support/app';
import { bearer, signUp } from '../../support/identity';
import { describeWithService } from '../../support/services';

function rebuildSuite(database: 'embedded' | 'server') {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ database });
    for (const name of ['Rebuild A', 'Rebuild B', 'Rebuild C']) {
      const tenant = await signUp(t.infrastructure, name);
      for (let i = 0; i < 5; i++) await request(t.server).patch(`/workspaces/${tenant.tenantId}`).set(bearer(tenant.accessToken)).send({ name: `${name} ${i}` }).expect(200);
    }
  }, 60_000);
  afterAll(() => t.close());

  /** The projection as the live runner would build it, event by event in small batches. */
  const projectLive = async () => {
    const { knex } = t.infrastructure.database;
    for (const projector of [tenantActivityProjector, workspaceDirectoryProjector]) {
      const names = await createTables(knex, projector, 'live');
      let position = START;
      for (;;) {
        const batch = await t.infrastructure.store.readAll(position, 7);
        if (batch.length === 0) break;
        await applyBatch(knex, projector, names, batch.map(projected));
        position = batch[batch.length - 1].position;
      }
    }
  };

  it('a rebuild repairs a damaged projection while queries read the old tables; two rebuilds give the same checksum', async () => {
    const { knex } = t.infrastructure.database;
    await projectLive();
    const live = await checksumOf(knex, tenantActivityProjector);
    // damage the live projection: the rebuild must repair it, and queries must see the old tables until the switch
    const daily = tablesOf(tenantActivityProjector, 'live').tables.daily;
    await knex(daily).where('event_type', 'workspaces.registered').delete();
    const damaged = await checksumOf(knex, tenantActivityProjector);
    expect(damaged).not.toBe(live);
    const progress: number[] = [];
    const seenDuringRebuild: Array<Promise<string>> = [];
    const first = await rebuildProjection(knex, t.infrastructure.store, tenantActivityProjector, {
      batchSize: 4,
      onProgress: (p) => {
        progress.push(p.events);
        if (progress.length === 2) seenDuringRebuild.push(checksumOf(knex, tenantActivityProjector));
      },
      liveRunnersMayExist: database === 'server',
    });
    expect(await Promise.all(seenDuringRebuild)).toEqual([damaged]);
    const second = await rebuildProjection(knex, t.infrastructure.store, tenantActivityProjector, { batchSize: 1000, liveRunnersMayExist: database === 'server' });
    expect(first.checksum).toBe(live);
    expect(second.checksum).toBe(first.checksum);
    expect(first.events).toBe((await t.infrastructure.store.readAll(START, 100_000)).length);
    expect(progress.length).toBeGreaterThan(3);
    expect(await knex.schema.hasTable(tablesOf(tenantActivityProjector, 'shadow').tables.daily)).toBe(false);
    const position = await knex('projector_positions').where({ projector: 'tenant_activity' }).first();
    expect(position).toMatchObject({ state: 'running' });
    expect(await knex('projector_positions').where({ projector: 'tenant_activity__rebuild' }).first()).toBeUndefined();
  });

  it('after a rebuild, replaying the same events again changes nothing (the guard came with the tables)', async () => {
    const { knex } = t.infrastructure.database;
    await rebuildProjection(knex, t.infrastructure.store, workspaceDirectoryProjector, { liveRunnersMayExist: database === 'server' });
    const before = await checksumOf(knex, workspaceDirectoryProjector);
    const everything = await t.infrastructure.store.readAll(START, 100_000);
    const outcome = await applyBatch(knex, workspaceDirectoryProjector, tablesOf(workspaceDirectoryProjector, 'live'), everything.map(projected));
    expect(outcome.applied).toBe(0);
    expect(outcome.duplicates).toBeGreaterThan(0);
    expect(await checksumOf(knex, workspaceDirectoryProjector)).toBe(before);
  });

  it('a stop-policy projector failing mid-rebuild aborts it: the live tables stay as they were, and a stop stays a stop', async () => {
    const { knex } = t.infrastructure.database;
    const events = await t.infrastructure.store.readAll(START, 100_000);
    const poisoned = events.find((event) => event.envelope.type === 'workspaces.renamed')!.envelope.id;
    const fragile = defineProjector({
      name: `fragile_${database}`,
      handles: ['workspaces.registered', 'workspaces.renamed'],
      onFailure: 'stop',
      tables: { seen: (table) => table.text('event_id').primary() },
      async apply(batch, { trx, tables }) {
        for (const { envelope } of batch) {
          if (envelope.id === poisoned) throw new Error('cannot project this one');
          await trx(tables.seen).insert({ event_id: envelope.id });
        }
      },
    });
    const live = await createTables(knex, fragile, 'live');
    await knex(live.tables.seen).insert({ event_id: 'the live projection as it was' });
    await expect(rebuildProjection(knex, t.infrastructure.store, fragile, { liveRunnersMayExist: database === 'server' })).rejects.toThrow(/stopped at event .*the live tables are unchanged/);
    expect(await knex(live.tables.seen).pluck('event_id')).toEqual(['the live projection as it was']);

    // live: the stop is recorded, and a later batch (another partition's, say) does not report the projector running again
    const first = await applyBatch(knex, fragile, live, events.map(projected));
    expect(first.stoppedAt?.eventId).toBe(poisoned);
    const later = events.filter((event) => event.envelope.type === 'workspaces.registered').slice(-1).map(projected);
    await applyBatch(knex, fragile, live, later);
    expect(await knex('projector_positions').where({ projector: fragile.name }).first()).toMatchObject({ state: 'stopped', last_error: 'cannot project this one' });
  });
}

describe('projection rebuild (PGlite)', () => rebuildSuite('embedded'));
describeWithService('postgres', 'projection rebuild (PostgreSQL server)', () => rebuildSuite('server'));
