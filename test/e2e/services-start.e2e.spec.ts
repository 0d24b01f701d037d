import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import knex from 'knex';
import { freePort } from '../support/kafka-harness';
import { deleteRedisKeys, uniqueRedisPrefix } from '../support/redis-keys';
import { ServerProcess } from '../support/server-process';
import { describeWithServices, serviceUrl } from '../support/services';

const STARTS = 20;
/** A start that takes longer than this is a failure too: ~7 s is usual here (ts-node, migrations, topics). */
const START_WITHIN_MS = 60_000;
/** How long start-up waits for an absent broker (TopicAdmin's patience), and a margin for the rest of the start. */
const BROKER_PATIENCE_MS = 30_000;

interface Isolation {
  readonly schema: string;
  readonly topicPrefix: string;
  readonly redisPrefix: string;
  readonly dataDir: string;
}

/**
 * What issue 12's reporter did by hand: the services profile (PostgreSQL server, Redis, the
 * project's Kafka broker), each start on a fresh DATABASE_SCHEMA and a topic prefix the broker
 * has not seen, started the way a user starts it. Before the fix 5 of 12 such starts exited
 * with "TypeError: Cannot read properties of undefined (reading 'listTopics')" or "Broker not
 * connected" (the relay and the first projector racing on the shared topic admin).
 */
describeWithServices(['postgres', 'redis', 'kafka'], 'the services profile started as a user starts it (src/main.ts)', () => {
  const isolations: Isolation[] = [];

  function isolated(): Isolation {
    const id = randomBytes(5).toString('hex');
    const isolation = { schema: `proofline_start_${id}`, topicPrefix: `start-${id}`, redisPrefix: uniqueRedisPrefix(), dataDir: mkdtempSync(join(tmpdir(), 'proofline-start-')) };
    isolations.push(isolation);
    return isolation;
  }

  function servicesEnv(isolation: Isolation, overrides: Record<string, string> = {}): Record<string, string> {
    return {
      PROOFLINE_PROFILE: 'services',
      DATABASE_URL: serviceUrl('postgres'),
      DATABASE_SCHEMA: isolation.schema,
      DATABASE_POOL_SIZE: '4',
      REDIS_URL: serviceUrl('redis'),
      PROOFLINE_REDIS_KEY_PREFIX: isolation.redisPrefix,
      KAFKA_BROKERS: serviceUrl('kafka'),
      PROOFLINE_KAFKA_TOPIC_PREFIX: isolation.topicPrefix,
      PROOFLINE_DATA_DIR: isolation.dataDir,
      PROOFLINE_ADMIN_EMAIL: 'ops@start.test',
      PROOFLINE_ADMIN_PASSWORD: `start-${randomBytes(9).toString('hex')}`,
      ...overrides,
    };
  }

  /** Runs a start expected to fail: its exit code, what it wrote to stderr, and how long it took. */
  async function failedStart(env: Record<string, string>): Promise<{ code: number | null; stderr: string; ms: number }> {
    const started = Date.now();
    const server = ServerProcess.start(await freePort(), env);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), BROKER_PATIENCE_MS + 30_000)));
    const exited = await Promise.race([server.exited, late]);
    clearTimeout(timer);
    await server.stop();
    return { code: exited?.code ?? null, stderr: server.stderr, ms: Date.now() - started };
  }

  afterAll(async () => {
    await ServerProcess.stopAll();
    const admin = knex({ client: 'pg', connection: serviceUrl('postgres') });
    const kafka = new Kafka({ clientId: 'services-start-cleanup', brokers: serviceUrl('kafka').split(','), logLevel: logLevel.NOTHING }).admin();
    try {
      for (const { schema } of isolations) await admin.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
      await kafka.connect();
      const prefixes = isolations.map(({ topicPrefix }) => `${topicPrefix}.`);
      const topics = (await kafka.listTopics()).filter((topic) => prefixes.some((prefix) => topic.startsWith(prefix)));
      if (topics.length > 0) await kafka.deleteTopics({ topics });
      for (const { redisPrefix, dataDir } of isolations) {
        await deleteRedisKeys(redisPrefix);
        rmSync(dataDir, { recursive: true, force: true });
      }
    } finally {
      await kafka.disconnect().catch(() => undefined);
      await admin.destroy();
    }
  }, 120_000);

  it(`starts healthy ${STARTS} times in a row, each on a fresh schema and a topic prefix the broker has not seen`, async () => {
    const failures: string[] = [];
    for (let start = 1; start <= STARTS; start += 1) {
      const server = ServerProcess.start(await freePort(), servicesEnv(isolated()));
      try {
        const health = await server.healthy(START_WITHIN_MS);
        expect(health.body.info).toMatchObject({
          eventStore: { status: 'up', engine: 'postgres' },
          signing: { status: 'up' },
          redis: { status: 'up' },
          kafka: { status: 'up', brokers: expect.arrayContaining([serviceUrl('kafka').split(',')[0]]) },
        });
        expect(server.stdout).toContain('Proofline (services profile) listening on');
      } catch (error) {
        failures.push(`start ${start}: ${error instanceof Error ? error.message : String(error)}`);
      } finally {
        await server.stop();
      }
    }
    expect(failures).toEqual([]);
  }, STARTS * (START_WITHIN_MS + 20_000));

  it('with no broker at KAFKA_BROKERS: retries for about 30 s, then exits 1 with one line naming KAFKA_BROKERS (no TypeError, no stack)', async () => {
    const closed = `127.0.0.1:${await freePort()}`;
    const { code, stderr, ms } = await failedStart(servicesEnv(isolated(), { KAFKA_BROKERS: closed }));
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^Proofline failed to start: KAFKA_BROKERS must name reachable Kafka brokers: no broker of ${closed} answered while creating topics .*ECONNREFUSED`))]);
    expect(stderr).not.toContain('TypeError');
    expect(ms).toBeGreaterThan(BROKER_PATIENCE_MS - 5_000);
  }, BROKER_PATIENCE_MS + 90_000);

  it.each([
    ['a PROOFLINE_ADMIN_PASSWORD the password policy refuses', { PROOFLINE_ADMIN_PASSWORD: 'short' }, /^PROOFLINE_ADMIN_PASSWORD must meet the password policy \(rule min-length\): password must be at least 12 characters \(it has 5\)$/],
    ['a PROOFLINE_ADMIN_PASSWORD holding the address', { PROOFLINE_ADMIN_EMAIL: 'operator@start.test', PROOFLINE_ADMIN_PASSWORD: 'the-operator-of-2024' }, /^PROOFLINE_ADMIN_PASSWORD must meet the password policy \(rule not-email\): /],
    ['no Redis at REDIS_URL', { REDIS_URL: 'redis://127.0.0.1:1' }, /^REDIS_URL must point at a reachable Redis server: Redis is unreachable \(connect\): .*ECONNREFUSED/],
    ['no PostgreSQL at DATABASE_URL', { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/test' }, /^DATABASE_URL must point at a reachable PostgreSQL server where Proofline may create its schema and tables: .*ECONNREFUSED/],
    ['a malformed setting', { PROOFLINE_KAFKA_PARTITIONS: 'many' }, /^PROOFLINE_KAFKA_PARTITIONS: .* \(README\.md, "Configuration"\)$/],
  ])('%s: exits 1 with one line naming the setting and its rule, without a stack trace', async (_, overrides, line) => {
    const { code, stderr } = await failedStart(servicesEnv(isolated(), overrides as Record<string, string>));
    expect(code).toBe(1);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0].replace(/^Proofline failed to start: /, '')).toMatch(line);
  }, 90_000);
});
