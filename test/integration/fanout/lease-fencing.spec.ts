import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import type { Database } from '../../../src/database/database';
import { PostgresEventStore } from '../../../src/eventstore/postgres/postgres-event-store';
import { AdvisoryLease } from '../../../src/fanout/lease';
import { Relay } from '../../../src/fanout/relay';
import { TopicAdmin } from '../../../src/fanout/topic-admin';
import { TopicNames } from '../../../src/fanout/topics';
import { Metrics } from '../../../src/observability/metrics';
import { sealedEvent, testSigner, uniqueStreamId } from '../../conformance/envelopes';
import { until } from '../../support/eventually';
import { openServerTestDatabase } from '../../support/databases';
import { describeWithService, describeWithServices, serviceUrl } from '../../support/services';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Issue 25, item 8: the lease is fenced, bounded in time, and scoped to DATABASE_SCHEMA. */
describeWithService('postgres', 'the advisory lease', () => {
  const databases: Database[] = [];
  const children: ChildProcess[] = [];
  afterEach(async () => {
    for (const child of children.splice(0)) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
    await Promise.allSettled(databases.splice(0).map((db) => db.close()));
  });

  it('two deployments in one database (two schemas) get two leases; two instances of one deployment share one', async () => {
    const [a, b] = [await openServerTestDatabase(), await openServerTestDatabase()];
    databases.push(a, b);
    const leases = [new AdvisoryLease(a.knex, 'relay.proofline'), new AdvisoryLease(b.knex, 'relay.proofline'), new AdvisoryLease(a.knex, 'relay.proofline')];
    try {
      expect(await leases[0].tryAcquire()).toBe(true);
      expect(await leases[1].tryAcquire()).toBe(true); // the other schema's relay
      expect(await leases[2].tryAcquire()).toBe(false); // a second instance of the first deployment stands by
    } finally {
      for (const lease of leases) await lease.release();
    }
  });

  it('a server session that already holds the lock (what a transaction-mode pooler hands out) is refused: LEASE.SHARED_SESSION, not a second holder', async () => {
    const db = await openServerTestDatabase();
    databases.push(db);
    // The holder took the lock on a server session; the pooler hands that same session to the next client.
    const holderSession = await db.knex.client.acquireRawConnection();
    await db.knex.raw(`SELECT pg_try_advisory_lock(hashtextextended('proofline.lease.' || coalesce(current_schema(), '') || '.' || CAST(? AS text), 0)) AS taken`, ['pooled']).connection(holderSession);
    const client = db.knex.client as { acquireRawConnection: () => Promise<unknown>; destroyRawConnection: (connection: unknown) => Promise<void> };
    const acquire = jest.spyOn(client, 'acquireRawConnection').mockResolvedValueOnce(holderSession);
    const second = new AdvisoryLease(db.knex, 'pooled');
    let elsewhere: unknown;
    try {
      expect(await second.tryAcquire()).toBe(false);
      expect(second.held).toBe(false);
      expect(second.lostBecause).toMatch(/^LEASE\.SHARED_SESSION: the server session handed to this lease already holds its lock/);
      // Standing by afterwards (a session of its own, the lock held by another) does not erase why: a pooler does not go away.
      acquire.mockRestore();
      elsewhere = await db.knex.client.acquireRawConnection();
      await db.knex.raw(`SELECT pg_try_advisory_lock(hashtextextended('proofline.lease.' || coalesce(current_schema(), '') || '.' || CAST(? AS text), 0)) AS taken`, ['pooled']).connection(elsewhere);
      expect(await second.tryAcquire()).toBe(false);
      expect(second.lostBecause).toMatch(/^LEASE\.SHARED_SESSION/);
    } finally {
      acquire.mockRestore();
      await second.release();
      await client.destroyRawConnection(holderSession).catch(() => undefined);
      if (elsewhere) await client.destroyRawConnection(elsewhere).catch(() => undefined);
    }
  });

  it("a check that runs on another server session than the one that took the lock (a pooler between) is a lost lease, LEASE.SHARED_SESSION", async () => {
    const db = await openServerTestDatabase();
    databases.push(db);
    const lease = new AdvisoryLease(db.knex, 'moved');
    expect(await lease.tryAcquire()).toBe(true);
    const tookItOn = lease.sessionPid!;
    lease.sessionPid = tookItOn + 1; // as if the statements that took the lock ran on another server session than this check

    await expect(lease.check()).rejects.toMatchObject({ code: 'LEASE.LOST', message: expect.stringContaining(`LEASE.SHARED_SESSION: its statement ran on server session ${tookItOn}, not on ${tookItOn + 1}`) });
    expect(lease.held).toBe(false);
  });

  it('a terminated lease session is noticed: check() fails and the lease is no longer held', async () => {
    const db = await openServerTestDatabase();
    databases.push(db);
    const lease = new AdvisoryLease(db.knex, 'fenced');
    expect(await lease.tryAcquire()).toBe(true);
    await lease.check();
    await db.knex.raw('SELECT pg_terminate_backend(?)', [lease.sessionPid!]);
    await expect(lease.check()).rejects.toMatchObject({ code: 'LEASE.LOST' });
    expect(lease.held).toBe(false);
    const standby = new AdvisoryLease(db.knex, 'fenced');
    expect(await standby.tryAcquire()).toBe(true);
    await standby.release();
  });

  it('a frozen holder (SIGSTOP) loses the lease after its lifetime: the server ends its session and a standby takes over; thawed, it knows it lost it', async () => {
    const db = await openServerTestDatabase();
    databases.push(db);
    const env = { PATH: process.env.PATH ?? '', NODE_OPTIONS: '--no-warnings', DATABASE_URL: serviceUrl('postgres'), DATABASE_SCHEMA: db.schema, LEASE_NAME: 'frozen', LEASE_LIFETIME_MS: '2000' };
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(__dirname, '../../support/lease-holder-process.ts')], { cwd: join(__dirname, '../../..'), env, stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(child);
    let latest: { held: boolean; sessionPid: number | null; lostBecause: string | null } | undefined;
    let stderr = '';
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      const lines = (buffered + chunk.toString('utf8')).split('\n');
      buffered = lines.pop()!;
      for (const line of lines) if (line.startsWith('{"lease":')) latest = JSON.parse(line) as typeof latest;
    });
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    await until(() => latest?.held === true || child.exitCode !== null, 90_000, `the child holds the lease (${stderr})`);
    expect(latest).toMatchObject({ held: true });
    const holderSession = latest!.sessionPid;

    const standby = new AdvisoryLease(db.knex, 'frozen');
    expect(await standby.tryAcquire()).toBe(false);
    child.kill('SIGSTOP'); // frozen: its process and its socket stay, it sends nothing
    try {
      // A guard, not a measure: without a bounded lifetime the frozen holder keeps the lease until TCP gives up (hours).
      await until(() => standby.tryAcquire(), 60_000, 'the standby takes the lease from the frozen holder');
      const sessions = await db.knex.raw('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ?', [holderSession]);
      expect(sessions.rows[0].n).toBe(0); // the server ended the frozen holder's session
    } finally {
      child.kill('SIGCONT');
    }
    await until(() => latest?.held === false, 30_000, 'the thawed holder notices it lost the lease');
    expect(latest!.lostBecause).toMatch(/session/);
    await standby.check();
    await standby.release();
  }, 180_000);
});

interface Send {
  readonly relay: string;
  readonly events: number;
}

/** A Kafka client whose producers log each sendBatch (before it is sent) under `relay`. */
function recordingKafka(relay: string, sends: Send[]): Kafka {
  const kafka = new Kafka({ clientId: `lease-fencing-${relay}`, brokers: [serviceUrl('kafka')], logLevel: logLevel.NOTHING, retry: { retries: 3 } });
  const producerOf = kafka.producer.bind(kafka);
  kafka.producer = (config) => {
    const producer: Producer = producerOf(config);
    const sendBatch = producer.sendBatch.bind(producer);
    producer.sendBatch = (batch) => {
      sends.push({ relay, events: batch.topicMessages!.reduce((n, topic) => n + topic.messages.length, 0) });
      return sendBatch(batch);
    };
    return producer;
  };
  return kafka;
}

describeWithServices(['postgres', 'kafka'], 'relays fenced by the lease', () => {
  let db: Database;
  const closing: Array<() => Promise<void>> = [];
  beforeEach(async () => {
    db = await openServerTestDatabase();
  });
  afterEach(async () => {
    for (const close of closing.splice(0).reverse()) await close().catch(() => undefined);
    await db.close();
  }, 60_000);

  it('a standby relay that is closed ends the session it stood by on (a session left open would keep its process from exiting)', async () => {
    const store = new PostgresEventStore(db.knex);
    const names = new TopicNames(`standby-${randomBytes(4).toString('hex')}`);
    const topics = new TopicAdmin(new Kafka({ clientId: 'lease-standby-admin', brokers: [serviceUrl('kafka')], logLevel: logLevel.NOTHING, retry: { retries: 0 } }), { partitions: 1, brokers: serviceUrl('kafka') });
    closing.push(() => topics.close());
    const holder = new AdvisoryLease(db.knex, `relay.${names.prefix}`);
    expect(await holder.tryAcquire()).toBe(true);
    closing.push(() => holder.release());
    const standbyLease = new AdvisoryLease(db.knex, `relay.${names.prefix}`);
    const standby = new Relay(db.knex, store, recordingKafka('standby', []), topics, names, standbyLease, new Metrics(), { pollIntervalMs: 20, leaseRetryMs: 100 });
    const waitingSessions = async () => {
      const { rows } = await db.knex.raw(`SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND pid <> ? AND query LIKE 'SELECT pg_try_advisory_lock(%'`, [holder.sessionPid!]);
      return (rows as Array<{ pid: number }>).map((row) => row.pid);
    };
    const before = await waitingSessions();

    standby.start();
    await until(async () => (await waitingSessions()).length > before.length, 10_000, 'the standby asks for the lease on a session of its own');
    expect(standby.active).toBe(false);
    await standby.close();

    await until(async () => (await waitingSessions()).length <= before.length, 5_000, "the standby's session is ended when it closes");
  }, 60_000);

  it("pg_terminate_backend on the holder's lease session: the old holder publishes nothing more, the new one publishes what follows", async () => {
    const signer = testSigner();
    const store = new PostgresEventStore(db.knex);
    const names = new TopicNames(`fence-${randomBytes(4).toString('hex')}`);
    const topics = new TopicAdmin(new Kafka({ clientId: 'lease-fencing-admin', brokers: [serviceUrl('kafka')], logLevel: logLevel.NOTHING, retry: { retries: 0 } }), {
      partitions: 1,
      brokers: serviceUrl('kafka'),
    });
    closing.push(() => topics.close());
    const sends: Send[] = [];
    const append = async (count: number) => {
      for (let i = 0; i < count; i += 1) {
        const event = sealedEvent(signer, uniqueStreamId('fenced'));
        await store.append(event.streamId, [event], 'no-stream');
      }
    };
    const relayOf = (name: string) => {
      const lease = new AdvisoryLease(db.knex, `relay.${names.prefix}`);
      const relay = new Relay(db.knex, store, recordingKafka(name, sends), topics, names, lease, new Metrics(), { pollIntervalMs: 20, leaseRetryMs: 100 });
      closing.push(() => relay.close());
      return { relay, lease };
    };

    await append(10);
    const old = relayOf('old');
    old.relay.start();
    await until(() => old.relay.published >= 10, 60_000, 'the first relay publishes the first 10 events');
    const next = relayOf('new');
    next.relay.start();
    await sleep(300); // a few of the standby's attempts: it stands by
    expect(next.relay.active).toBe(false);

    // when: an operator (or a failover) ends the holder's lease session
    await db.knex.raw('SELECT pg_terminate_backend(?)', [old.lease.sessionPid!]);
    const sentBeforeTermination = sends.length;
    await until(() => next.relay.active, 30_000, 'the standby takes the lease');
    await append(20);
    await until(() => next.relay.published >= 20, 60_000, 'the new holder publishes the next 20 events');
    await sleep(500); // the old holder's subscription has seen those 20 events too by now

    // then: after the termination only the new holder sent anything, and the old one knows it is no longer active
    const after = sends.slice(sentBeforeTermination);
    expect(after.filter((send) => send.relay === 'old')).toEqual([]);
    expect(after.filter((send) => send.relay === 'new').reduce((n, send) => n + send.events, 0)).toBe(20);
    expect(old.relay.active).toBe(false);
    expect(old.relay.lastError).toMatch(/LEASE|lease/);
  }, 180_000);
});
