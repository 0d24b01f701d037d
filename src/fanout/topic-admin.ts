import type { Admin, Kafka } from 'kafkajs';
import { oneLineMessage, SettingFailure, type Blame } from '../config/setting-failure';
import { abortableSleep } from './abortable-sleep';

export interface TopicAdminOptions {
  /** Partitions of each topic it creates. */
  readonly partitions: number;
  /** The brokers as configured (KAFKA_BROKERS), named in errors. */
  readonly brokers: string;
  /** How long one `ensure` keeps retrying a broker that does not answer before it fails. Default 30 s. */
  readonly patienceMs?: number;
  /**
   * Checks each topic's partition count against the one recorded when it was first created or
   * seen (TopicPartitionRecord): `ensure` fails with TopicRepartitionedError when it differs.
   */
  readonly partitionRecord?: { verify(found: ReadonlyMap<string, number>): Promise<void> };
  /** With a partition record: how long a topic's check holds before `ensure` asks again. Default 30 s. */
  readonly recheckMs?: number;
}

/** What the broker said about itself: the brokers of its cluster and the controller's id. */
export interface ClusterSummary {
  readonly brokers: string[];
  readonly controller: number | null;
}

/** What KAFKA_BROKERS must be, when no broker answers. */
export const KAFKA_UNREACHABLE: Blame = ['KAFKA_BROKERS', 'must name reachable Kafka brokers'];

const FIRST_RETRY_MS = 250;
const LONGEST_RETRY_MS = 5_000;

/**
 * Creates topics before first use (auto-creation is off: a typo must not become a topic), and
 * answers the health check. The relay, every projector and the dead-letter publisher share
 * one instance, so its admin connection is used by one operation at a time: every call runs
 * alone, in call order, and the connection is published only once connected and dropped only
 * between calls. A caller never sees it half-built or closed under it.
 *
 * The client it is given should not retry by itself (`retry: { retries: 0 }`): `ensure` paces
 * its own retries (250 ms doubling to 5 s) and gives up after `patienceMs` with a message
 * naming KAFKA_BROKERS.
 */
export class TopicAdmin {
  /** Topic → when it was last found (and its partition count checked). */
  private readonly known = new Map<string, number>();
  private readonly recheckMs: number;
  private readonly patienceMs: number;
  private readonly closing = new AbortController();
  /** Set only inside `exclusive`, and only to a connected admin. */
  private admin?: Admin;
  private queue: Promise<unknown> = Promise.resolve();
  private probing?: Promise<ClusterSummary>;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: TopicAdminOptions,
  ) {
    this.patienceMs = options.patienceMs ?? 30_000;
    this.recheckMs = options.partitionRecord ? (options.recheckMs ?? 30_000) : Infinity;
  }

  /**
   * Resolves once every topic exists (created with `partitions` partitions, kept forever) and,
   * with a partition record, has the partition count recorded for it (checked again after
   * `recheckMs`, so a topic repartitioned under a running relay is refused within that time).
   */
  async ensure(topics: readonly string[]): Promise<void> {
    if (topics.every((topic) => this.fresh(topic))) return;
    await this.exclusive(async () => {
      // Whoever ran before may have created (and checked) them.
      const stale = topics.filter((topic) => !this.fresh(topic));
      if (stale.length === 0) return;
      const found = new Map<string, number>();
      await this.retrying(`creating topics ${stale.join(', ')}`, async (admin) => {
        const existing = new Set(await admin.listTopics());
        const create = stale.filter((topic) => !existing.has(topic));
        // createTopics answers false when another process created one first; either way it exists now.
        // Kept forever: a projector added later (or down for long) must still find every event.
        if (create.length > 0) {
          await admin.createTopics({
            waitForLeaders: true,
            topics: create.map((topic) => ({ topic, numPartitions: this.options.partitions, configEntries: [{ name: 'retention.ms', value: '-1' }] })),
          });
        }
        if (this.options.partitionRecord) {
          for (const topic of (await admin.fetchTopicMetadata({ topics: stale })).topics) found.set(topic.name, topic.partitions.length);
        }
      });
      await this.options.partitionRecord?.verify(found);
      const now = Date.now();
      for (const topic of stale) this.known.set(topic, now);
    });
  }

  private fresh(topic: string): boolean {
    const at = this.known.get(topic);
    return at !== undefined && Date.now() - at < this.recheckMs;
  }

  /**
   * One question to the cluster, no retry: the health check wants to know now. Concurrent
   * callers share the one in flight.
   */
  probe(): Promise<ClusterSummary> {
    this.probing ??= this.exclusive(() =>
      this.attempt(async (admin) => {
        const cluster = await admin.describeCluster();
        return { brokers: cluster.brokers.map((broker) => `${broker.host}:${broker.port}`), controller: cluster.controller };
      }),
    ).finally(() => (this.probing = undefined));
    return this.probing;
  }

  /** Stops any wait for the broker at once; calls after it fail. */
  async close(): Promise<void> {
    this.closing.abort();
    await this.exclusive(() => this.disconnect());
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const turn = this.queue.then(work);
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async retrying(what: string, work: (admin: Admin) => Promise<void>): Promise<void> {
    const started = Date.now();
    let delay = FIRST_RETRY_MS;
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.attempt(work);
      } catch (error) {
        if (this.closing.signal.aborted) throw error;
        if (refusedByBroker(error)) {
          throw new SettingFailure('KAFKA_BROKERS', "must name a Kafka cluster that accepts Proofline's topics", `the broker refused ${what} (${this.options.partitions} partitions each): ${oneLineMessage(error)}`, { cause: error });
        }
        const elapsed = Date.now() - started;
        if (elapsed + delay > this.patienceMs) {
          const happened = `no broker of ${this.options.brokers} answered while ${what} (${attempt} attempts over ${Math.round(elapsed / 1000)} s); last error: ${oneLineMessage(error)}`;
          throw new SettingFailure(...KAFKA_UNREACHABLE, happened, { cause: error });
        }
        await abortableSleep(delay, this.closing.signal);
        delay = Math.min(delay * 2, LONGEST_RETRY_MS);
      }
    }
  }

  /** One try on the shared connection (connecting it first if needed); a failed try drops it, so the next connects afresh. */
  private async attempt<T>(work: (admin: Admin) => Promise<T>): Promise<T> {
    if (this.closing.signal.aborted) throw new Error('the Kafka topic admin is closed');
    try {
      if (!this.admin) {
        const admin = this.kafka.admin();
        try {
          await admin.connect();
        } catch (error) {
          await admin.disconnect().catch(() => undefined);
          throw error;
        }
        this.admin = admin;
      }
      return await work(this.admin);
    } catch (error) {
      await this.disconnect();
      throw error;
    }
  }

  private async disconnect(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    await admin?.disconnect().catch(() => undefined);
  }
}

/** The broker answered, and said no (a policy, a limit, an authorization): asking again will not help. */
function refusedByBroker(error: unknown): boolean {
  const { name, retriable, type, errors, cause } = (error ?? {}) as { name?: string; retriable?: boolean; type?: unknown; errors?: unknown[]; cause?: unknown };
  // A protocol error (KafkaJSProtocolError and its kind, such as KafkaJSCreateTopicError) carries the broker's error type.
  if (typeof type === 'string' && typeof retriable === 'boolean') return retriable === false;
  if (name === 'KafkaJSAggregateError' && Array.isArray(errors) && errors.length > 0) return errors.every(refusedByBroker);
  return cause !== undefined && cause !== error && refusedByBroker(cause);
}
