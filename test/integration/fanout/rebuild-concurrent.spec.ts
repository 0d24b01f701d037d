import request from 'supertest';
import { workspaceDirectoryProjector } from '../../../projections/workspace-directory.projector';
import { rebuildProjection, type RebuildOutcome } from '../../../projections/runtime/rebuild';
import { tablesOf } from '../../../projections/runtime/tables';
import { startTestApp, type TestApp } from '../../support/app';
import { proofline } from '../../support/cli';
import { bearer, signUp } from '../../support/identity';
import { describeWithService } from '../../support/services';

/**
 * Issue 25, item 4: a second rebuild of a projector while one runs used to drop and recreate the
 * first's half-built shadow tables, and the first then switched that shadow in. Now the rebuild
 * holds a session advisory lock per projector (and DATABASE_SCHEMA) throughout, and a second one
 * is refused with PROJECTION.REBUILD_IN_PROGRESS — from the API and from the CLI.
 */
describeWithService('postgres', 'two rebuilds of one projector at once (PostgreSQL server)', () => {
  let t: TestApp;
  const tenants = 6;
  beforeAll(async () => {
    t = await startTestApp({ database: 'server' });
    for (let n = 0; n < tenants; n++) {
      const tenant = await signUp(t.infrastructure, `Concurrent ${n}`);
      await request(t.server).patch(`/workspaces/${tenant.tenantId}`).set(bearer(tenant.accessToken)).send({ name: `Concurrent ${n} renamed` }).expect(200);
    }
  }, 60_000);
  afterAll(() => t?.close());

  const liveRows = async () => {
    const { knex } = t.infrastructure.database;
    const live = tablesOf(workspaceDirectoryProjector, 'live');
    return { rows: Number((await knex(live.tables.workspaces).count({ n: '*' }))[0].n), renamed: await knex(live.tables.workspaces).where('name', 'like', '% renamed').count({ n: '*' }) };
  };

  it('the second rebuild, started while the first replays, is refused; the first switches over a complete table', async () => {
    const { knex } = t.infrastructure.database;
    const { store, config } = t.infrastructure;
    let second: Promise<RebuildOutcome> | undefined;
    let cli: ReturnType<typeof proofline> | undefined;
    // The first rebuild pauses after its first batch (committed into the shadow tables) until both others have answered.
    const first = rebuildProjection(knex, store, workspaceDirectoryProjector, {
      batchSize: 3,
      onProgress: async () => {
        if (second) return;
        second = rebuildProjection(knex, store, workspaceDirectoryProjector, { batchSize: 1000 });
        cli = proofline(config.PROOFLINE_DATA_DIR, {
          PROOFLINE_PROFILE: 'services',
          DATABASE_URL: config.DATABASE_URL!,
          DATABASE_SCHEMA: config.DATABASE_SCHEMA!,
          PROOFLINE_AUTH_STORE: 'memory',
          PROOFLINE_SIGNING_KEY_TYPE: 'ed25519',
          LOG_LEVEL: 'silent',
        }, 'projections', 'rebuild', workspaceDirectoryProjector.name);
        await Promise.allSettled([second, cli]);
      },
    });
    const [firstOutcome, secondOutcome] = await Promise.allSettled([first, first.then(() => second!)]);
    expect(firstOutcome.status).toBe('fulfilled');
    expect(secondOutcome).toMatchObject({ status: 'rejected', reason: { code: 'PROJECTION.REBUILD_IN_PROGRESS', details: { projector: 'workspace_directory' } } });
    expect((secondOutcome as PromiseRejectedResult).reason.message).toMatch(/a rebuild of projector workspace_directory is already running/);
    const fromCli = await cli!;
    expect({ code: fromCli.code, stderr: fromCli.stderr }).toMatchObject({ code: 2, stderr: expect.stringMatching(/PROJECTION\.REBUILD_IN_PROGRESS: a rebuild of projector workspace_directory is already running/) });

    // Complete: every workspace, each with its rename, and no shadow tables or shadow position left behind.
    expect(await liveRows()).toMatchObject({ rows: tenants, renamed: [{ n: String(tenants) }] });
    expect(await knex.schema.hasTable(tablesOf(workspaceDirectoryProjector, 'shadow').tables.workspaces)).toBe(false);
    expect(await knex('projector_positions').where({ projector: 'workspace_directory__rebuild' }).first()).toBeUndefined();
    // The lock went with the first rebuild: the next one runs, and builds the same table.
    const again = await rebuildProjection(knex, store, workspaceDirectoryProjector);
    expect(again.checksum).toBe((firstOutcome as PromiseFulfilledResult<RebuildOutcome>).value.checksum);
  }, 120_000);

  it('a rebuild whose lock session is ended mid-way does not switch over: the live table is left as it was', async () => {
    const { knex } = t.infrastructure.database;
    const { store } = t.infrastructure;
    const before = await liveRows();
    let terminated = false;
    const rebuild = rebuildProjection(knex, store, workspaceDirectoryProjector, {
      batchSize: 3,
      onProgress: async () => {
        if (terminated) return;
        terminated = true;
        // The rebuild lock's session, found by its key (the lease's name in this schema).
        const holders = await knex.raw(
          `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND granted
             AND ((classid::bigint << 32) | objid::bigint) = hashtextextended('proofline.lease.' || current_schema() || '.projection.rebuild.workspace_directory', 0)`,
        );
        expect(holders.rows).toHaveLength(1);
      },
    });
    await expect(rebuild).rejects.toMatchObject({ code: 'LEASE.LOST' });
    expect(await liveRows()).toEqual(before);
  }, 120_000);
});
