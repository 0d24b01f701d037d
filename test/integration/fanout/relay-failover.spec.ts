import { randomBytes } from 'node:crypto';
import { formatPosition } from '../../../src/eventstore/global-position';
import { startTestApp, type TestApp } from '../../support/app';
import { appendCrafted, craftedWorkspace, RelayProcess, storeHead, TopicTally, type CraftedWorkspace } from '../../support/kafka-harness';
import { describeWithService, serviceUrl } from '../../support/services';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeWithService('kafka', 'the relay in processes of its own: killed, restarted, and side by side with a standby', () => {
  const apps: TestApp[] = [];
  const tallies: TopicTally[] = [];

  async function app(): Promise<{ t: TestApp; topic: string }> {
    const prefix = `relay-${randomBytes(4).toString('hex')}`;
    const t = await startTestApp({ database: 'server', env: { KAFKA_BROKERS: serviceUrl('kafka'), PROOFLINE_KAFKA_TOPIC_PREFIX: prefix } });
    apps.push(t);
    return { t, topic: `${prefix}.workspaces.events.v1` };
  }

  async function tally(topic: string): Promise<TopicTally> {
    const counted = await TopicTally.start(serviceUrl('kafka'), [topic]);
    tallies.push(counted);
    return counted;
  }

  /** `streams` workspaces × `batches` appends of `perBatch` events, the workspaces side by side. */
  async function append(t: TestApp, streams: CraftedWorkspace[], batches: number, perBatch: number, pauseMs = 0): Promise<void> {
    for (let i = 0; i < batches; i += 1) {
      await Promise.all(streams.map((workspace) => appendCrafted(t.infrastructure, workspace, perBatch)));
      if (pauseMs > 0) await sleep(pauseMs);
    }
  }

  async function checkpoint(t: TestApp): Promise<{ position: string; published: number }> {
    const row = await t.infrastructure.database.knex('relay_checkpoints').where({ relay: 'main' }).first();
    return row ? { position: `${row.position_commit}/${row.position_prepare}`, published: Number(row.published) } : { position: '0/0', published: 0 };
  }

  async function storedEventIds(t: TestApp): Promise<string[]> {
    return (await t.infrastructure.database.knex('events').select('event_id')).map((row: { event_id: string }) => row.event_id);
  }

  /** Waits until the relay checkpoint is the store's head and the tally has seen every stored event. */
  async function caughtUp(t: TestApp, counted: TopicTally, timeoutMs = 60_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const head = formatPosition(await storeHead(t.infrastructure.database.knex));
      const ids = await storedEventIds(t);
      const missing = ids.filter((id) => !counted.counts.has(id));
      if (((await checkpoint(t)).position === head && missing.length === 0) || Date.now() > deadline) return missing;
      await sleep(250);
    }
  }

  afterEach(async () => {
    await RelayProcess.killAll();
    await Promise.allSettled(tallies.splice(0).map((counted) => counted.close()));
    await Promise.allSettled(apps.splice(0).map((t) => t.close()));
  }, 60_000);
  afterAll(() => RelayProcess.killAll(), 30_000);

  it('a relay SIGKILLed mid-stream and started again loses nothing: every stored event reaches the topic (at least once)', async () => {
    const { t, topic } = await app();
    const workspaces = Array.from({ length: 20 }, craftedWorkspace);
    await append(t, workspaces, 1, 1); // 20 registrations: the relay's first batch creates the topic
    const first = await RelayProcess.spawn(t.infrastructure);
    await first.until(() => first.latest!.active && first.latest!.published >= 20, 60_000);
    const counted = await tally(topic);

    // 20 workspaces × 100 batches × 2 events, appended while the relay publishes; it is killed part way.
    const load = append(t, workspaces, 100, 2, 20);
    const total = 20 + 20 * 100 * 2;
    await first.until(() => first.latest!.published >= 1000, 120_000);
    await first.kill();
    const killedAt = await checkpoint(t);
    const appendedAtKill = (await storedEventIds(t)).length;

    await sleep(1000);
    const second = await RelayProcess.spawn(t.infrastructure);
    await second.until(() => second.latest!.active, 30_000);
    await load;
    const missing = await caughtUp(t, counted, 90_000);

    expect(killedAt.published).toBeGreaterThanOrEqual(1000);
    expect(killedAt.published).toBeLessThan(total); // killed mid-stream, not after the end
    expect(appendedAtKill).toBeLessThan(total); // and the appends went on after it died
    const ids = await storedEventIds(t);
    expect(ids).toHaveLength(total);
    expect(missing).toEqual([]);
    expect(formatPosition(await t.infrastructure.fanout.relay!.checkpoint())).toBe(formatPosition(await storeHead(t.infrastructure.database.knex)));
    const duplicates = [...counted.counts.values()].filter((n) => n > 1).length;
    console.log(
      `relay SIGKILL: killed after ${killedAt.published} checkpointed events (${appendedAtKill} appended); the restarted relay published ${second.latest!.published}; ` +
        `${counted.messages} messages for ${total} events (${duplicates} events twice: at least once)`,
    );
  }, 300_000);

  it('two relays side by side: one publishes, each event once; SIGKILL the active one and the standby takes over within seconds', async () => {
    const { t, topic } = await app();
    const workspaces = Array.from({ length: 10 }, craftedWorkspace);
    await append(t, workspaces, 1, 1);
    const relays = [await RelayProcess.spawn(t.infrastructure), await RelayProcess.spawn(t.infrastructure)];
    await Promise.race(relays.map((relay) => relay.until(() => relay.latest!.active && relay.latest!.published >= 10, 60_000)));
    const counted = await tally(topic);

    // A steady run with both alive: sample their reports while appending.
    let bothActive = 0;
    let samples = 0;
    const sampler = setInterval(() => {
      samples += 1;
      if (relays.every((relay) => relay.latest?.active)) bothActive += 1;
    }, 50);
    try {
      await append(t, workspaces, 50, 2, 20); // 1,000 events
      expect(await caughtUp(t, counted)).toEqual([]);
      await sleep(1500); // standby lease attempts (every 1 s) while nothing is left to publish
    } finally {
      clearInterval(sampler);
    }
    const [active, standby] = relays[0].latest!.active ? relays : [relays[1], relays[0]];
    expect(active.latest).toMatchObject({ active: true });
    expect(standby.latest).toMatchObject({ active: false, published: 0 });
    expect(samples).toBeGreaterThan(10);
    expect(bothActive).toBe(0);
    const steady = new Map(counted.counts);
    expect(steady.size).toBe(10 + 1000);
    expect([...steady.values()].filter((n) => n !== 1)).toEqual([]); // not published twice in parallel

    await active.kill();
    const killed = Date.now();
    await standby.until(() => standby.latest!.active, 15_000);
    const takeoverMs = Date.now() - killed;
    await append(t, workspaces, 50, 2, 0); // 1,000 more, for the standby alone
    const published = Date.now();
    expect(await caughtUp(t, counted)).toEqual([]);
    const drainMs = Date.now() - published;

    expect(takeoverMs).toBeLessThan(5000);
    expect(standby.latest!.published).toBe(1000); // it resumed at the checkpoint: the rest, nothing before it
    expect(counted.counts.size).toBe(10 + 2000);
    expect([...counted.counts.values()].filter((n) => n !== 1)).toEqual([]);
    console.log(`relay failover: standby active ${takeoverMs} ms after the active relay was killed; the next 1,000 events on the topic ${drainMs} ms after they were appended`);
  }, 300_000);
});
