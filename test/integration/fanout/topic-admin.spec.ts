import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { SettingFailure } from '../../../src/config/setting-failure';
import { TopicAdmin } from '../../../src/fanout/topic-admin';
import { freePort } from '../../support/kafka-harness';
import { describeWithService, serviceUrl } from '../../support/services';

/** As the Fanout builds it: a client that does not retry by itself, the admin pacing its own retries. */
function topicAdmin(brokers: string, patienceMs?: number): TopicAdmin {
  const kafka = new Kafka({ clientId: 'topic-admin-test', brokers: brokers.split(','), logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  return new TopicAdmin(kafka, { partitions: 2, brokers, patienceMs });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error,
  );
}

describeWithService('kafka', 'the shared topic admin', () => {
  const brokers = serviceUrl('kafka');
  const prefix = `admin-${randomBytes(4).toString('hex')}`;
  const inspector = new Kafka({ clientId: 'topic-admin-inspector', brokers: brokers.split(','), logLevel: logLevel.NOTHING }).admin();
  beforeAll(() => inspector.connect());
  afterAll(async () => {
    const mine = (await inspector.listTopics()).filter((topic) => topic.startsWith(`${prefix}.`));
    if (mine.length > 0) await inspector.deleteTopics({ topics: mine }).catch(() => undefined);
    await inspector.disconnect();
  });

  it('serves concurrent first callers on a fresh admin: each one sees its topics created, none a half-built or closed admin', async () => {
    // The relay, every projector and the dead-letter publisher call ensure() at once at start-up.
    // Before the fix, a second caller used the admin while the first was still connecting it
    // ("Broker not connected"), then closed it under the first ("Cannot read properties of undefined").
    for (let round = 0; round < 5; round += 1) {
      const admin = topicAdmin(brokers);
      const topics = Array.from({ length: 6 }, (_, i) => `${prefix}.r${round}.t${i}.events.v1`);
      const callers = [...topics.map((topic) => [topic]), topics.slice(0, 3), topics.slice(2), [topics[0]]];
      try {
        // Staggered by a few ms, as they arrive at start-up: the later ones land while the first is connecting.
        const outcomes = await Promise.allSettled(callers.map((wanted, i) => sleep(i * 3).then(() => admin.ensure(wanted))));
        expect(outcomes.filter((outcome) => outcome.status === 'rejected')).toEqual([]);
      } finally {
        await admin.close();
      }
      const existing = await inspector.fetchTopicMetadata({ topics });
      expect(existing.topics.map((topic) => [topic.name, topic.partitions.length]).sort()).toEqual(topics.map((topic) => [topic, 2]));
    }
  }, 120_000);

  it('a broker that answers but refuses the topics fails at once, naming KAFKA_BROKERS and the broker\'s reason (not "unreachable" after the patience)', async () => {
    const admin = topicAdmin(brokers, 20_000);
    try {
      const failure = await failureOf(admin.ensure([`${prefix}.bad topic!`]));
      expect(failure).toBeInstanceOf(SettingFailure);
      expect((failure as SettingFailure).setting).toBe('KAFKA_BROKERS');
      expect((failure as Error).message).toMatch(/the broker refused/);
      expect((failure as Error).message).toMatch(/INVALID_TOPIC_EXCEPTION/);
      expect((failure as Error).message).not.toMatch(/no broker .* answered/); // refused at once, not retried as if unreachable
    } finally {
      await admin.close();
    }
  }, 60_000);

  it('answers probe() with the cluster it reached; concurrent probes and ensures share the one connection', async () => {
    const admin = topicAdmin(brokers);
    try {
      const [first, , second] = await Promise.all([admin.probe(), admin.ensure([`${prefix}.probe.events.v1`]), admin.probe()]);
      expect(first.brokers).toContain(brokers.split(',')[0]);
      expect(second).toEqual(first);
    } finally {
      await admin.close();
    }
  }, 60_000);

  it('retries an unreachable broker with backoff, then fails naming KAFKA_BROKERS (never a TypeError)', async () => {
    const closed = `127.0.0.1:${await freePort()}`;
    const admin = topicAdmin(closed, 2_000);
    const started = Date.now();
    const callers = [admin.ensure([`${prefix}.down.a`]), admin.ensure([`${prefix}.down.b`])];
    const [first, second] = await Promise.all(callers.map(failureOf));
    await admin.close();
    for (const error of [first, second]) {
      expect(error).toBeInstanceOf(SettingFailure);
      expect((error as SettingFailure).setting).toBe('KAFKA_BROKERS');
      expect((error as Error).message).toMatch(new RegExp(`^KAFKA_BROKERS must name reachable Kafka brokers: no broker of ${closed} answered while creating topics ${prefix}\\.down\\.[ab] \\([3-9] attempts over [0-9] s\\); last error: .*ECONNREFUSED`));
    }
    // Each caller waited its own patience, one after the other (they share the admin in turn).
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_000);
    expect(Date.now() - started).toBeLessThan(15_000);
    const probe = await failureOf(topicAdmin(closed).probe());
    expect((probe as Error).message).toMatch(/ECONNREFUSED/);
  }, 60_000);

  it('close() ends a wait for an unreachable broker at once', async () => {
    const admin = topicAdmin(`127.0.0.1:${await freePort()}`, 60_000);
    const waiting = failureOf(admin.ensure([`${prefix}.closing`]));
    await sleep(500);
    const started = Date.now();
    await admin.close();
    expect(await waiting).toBeInstanceOf(Error);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(((await failureOf(admin.ensure([`${prefix}.after-close`]))) as Error).message).toBe('the Kafka topic admin is closed');
  }, 30_000);
});
