import { randomUUID } from 'node:crypto';
import { newEventId } from '../../../contracts';
import { InProcessProjectionRunner } from '../../../projections/runtime/in-process-runner';
import { readPosition, resumeProjector } from '../../../projections/runtime/positions';
import { workspaceDirectoryProjector } from '../../../projections/workspace-directory.projector';
import { rebuildProjection } from '../../../projections/runtime/rebuild';
import { tablesOf } from '../../../projections/runtime/tables';
import { startTestApp, type TestApp } from '../../support/app';
import { eventually } from '../../support/eventually';
import { appendCrafted, craftedWorkspace } from '../../support/kafka-harness';
import { describeWithService } from '../../support/services';

/**
 * Issue 25 review (F2, F9): without Kafka there is no relay to halt a tenant at a bad row, so the
 * in-process runner applies the relay's rule itself: a row filed under another tenant than its
 * envelope names (or whose bytes are not the signed ones) is never applied; the projector stops
 * at it, says why, and goes on after the row is repaired and the projector resumed.
 */
describeWithService('postgres', 'the in-process runner at a bad row', () => {
  let t: TestApp | undefined;
  let runner: InProcessProjectionRunner | undefined;
  afterEach(async () => {
    await runner?.close();
    await t?.close();
  }, 60_000);

  it("given a workspace event re-filed under another tenant (triggers off), then it is never applied to either tenant's row: the projector stops there with EVENT.MISFILED; repaired and resumed (no restart), it applies the rest", async () => {
    t = await startTestApp({ database: 'server' });
    const { database, store } = t.infrastructure;
    const knex = database.knex;
    const victim = craftedWorkspace();
    const other = craftedWorkspace();
    await appendCrafted(t.infrastructure, victim, 1);
    await appendCrafted(t.infrastructure, other, 1);
    await appendCrafted(t.infrastructure, victim, 2); // versions 1 and 2: "Name 1", "Name 2"
    const [, renamed] = await store.readStream(victim.streamId);
    const refile = async (tenantId: string) =>
      knex.transaction(async (trx) => {
        await trx.raw('ALTER TABLE events DISABLE TRIGGER USER');
        await trx('events').where({ event_id: renamed.envelope.id }).update({ tenant_id: tenantId });
        await trx.raw('ALTER TABLE events ENABLE TRIGGER USER');
      });
    await refile(other.tenantId);
    const directory = tablesOf(workspaceDirectoryProjector, 'live').tables.workspaces;
    const rowOf = async (tenantId: string) => {
      const row = await knex(directory).where({ tenant_id: tenantId }).first('name', 'version');
      return row && { name: String(row.name), version: Number(row.version) };
    };

    runner = new InProcessProjectionRunner(knex, store, [workspaceDirectoryProjector], { pollIntervalMs: 20, resumePollMs: 50 });
    await runner.start();
    const stopped = await eventually(() => readPosition(knex, workspaceDirectoryProjector.name), (position) => position.state === 'stopped', 30_000);

    expect(stopped.lastError).toContain('EVENT.MISFILED');
    expect(stopped.lastError).toContain(`is stored as event ${renamed.envelope.id} of stream ${victim.streamId} (tenant ${other.tenantId})`);
    expect(await rowOf(victim.tenantId)).toEqual({ name: 'Name 0', version: 0 });
    expect(await rowOf(other.tenantId)).toEqual({ name: 'Name 0', version: 0 });

    // A rebuild holds to the same rule: it refuses the row and leaves the live tables as they are.
    await expect(rebuildProjection(knex, store, workspaceDirectoryProjector)).rejects.toThrow(/rebuild of workspace_directory stopped at a bad row: EVENT\.MISFILED/);
    expect(await rowOf(victim.tenantId)).toEqual({ name: 'Name 0', version: 0 });

    await refile(victim.tenantId);
    // Resumed as the CLI does it (the database only), the running runner goes on: no restart.
    await resumeProjector(knex, workspaceDirectoryProjector.name);
    expect(await eventually(() => rowOf(victim.tenantId), (row) => row?.version === 2, 30_000)).toEqual({ name: 'Name 2', version: 2 });
    expect(await rowOf(other.tenantId)).toEqual({ name: 'Name 0', version: 0 });
    expect((await readPosition(knex, workspaceDirectoryProjector.name)).state).toBe('running');
  }, 120_000);

  it("given a bad row of another domain (an event type the projector does not take), then the projector goes on past it", async () => {
    t = await startTestApp({ database: 'server' });
    const { database, store, signer } = t.infrastructure;
    const knex = database.knex;
    const workspace = craftedWorkspace();
    await appendCrafted(t.infrastructure, workspace, 1);
    const commandId = randomUUID();
    const thing = signer.seal({ id: newEventId(), type: 'things.thing-happened', schemaVersion: 1, streamId: `things-${workspace.tenantId}`, tenantId: workspace.tenantId, occurredAt: new Date().toISOString(), actor: { id: 'test', role: 'ADMIN' }, data: { n: 1 }, metadata: { correlationId: commandId, causationId: commandId, commandId } });
    await store.append(thing.streamId, [thing], 'no-stream');
    await knex.transaction(async (trx) => {
      await trx.raw('ALTER TABLE events DISABLE TRIGGER USER');
      await trx('events').where({ event_id: thing.id }).update({ tenant_id: randomUUID() });
      await trx.raw('ALTER TABLE events ENABLE TRIGGER USER');
    });
    await appendCrafted(t.infrastructure, workspace, 1);
    const directory = tablesOf(workspaceDirectoryProjector, 'live').tables.workspaces;

    runner = new InProcessProjectionRunner(knex, store, [workspaceDirectoryProjector], { pollIntervalMs: 20 });
    await runner.start();

    const row = await eventually(() => knex(directory).where({ tenant_id: workspace.tenantId }).first('version'), (found) => Number(found?.version) === 1, 30_000);
    expect(Number(row.version)).toBe(1);
    expect((await readPosition(knex, workspaceDirectoryProjector.name)).state).toBe('running');
  }, 60_000);

  it('given a stream version removed from the store (triggers off), then the in-process runner waits at the gap and says why, rather than apply the next version over it', async () => {
    t = await startTestApp({ database: 'server' });
    const { database, store } = t.infrastructure;
    const knex = database.knex;
    const workspace = craftedWorkspace();
    await appendCrafted(t.infrastructure, workspace, 3);
    const [, removed] = await store.readStream(workspace.streamId);
    await knex.transaction(async (trx) => {
      await trx.raw('ALTER TABLE events DISABLE TRIGGER USER');
      await trx('events').where({ event_id: removed.envelope.id }).delete();
      await trx.raw('ALTER TABLE events ENABLE TRIGGER USER');
    });
    const errors: string[] = [];
    const directory = tablesOf(workspaceDirectoryProjector, 'live').tables.workspaces;

    runner = new InProcessProjectionRunner(knex, store, [workspaceDirectoryProjector], { pollIntervalMs: 20, onError: (_projector, error) => errors.push(String(error)) });
    await runner.start();

    await eventually(async () => errors.length, (count) => count > 0, 30_000);
    expect(errors[0]).toContain(`stream ${workspace.streamId}: version 2 arrived, but versions 1..1 are not all in the event store`);
    // The batch that holds the gap is applied whole or not at all: nothing of it yet.
    expect(await knex(directory).where({ tenant_id: workspace.tenantId }).first('version')).toBeUndefined();
  }, 60_000);
});
