import { Logger } from '@nestjs/common';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from 'kafkajs';
import type { Knex } from 'knex';
import type { EventEnvelope } from '../../contracts';
import type { EventStore } from '../../src/eventstore/event-store.port';
import { parsePosition } from '../../src/eventstore/global-position';
import type { Metrics } from '../../src/observability/metrics';
import { HEADERS, type TopicNames } from '../../src/fanout/topics';
import type { TopicAdmin } from '../../src/fanout/topic-admin';
import { applyBatch, type ApplyOptions, type BatchOutcome } from './apply-batch';
import { readPosition, recordPartitionFailure } from './positions';
import type { ProjectedEvent, Projector } from './projector';
import { createTables, tablesOf } from './tables';

export interface KafkaRunnerOptions {
  readonly onBatch?: (projector: string, outcome: BatchOutcome) => void;
  /** Called after the rows are committed and before the offsets are: where a crash does the most harm (tests use it). */
  readonly afterCommitBeforeAck?: (projector: string) => Promise<void>;
  readonly metrics?: Metrics;
  /** A consumer whose group has lag but that delivered no batch for this long is replaced (PROOFLINE_KAFKA_STALL_SECONDS). Default 60 s. */
  readonly stallSeconds?: number;
  /** How often the watchdog looks. Default: a fifth of stallSeconds, at most 5 s. */
  readonly watchdogIntervalMs?: number;
  /** How long a replaced consumer may take to disconnect before it is abandoned. Default 10 s. */
  readonly disconnectTimeoutMs?: number;
}

/** A projector's current consumer, and when it last showed life (joined its group or delivered a batch). */
interface Live {
  consumer: Consumer;
  lastProgress: number;
  /** Partitions sought back to their stored offset in this consumer's life: `topic/partition` → offset. */
  readonly sought: Map<string, string>;
  /** The partitions the group gave this consumer at its last join (undefined until it joined). */
  assignment?: Record<string, number[]>;
}

/**
 * A projector as a Kafka consumer group. Each batch's rows, revision guard, position and
 * partition offset are committed in one database transaction, and only then are the offsets
 * committed to Kafka. The database's offset is the one that counts: a batch that starts after it
 * (Kafka's offset outlived a lost database commit) is not applied, and the consumer seeks back
 * to it; a batch that starts before it (a crash between the two commits) is applied from it on.
 * A stream version that arrives before its predecessors is filled from the store (applyBatch).
 *
 * A consumer kafkajs gives up on (CRASH without restart) is replaced; so is one that stalls
 * (its group has lag but it delivered no batch for `stallSeconds`), counted in
 * proofline_projection_consumer_replacements_total and logged.
 */
export class KafkaProjectionRunner {
  private readonly logger = new Logger('projections');
  private readonly live = new Map<string, Live>();
  private readonly replacing = new Set<string>();
  private deadLetterProducer?: Producer;
  private closed = false;
  private watchdog?: NodeJS.Timeout;
  private watching = false;
  private readonly stallMs: number;

  constructor(
    private readonly knex: Knex,
    private readonly store: EventStore,
    private readonly kafka: Kafka,
    private readonly topics: TopicAdmin,
    private readonly names: TopicNames,
    private readonly projectors: readonly Projector[],
    private readonly options: KafkaRunnerOptions = {},
  ) {
    this.stallMs = (options.stallSeconds ?? 60) * 1000;
  }

  async start(): Promise<void> {
    for (const projector of this.projectors) await this.startOne(projector);
    const every = this.options.watchdogIntervalMs ?? Math.min(5_000, Math.max(100, this.stallMs / 5));
    this.watchdog = setInterval(() => void this.checkStalls(), every);
    this.watchdog.unref();
  }

  async close(): Promise<void> {
    // A consumer crashing right now would otherwise restart after this disconnect (kafkajs arms its restart after the crash event).
    this.closed = true;
    clearInterval(this.watchdog);
    const consumers = [...this.live.values()].map((live) => live.consumer);
    this.live.clear();
    await Promise.allSettled(consumers.map((consumer) => this.disconnect(consumer)));
    await this.deadLetterProducer?.disconnect().catch(() => undefined);
    this.deadLetterProducer = undefined;
  }

  private async startOne(projector: Projector): Promise<void> {
    const names = await createTables(this.knex, projector, 'live');
    const topics = this.names.forTypes(projector.handles);
    // Refuses a topic whose partition count differs from the one recorded (docs/projections.md, "Repartitioning a topic").
    await this.topics.ensure(topics);
    const consumer = this.kafka.consumer({
      groupId: this.names.consumerGroup(projector.name),
      maxWaitTimeInMs: 20,
      allowAutoTopicCreation: false,
      // After a broker restart the group waits for the old member's session to expire: 10 s, not kafkajs's 30 s.
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
      retry: { restartOnFailure: async () => !this.closed },
    });
    const live: Live = { consumer, lastProgress: Date.now(), sought: new Map() };
    this.live.set(projector.name, live);
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      live.lastProgress = Date.now();
      live.sought.clear();
      live.assignment = payload.memberAssignment;
      void this.seekToStored(projector, live, payload.memberAssignment).catch((error: unknown) =>
        // The first batch of such a partition still finds the stored offset behind it and seeks (eachBatch).
        this.logger.warn(`projector ${projector.name}: could not compare its stored offsets with its group's on assignment: ${error instanceof Error ? error.message : String(error)}`),
      );
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.logger.warn(`projector ${projector.name}: its Kafka consumer crashed (${payload.error.name}: ${payload.error.message}); ${payload.restart ? 'kafkajs restarts it' : 'kafkajs gave up on it, it is replaced'}`);
      // Closed from within the crash's handling: kafkajs arms the restart right after this event, so stop it once armed.
      if (this.closed && payload.restart) setImmediate(() => void consumer.disconnect().catch(() => undefined));
      // kafkajs gives up on errors it deems not retriable; a projector must not stay silently dead: start a fresh consumer.
      if (!this.closed && !payload.restart) setTimeout(() => void this.replace(projector, consumer, 'crashed'), 1_000);
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: (payload) => this.eachBatch(projector, names, live, payload),
      });
    } catch (error) {
      await this.drop(projector, consumer);
      throw error;
    }
  }

  /** Replaces the projector's consumer `dead` (once, however many crashes or stalls report it) by a fresh one. */
  private async replace(projector: Projector, dead: Consumer | undefined, reason: 'crashed' | 'stalled' | 'retry'): Promise<void> {
    if (this.closed) return;
    if (dead && this.live.get(projector.name)?.consumer !== dead) return;
    if (this.replacing.has(projector.name) && reason !== 'retry') return;
    this.replacing.add(projector.name);
    if (reason !== 'retry') this.options.metrics?.projectionConsumerReplacements.inc({ projector: projector.name, reason });
    if (dead) await this.drop(projector, dead);
    try {
      await this.startOne(projector);
      this.replacing.delete(projector.name);
    } catch (error) {
      // The broker is still away (or a topic was repartitioned): try again, until it is back or the runner is closed.
      this.logger.warn(`projector ${projector.name}: a fresh Kafka consumer could not start, retrying in 5 s: ${error instanceof Error ? error.message : String(error)}`);
      if (this.closed) this.replacing.delete(projector.name);
      else setTimeout(() => void this.replace(projector, undefined, 'retry'), 5_000);
    }
  }

  private async drop(projector: Projector, consumer: Consumer): Promise<void> {
    if (this.live.get(projector.name)?.consumer === consumer) this.live.delete(projector.name);
    await this.disconnect(consumer);
  }

  /** kafkajs's disconnect can hang on a broker in its stop/start window: the replacement must not wait on it forever. */
  private async disconnect(consumer: Consumer): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.disconnectTimeoutMs ?? 10_000)));
    await Promise.race([consumer.disconnect().catch(() => undefined), timeout]);
    clearTimeout(timer);
  }

  /**
   * The watchdog: a consumer whose group has lag (events in its partitions after the offsets the
   * database holds) but that delivered no batch for `stallMs` is replaced. A stopped projector
   * (paused on purpose) is left alone.
   */
  private async checkStalls(): Promise<void> {
    if (this.watching || this.closed) return;
    this.watching = true;
    try {
      for (const projector of this.projectors) {
        const live = this.live.get(projector.name);
        if (!live || this.replacing.has(projector.name) || Date.now() - live.lastProgress < this.stallMs) continue;
        if ((await readPosition(this.knex, projector.name)).state === 'stopped') continue;
        const lag = await this.lagOf(projector, live.assignment).catch(() => undefined);
        // Unknown (the broker is away): kafkajs's own retries and the crash handler are at work.
        if (lag === undefined || lag === 0 || this.live.get(projector.name) !== live) continue;
        const silentFor = Math.round((Date.now() - live.lastProgress) / 1000);
        this.logger.warn(`projector ${projector.name}: its Kafka consumer delivered no batch for ${silentFor} s while its group has ${lag} events to read; replacing it`);
        await this.replace(projector, live.consumer, 'stalled');
      }
    } finally {
      this.watching = false;
    }
  }

  /**
   * Events after the next offset its database rows hold, in the partitions this consumer was
   * assigned (all of the projector's before it joined its group): lag in partitions another
   * instance consumes is that instance's business, and must not get a healthy idle consumer replaced.
   */
  private async lagOf(projector: Projector, assignment?: Record<string, number[]>): Promise<number> {
    const topics = this.names.forTypes(projector.handles);
    const stored: Array<{ topic: string; kafka_partition: number; next_offset: string }> = await this.knex('projector_partition_offsets')
      .where({ projector: projector.name })
      .whereIn('topic', topics)
      .select('topic', 'kafka_partition', 'next_offset');
    const admin = this.kafka.admin({ retry: { retries: 0 } });
    try {
      await admin.connect();
      let lag = 0;
      for (const topic of topics) {
        for (const end of await admin.fetchTopicOffsets(topic)) {
          if (assignment && !(assignment[topic] ?? []).includes(end.partition)) continue;
          const mine = stored.find((row) => row.topic === topic && row.kafka_partition === end.partition);
          lag += Math.max(0, Number(end.high) - Number(mine?.next_offset ?? end.low));
        }
      }
      return lag;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /**
   * On assignment: each assigned partition whose offset in the database is behind the group's
   * committed offset in Kafka (a database commit lost while Kafka kept the offset) is sought back
   * to the database's. Without it, a partition with nothing new after Kafka's offset would never
   * deliver a batch, and the events of the lost commit would never be applied again.
   */
  private async seekToStored(projector: Projector, live: Live, assignment: Record<string, number[]>): Promise<void> {
    const topics = Object.keys(assignment).filter((topic) => assignment[topic].length > 0);
    if (topics.length === 0) return;
    const stored: Array<{ topic: string; kafka_partition: number; next_offset: string }> = await this.knex('projector_partition_offsets')
      .where({ projector: projector.name })
      .whereIn('topic', topics)
      .select('topic', 'kafka_partition', 'next_offset');
    const admin = this.kafka.admin({ retry: { retries: 0 } });
    let committed: Awaited<ReturnType<typeof admin.fetchOffsets>>;
    try {
      await admin.connect();
      committed = await admin.fetchOffsets({ groupId: this.names.consumerGroup(projector.name), topics });
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    if (this.closed || this.live.get(projector.name) !== live) return;
    for (const { topic, partitions } of committed) {
      for (const { partition, offset } of partitions) {
        if (!assignment[topic]?.includes(partition) || BigInt(offset) < 0n) continue;
        const row = stored.find((candidate) => candidate.topic === topic && Number(candidate.kafka_partition) === partition);
        // No row: nothing of this partition is known to be applied (readPartitionOffset reads it from the start).
        const mine = row ? BigInt(row.next_offset) : 0n;
        if (mine >= BigInt(offset)) continue;
        const key = `${topic}/${partition}`;
        this.logger.warn(`projector ${projector.name}: ${key} is committed in Kafka at offset ${offset}, but its database holds ${mine}; seeking back to it`);
        // Not marked in `sought`: a batch already fetched from Kafka's offset must seek again, not be taken for a truncated log.
        live.consumer.seek({ topic, partition, offset: mine.toString() });
      }
    }
  }

  private async eachBatch(projector: Projector, names: ReturnType<typeof tablesOf>, live: Live, payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (batch.messages.length === 0 || !payload.isRunning() || payload.isStale()) return;
    live.lastProgress = Date.now();
    const consumer = live.consumer;
    const key = `${batch.topic}/${batch.partition}`;
    const source = { topic: batch.topic, partition: batch.partition, offsets: batch.messages.map((message) => message.offset) };
    let events: ProjectedEvent[];
    try {
      events = batch.messages.map(eventOf);
    } catch (error) {
      // A message that is not a relay message (no headers, not JSON) stops its partition: say so, as for a failed batch.
      await this.recordFailure(projector, source, error);
      throw error;
    }
    // A failure is thrown to kafkajs, which fetches the batch again: the projector waits, it never skips.
    let outcome = await this.applyOrRecord(projector, names, events, { fillGapsFrom: this.store, kafka: source });
    if (outcome.seekTo !== undefined) {
      if (live.sought.get(key) !== outcome.seekTo) {
        // Kafka's offset is ahead of what the database holds (a lost commit): read again from the database's.
        this.logger.warn(`projector ${projector.name}: ${key} starts at offset ${batch.messages[0].offset}, after the offset ${outcome.seekTo} its database holds; seeking back to it`);
        live.sought.set(key, outcome.seekTo);
        consumer.seek({ topic: batch.topic, partition: batch.partition, offset: outcome.seekTo });
        return;
      }
      // Sought there already and the log starts later: those offsets are gone from Kafka. Say so, and go on (stream gaps are still filled from the store).
      this.logger.error(`projector ${projector.name}: ${key} no longer holds offsets ${outcome.seekTo}..${BigInt(batch.messages[0].offset) - 1n} (its log starts later); events only there are applied when a later event of their stream arrives`);
      outcome = await this.applyOrRecord(projector, names, events, { fillGapsFrom: this.store, kafka: { ...source, startAboveStored: true } });
    }
    this.options.onBatch?.(projector.name, outcome);
    if (outcome.gapFills > 0) this.options.metrics?.projectionGapFills.inc({ projector: projector.name }, outcome.gapFills);
    if (outcome.deadLetters.length > 0) await this.publishDeadLetters(projector, outcome.deadLetters);
    await this.options.afterCommitBeforeAck?.(projector.name);
    const last = outcome.passedEvents > 0 ? batch.messages[outcome.passedEvents - 1] : undefined;
    if (last) {
      payload.resolveOffset(last.offset);
      await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() }]);
    }
    if (outcome.stoppedAt) consumer.pause([{ topic: batch.topic }]);
    await payload.heartbeat();
  }

  /** applyBatch; a failure is recorded in the projector's status and counted before kafkajs retries the batch. */
  private async applyOrRecord(projector: Projector, names: ReturnType<typeof tablesOf>, events: ProjectedEvent[], options: ApplyOptions): Promise<BatchOutcome> {
    try {
      return await applyBatch(this.knex, projector, names, events, options);
    } catch (error) {
      if (options.kafka) await this.recordFailure(projector, options.kafka, error);
      throw error;
    }
  }

  private async recordFailure(projector: Projector, source: { topic: string; partition: number }, error: unknown): Promise<void> {
    this.options.metrics?.projectionBatchFailures.inc({ projector: projector.name });
    await recordPartitionFailure(this.knex, projector.name, source.topic, source.partition, error).catch(() => undefined);
  }

  /** The table is the record; the topic lets operators and alerting see dead letters as they happen. */
  private async publishDeadLetters(projector: Projector, deadLetters: BatchOutcome['deadLetters']): Promise<void> {
    if (!this.deadLetterProducer) {
      this.deadLetterProducer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
      await this.deadLetterProducer.connect();
    }
    await this.topics.ensure([this.names.deadLetters]);
    await this.deadLetterProducer.send({
      topic: this.names.deadLetters,
      acks: -1,
      messages: deadLetters.map(({ event, error }) => ({
        key: event.envelope.streamId,
        value: JSON.stringify(event.envelope),
        headers: { 'proofline-projector': projector.name, 'proofline-error': error.slice(0, 1000), [HEADERS.eventId]: event.envelope.id, [HEADERS.streamVersion]: String(event.streamVersion) },
      })),
    });
  }
}

/** A projected event from a relay message: the value is the stored envelope, the headers say where it sits. */
export function eventOf(message: KafkaMessage): ProjectedEvent {
  const header = (name: string) => {
    const value = message.headers?.[name];
    if (value === undefined) throw new Error(`message at offset ${message.offset} has no ${name} header`);
    return String(Array.isArray(value) ? value[0] : value);
  };
  return {
    envelope: JSON.parse(String(message.value)) as EventEnvelope,
    streamVersion: Number(header(HEADERS.streamVersion)),
    position: parsePosition(header(HEADERS.position)),
  };
}
