import { generateKeyPairSync } from 'node:crypto';
import request from 'supertest';
import type { Database } from '../../../src/database/database';
import type { EventStore } from '../../../src/eventstore/event-store.port';
import { START } from '../../../src/eventstore/global-position';
import { PostgresEventStore } from '../../../src/eventstore/postgres/postgres-event-store';
import { AdvisoryLease } from '../../../src/fanout/lease';
import { CHECKPOINT_EVENT_TYPE } from '../../../src/ledger/checkpoint';
import { LedgerRunner } from '../../../src/ledger/ledger-runner';
import type { ReceiptBuilder } from '../../../src/ledger/receipt-builder';
import { EventSigner } from '../../../src/signing/event-signer';
import { KeyRegistry } from '../../../src/signing/key-registry';
import { until } from '../../support/eventually';
import { startTestApp } from '../../support/app';
import { accessTokenFor, bearer, signUp } from '../../support/identity';
import { openServerTestDatabase } from '../../support/databases';
import { describeWithService } from '../../support/services';
import { appendOne, builderOn, type Signing } from './ledger-fixture';

/** Two hosts of one deployment: the same signing key, each with its own key directory (and kept heads). */
function twoHosts(): [Signing, Signing] {
  const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return [0, 1].map(() => {
    const keys = KeyRegistry.open({ keyType: 'ed25519', privateKeyPem: pem });
    return { keys, signer: new EventSigner(keys) };
  }) as [Signing, Signing];
}

/** Counts the checkpoints a builder issues (what catchUp reports), whoever runs it. */
function counted(builder: ReceiptBuilder): { builder: ReceiptBuilder; issued: () => number } {
  let issued = 0;
  const catchUp = builder.catchUp.bind(builder);
  builder.catchUp = async (fence) => {
    const outcome = await catchUp(fence);
    issued += outcome.checkpoints;
    return outcome;
  };
  return { builder, issued: () => issued };
}

/**
 * Issue 25, item 9: two receipt builders on one database both issued checkpoints, one of them
 * with a stale, smaller tree and a later issuedAt. Now the builder holds the relay's kind of
 * lease: one builds, the other stands by and takes over when the holder's session ends.
 */
describeWithService('postgres', 'two receipt builders on one database (PostgreSQL server)', () => {
  let db: Database;
  let store: EventStore;
  const runners: LedgerRunner[] = [];
  beforeEach(async () => {
    db = await openServerTestDatabase();
    store = new PostgresEventStore(db.knex);
  });
  afterEach(async () => {
    for (const runner of runners.splice(0)) await runner.stop();
    await db.close();
  });

  const checkpointEvents = async (tenantId: string) =>
    (await store.readAll(START, 100_000))
      .filter((event) => event.envelope.type === CHECKPOINT_EVENT_TYPE && event.envelope.tenantId === tenantId)
      .map((event) => event.envelope.data as unknown as { treeSize: number; issuedAt: string });
  const receipts = async (tenantId: string) => Number((await db.knex('ledger_receipts').where({ tenant_id: tenantId }).count({ n: '*' }))[0].n);
  /** Appends one event and waits until a checkpoint covers it (its receipt is in a signed tree). */
  const appendAndAnchor = async (signing: Signing, tenantId: string, n: number) => {
    await appendOne(store, signing.signer, tenantId, { n });
    await until(async () => {
      const size = await receipts(tenantId);
      const checkpoints = await checkpointEvents(tenantId);
      return checkpoints.some((checkpoint) => checkpoint.treeSize >= size && size > 0) && size >= n + 1;
    }, 30_000, `a checkpoint covers event ${n} of ${tenantId}`);
  };

  it('only the lease holder issues checkpoints; when its lease session is terminated the other takes over, and no checkpoint signs a stale, smaller tree', async () => {
    const [hostA, hostB] = twoHosts();
    const signing = hostA;
    const tenant = 'tenant-builder-lease';
    const settings = { checkpointEvery: 1, checkpointIntervalMs: 50 };
    const a = counted(builderOn(db.knex, store, hostA, settings));
    const b = counted(builderOn(db.knex, store, hostB, settings));
    const leaseA = new AdvisoryLease(db.knex, 'ledger.builder');
    const leaseB = new AdvisoryLease(db.knex, 'ledger.builder');
    const runnerA = new LedgerRunner(a.builder, 50, { lease: leaseA });
    const runnerB = new LedgerRunner(b.builder, 50, { lease: leaseB });
    runners.push(runnerA, runnerB);

    runnerA.start();
    await until(() => leaseA.held, 30_000, 'the first builder holds the lease');
    runnerB.start();
    for (let n = 0; n < 6; n++) await appendAndAnchor(signing, tenant, n);
    expect(a.issued()).toBeGreaterThan(0);
    expect(b.issued()).toBe(0);
    expect({ a: runnerA.status().active, b: runnerB.status().active }).toEqual({ a: true, b: false });

    // A round by hand (proofline ledger build) is refused while a builder holds the lease.
    const byHand = new LedgerRunner(builderOn(db.knex, store, hostB, settings), 50, { lease: new AdvisoryLease(db.knex, 'ledger.builder') });
    await expect(byHand.buildOnce()).rejects.toMatchObject({ code: 'LEDGER.BUILDER_ACTIVE' });

    // The holder's lease session is ended (as an operator or a failover would): the first builder stops, the second takes over.
    await db.knex.raw('SELECT pg_terminate_backend(?)', [leaseA.sessionPid!]);
    await until(() => leaseB.held, 30_000, 'the second builder takes the lease over');
    await until(() => !leaseA.held, 30_000, 'the first builder knows it lost the lease');
    const issuedByA = a.issued();
    for (let n = 6; n < 12; n++) await appendAndAnchor(signing, tenant, n);
    expect(b.issued()).toBeGreaterThan(0);
    expect(a.issued()).toBe(issuedByA);
    expect({ a: runnerA.status().active, b: runnerB.status().active }).toEqual({ a: false, b: true });

    // Every checkpoint, in the order issued, signs a larger tree than the one before: none stale.
    const checkpoints = await checkpointEvents(tenant);
    const byIssue = [...checkpoints].sort((x, y) => x.issuedAt.localeCompare(y.issuedAt));
    for (let i = 1; i < byIssue.length; i++) expect({ i, grew: byIssue[i].treeSize > byIssue[i - 1].treeSize, checkpoints: byIssue }).toMatchObject({ grew: true });
    expect(checkpoints).toHaveLength(a.issued() + b.issued());
  }, 120_000);

  it('a builder whose cached tree is behind the receipts stored refuses to sign it (LEDGER.CONCURRENT_BUILDER), rather than issue a stale, smaller checkpoint with a later issuedAt', async () => {
    const [hostA, hostB] = twoHosts();
    const tenant = 'tenant-stale-tree';
    let now = Date.now();
    const first = builderOn(db.knex, store, hostA, { checkpointEvery: 1, checkpointIntervalMs: 50 });
    const second = builderOn(db.knex, store, hostB, { checkpointEvery: 1_000_000, checkpointIntervalMs: 3600_000 }, () => new Date(now));
    await appendOne(store, hostA.signer, tenant, { n: 0 });
    await second.catchUp(); // receipts event 0; its checkpoint is not due yet (an hour)
    await first.catchUp(); // nothing new to receipt; signs size 1
    await appendOne(store, hostA.signer, tenant, { n: 1 });
    await first.catchUp(); // receipts the checkpoint and event 1, signs size 3
    await first.catchUp();
    const before = await checkpointEvents(tenant);
    expect(before.map((checkpoint) => checkpoint.treeSize)).toEqual([1, 3]);
    now += 2 * 3600_000; // the second's checkpoint falls due, on its tree of size 1
    await expect(second.catchUp()).rejects.toMatchObject({ code: 'LEDGER.CONCURRENT_BUILDER' });
    expect(await checkpointEvents(tenant)).toEqual(before);
    await second.catchUp(); // it read the tree again: nothing stale is due any more
    expect((await checkpointEvents(tenant)).every((checkpoint, i, all) => i === 0 || checkpoint.treeSize > all[i - 1].treeSize)).toBe(true);
  }, 60_000);
});

describeWithService('postgres', 'the receipt builder lease in /projections/status (PostgreSQL server)', () => {
  it("says whether this process's builder runs and holds the lease", async () => {
    const t = await startTestApp({ database: 'server' });
    try {
      const tenant = await signUp(t.infrastructure, 'Builder Lease Co');
      const admin = await accessTokenFor(t.infrastructure, tenant.tenantId, 'ADMIN');
      const before = (await request(t.server).get('/projections/status').set(bearer(admin)).expect(200)).body;
      expect(before.ledgerBuilder).toEqual({ running: false, active: false, leaseSessionPid: null, lastError: null });
      t.infrastructure.ledgerRunner.start();
      await until(() => t.infrastructure.ledgerRunner.active, 30_000, 'the builder holds its lease');
      const after = (await request(t.server).get('/projections/status').set(bearer(admin)).expect(200)).body;
      expect(after.ledgerBuilder).toMatchObject({ running: true, active: true, leaseSessionPid: expect.any(Number) });
    } finally {
      await t.close();
    }
  }, 60_000);
});
