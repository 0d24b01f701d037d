import knex, { type Knex } from 'knex';
import request from 'supertest';
import { startTestApp, type TestApp } from '../../support/app';
import { accessTokenFor, bearer, signUp } from '../../support/identity';
import { describeWithService, serviceUrl } from '../../support/services';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what} (last: ${JSON.stringify(value)})`);
    await sleep(100);
  }
}

interface Horizon {
  ageSeconds: number | null;
  degraded: boolean;
  thresholdSeconds: number;
  oldest: { kind: string; pid: number | null; database: string | null; state: string | null; xid: string } | null;
}

/**
 * Issue 25, item 2: a transaction holding an xid — here idle in transaction in **another
 * database** of the cluster — stops every global reader, and lag counted below the same horizon
 * read 0. Lag now counts what is committed, and the horizon's age is exported (metric, status,
 * /health) with `degraded` past PROOFLINE_HORIZON_DEGRADED_SECONDS.
 */
describeWithService('postgres', 'a stuck transaction and the read horizon (PostgreSQL server)', () => {
  let t: TestApp;
  let holder: Knex | undefined;
  let stuck: Knex.Transaction | undefined;
  beforeAll(async () => {
    t = await startTestApp({ database: 'server', env: { PROOFLINE_HORIZON_DEGRADED_SECONDS: '1' } });
  }, 60_000);
  afterAll(async () => {
    await stuck?.rollback().catch(() => undefined);
    await holder?.destroy();
    await t?.close();
  });

  it('lag counts an event committed behind a stuck transaction in another database; status, /health and /metrics show the horizon and its holder', async () => {
    const tenant = await signUp(t.infrastructure, 'Horizon Co');
    const admin = await accessTokenFor(t.infrastructure, tenant.tenantId, 'ADMIN');
    const status = async () => (await request(t.server).get('/projections/status').set(bearer(admin)).expect(200)).body as { projectors: Array<{ projector: string; lagEvents: number }>; horizon: Horizon };
    const lagOf = (body: Awaited<ReturnType<typeof status>>) => body.projectors.find((p) => p.projector === 'workspace_directory')!.lagEvents;
    const before = lagOf(await status());

    // Another database of the same cluster: a session that took an xid and went idle in transaction.
    const url = new URL(serviceUrl('postgres'));
    url.pathname = '/postgres';
    holder = knex({ client: 'pg', connection: url.toString(), pool: { min: 0, max: 1 } });
    stuck = await holder.transaction();
    const mine = (await stuck.raw('SELECT pg_current_xact_id()::text AS xid, pg_backend_pid() AS pid')).rows[0] as { xid: string; pid: number };

    await request(t.server).patch(`/workspaces/${tenant.tenantId}`).set(bearer(tenant.accessToken)).send({ name: 'Renamed behind a stuck transaction' }).expect(200);
    const during = await until(status, (body) => (body.horizon.ageSeconds ?? 0) > 1, 30_000, 'the horizon is older than the 1 s threshold');
    // Committed but not readable: the old count (below the horizon) said nothing changed.
    expect(lagOf(during)).toBe(before + 1);
    expect(during.horizon).toMatchObject({ degraded: true, thresholdSeconds: 1 });
    // The holder shown is the oldest xid in the cluster: this session, or one older still (other suites share the server).
    expect(BigInt(during.horizon.oldest!.xid)).toBeLessThanOrEqual(BigInt(mine.xid) % 2n ** 32n);
    if (during.horizon.oldest!.pid === mine.pid) expect(during.horizon.oldest).toMatchObject({ kind: 'session', database: 'postgres', state: 'idle in transaction' });

    const health = (await request(t.server).get('/health').expect(200)).body as { info: { eventHorizon: { status: string; degraded: boolean; ageSeconds: number } } };
    expect(health.info.eventHorizon).toMatchObject({ status: 'up', degraded: true, ageSeconds: expect.any(Number) });
    expect(health.info.eventHorizon.ageSeconds).toBeGreaterThan(1);
    const metrics = (await request(t.server).get('/metrics').expect(200)).text;
    const age = Number(/^proofline_event_horizon_age_seconds (\S+)$/m.exec(metrics)?.[1]);
    expect(age).toBeGreaterThan(1);

    await stuck.rollback();
    stuck = undefined;
  }, 60_000);
});
