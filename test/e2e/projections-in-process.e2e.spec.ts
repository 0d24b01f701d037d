import request from 'supertest';
import { PROJECTORS } from '../../projections';
import { tablesOf, checksumOf } from '../../projections/runtime/tables';
import { tenantActivityProjector } from '../../projections/tenant-activity.projector';
import { workspaceDirectoryProjector } from '../../projections/workspace-directory.projector';
import { startTestApp, type TestApp } from '../support/app';
import { eventually } from '../support/eventually';
import { accessTokenFor, bearer, signUp } from '../support/identity';

describe('projections in-process (embedded profile)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await t.infrastructure.fanout.start();
  });
  afterAll(() => t.close());

  it('command → event → projector row, with no broker', async () => {
    const tenant = await signUp(t.infrastructure, 'Projected Co');
    await request(t.server).patch(`/workspaces/${tenant.tenantId}`).set(bearer(tenant.accessToken)).send({ name: 'Projected Ltd' }).expect(200);
    const knex = t.infrastructure.database.knex;
    const row = await eventually(
      () => knex(tablesOf(workspaceDirectoryProjector, 'live').tables.workspaces).where({ tenant_id: tenant.tenantId }).first(),
      (found) => found?.name === 'Projected Ltd',
    );
    expect({ ...row, version: Number(row.version) }).toMatchObject({ name: 'Projected Ltd', plan_tier: 'FREE', status: 'active', members: 1, version: 1 });

    const activity = await eventually(
      async () => (await request(t.server).get(`/workspaces/${tenant.tenantId}/activity`).set(bearer(tenant.accessToken)).expect(200)).body.activity,
      (rows) => (rows as Array<{ events: number }>).reduce((sum, r) => sum + r.events, 0) === 2,
    );
    expect(activity.map((r: { eventType: string; events: number }) => [r.eventType, r.events]).sort()).toEqual([
      ['workspaces.registered', 1],
      ['workspaces.renamed', 1],
    ]);

    // lag is measured when /metrics is scraped, with no status call before it
    const metrics = await request(t.server).get('/metrics').expect(200);
    expect(metrics.text).toMatch(/proofline_projection_lag_events\{projector="workspace_directory"\} 0/);
    expect(metrics.text).toMatch(/proofline_projection_end_to_end_seconds_count\{projector="workspace_directory"\} [1-9]/);
  });

  it('GET /projections/status answers ADMIN with each projector caught up', async () => {
    const tenant = await signUp(t.infrastructure, 'Status Co');
    const admin = await accessTokenFor(t.infrastructure, tenant.tenantId, 'ADMIN');
    const status = await eventually(
      async () => (await request(t.server).get('/projections/status').set(bearer(admin)).expect(200)).body,
      (body) => (body.projectors as Array<{ lagEvents: number }>).every((p) => p.lagEvents === 0),
    );
    expect(status.mode).toBe('in-process');
    expect(status.projectors.map((p: { projector: string; state: string; lagEvents: number }) => [p.projector, p.state, p.lagEvents])).toEqual(
      PROJECTORS.map((projector) => [projector.name, 'running', 0]),
    );
    await request(t.server).get('/projections/status').set(bearer(tenant.accessToken)).expect(403);
    expect(await checksumOf(t.infrastructure.database.knex, tenantActivityProjector)).toMatch(/^daily:\d+:[0-9a-f]{32}$/);
  });
});
