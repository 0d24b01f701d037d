import { Logger } from '@nestjs/common';
import { Kafka } from 'kafkajs';
import type { Knex } from 'knex';
import { PROJECTORS } from '../../projections';
import { InProcessProjectionRunner } from '../../projections/runtime/in-process-runner';
import { KafkaProjectionRunner } from '../../projections/runtime/kafka-runner';
import type { Projector } from '../../projections/runtime/projector';
import { partitionFailure, readPosition, recordBatchFailure } from '../../projections/runtime/positions';
import type { BatchOutcome } from '../../projections/runtime/apply-batch';
import { eventStoreOf, type ProoflineConfig } from '../config/proofline-config';
import { blameSetting } from '../config/setting-failure';
import type { EventStore } from '../eventstore/event-store.port';
import { formatPosition } from '../eventstore/global-position';
import type { Metrics } from '../observability/metrics';
import { KAFKA_LOG_LEVEL, kafkaLogCreator } from './kafka-log';
import { readHorizon, type EventHorizon } from './horizon';
import { eventsAfter } from './lag';
import { AdvisoryLease } from './lease';
import { TopicPartitionRecord } from './partition-record';
import { Relay } from './relay';
import { KAFKA_UNREACHABLE, TopicAdmin } from './topic-admin';
import { TopicNames } from './topics';

export type FanoutMode = 'kafka' | 'in-process';

export interface ProjectorStatus {
  readonly projector: string;
  readonly state: string;
  readonly position: string;
  readonly applied: number;
  /** Null when the broker could not be asked (lastError says why). */
  readonly lagEvents: number | null;
  readonly lagSeconds: number | null;
  readonly lastError: string | null;
}

export interface FanoutStatus {
  readonly mode: FanoutMode;
  /** lagEvents and lagSeconds are null when the event store could not be asked (lastError says why). */
  /** halts: tenants whose publishing stopped at a bad row (docs/events.md, "The relay publishes one byte string per event"). */
  readonly relay?: {
    readonly active: boolean;
    readonly checkpoint: string;
    readonly lagEvents: number | null;
    readonly lagSeconds: number | null;
    readonly lastError: string | null;
    readonly halts: ReadonlyArray<{ tenantId: string; code: string; message: string; eventId: string; streamId: string; streamVersion: number; position: string; haltedAt?: string }>;
  };
  readonly projectors: ProjectorStatus[];
  /** The read horizon (events in PostgreSQL only): how long global reads have been held back, and by what. */
  readonly horizon?: EventHorizon;
}

/** The read path: relay + Kafka consumer groups, or (embedded) projectors following the store in-process. */
export class Fanout {
  private readonly logger = new Logger('projections');
  /** The last failure logged per projector (in-process retries every second). */
  private readonly lastLogged = new Map<string, string>();
  readonly kafka?: Kafka;
  readonly topics?: TopicAdmin;
  readonly relay?: Relay;
  readonly names: TopicNames;
  private runner?: InProcessProjectionRunner | KafkaProjectionRunner;
  private readonly stallSeconds: number;
  /** The database holding the events, when it is this PostgreSQL database (not EventStoreDB): lag is counted there. */
  private readonly eventsDatabase?: Knex;
  /** The PostgreSQL server holds the events: other sessions (of any database of the cluster) can hold the read horizon. Not PGlite (one process, one session). */
  private readonly horizonWatched: boolean;
  private readonly horizonThresholdSeconds: number;

  /** True once this process runs the relay and projectors (the server does; the CLI does not). */
  get started(): boolean {
    return this.runner !== undefined;
  }

  constructor(
    readonly mode: FanoutMode,
    private readonly knex: Knex,
    private readonly store: EventStore,
    private readonly metrics: Metrics,
    config: ProoflineConfig,
    readonly projectors: readonly Projector[] = PROJECTORS,
  ) {
    this.names = new TopicNames(config.PROOFLINE_KAFKA_TOPIC_PREFIX);
    this.stallSeconds = config.PROOFLINE_KAFKA_STALL_SECONDS;
    this.eventsDatabase = eventStoreOf(config) === 'postgres' ? knex : undefined;
    this.horizonWatched = this.eventsDatabase !== undefined && (knex.client as { config?: { client?: unknown } }).config?.client === 'pg';
    this.horizonThresholdSeconds = config.PROOFLINE_HORIZON_DEGRADED_SECONDS;
    if (mode === 'kafka') {
      const client = { clientId: `proofline-${config.PROOFLINE_INSTANCE_NAME}`, brokers: config.KAFKA_BROKERS!.split(','), logLevel: KAFKA_LOG_LEVEL, logCreator: kafkaLogCreator };
      this.kafka = new Kafka({ ...client, retry: { retries: 8, maxRetryTime: 5000 } });
      // The topic admin paces its own retries and names KAFKA_BROKERS when it gives up: its client does not retry by itself.
      this.topics = new TopicAdmin(new Kafka({ ...client, retry: { retries: 0 } }), {
        partitions: config.PROOFLINE_KAFKA_PARTITIONS,
        brokers: config.KAFKA_BROKERS!,
        partitionRecord: new TopicPartitionRecord(knex),
      });
      this.relay = new Relay(knex, store, this.kafka, this.topics, this.names, new AdvisoryLease(knex, `relay.${this.names.prefix}`), metrics);
    }
  }

  /** Starts the relay (it publishes only while it holds the lease) and the projectors. */
  async start(): Promise<void> {
    const onBatch = (projector: string, outcome: BatchOutcome) => this.observe(projector, outcome);
    if (this.mode === 'kafka') {
      this.relay!.start();
      this.runner = new KafkaProjectionRunner(this.knex, this.store, this.kafka!, this.topics!, this.names, this.projectors, { onBatch, metrics: this.metrics, stallSeconds: this.stallSeconds });
    } else {
      this.runner = new InProcessProjectionRunner(this.knex, this.store, this.projectors, {
        onBatch,
        topicNames: this.names,
        onError: (projector, error) => {
          // Retried every second: logged when the reason changes, counted and shown in the status every time.
          const message = error instanceof Error ? error.message : String(error);
          if (this.lastLogged.get(projector) !== message) this.logger.error(`projector ${projector} batch failed; retrying from its position: ${message}`);
          this.lastLogged.set(projector, message);
          this.metrics.projectionBatchFailures.inc({ projector });
          void recordBatchFailure(this.knex, projector, error).catch(() => undefined);
        },
        onStopped: (projector, reason) => this.logger.error(`projector ${projector} stopped (run 'proofline projections resume ${projector}' once the row is repaired): ${reason}`),
      });
    }
    // The topic admin names KAFKA_BROKERS itself when it gives up; a consumer kafkajs could not connect says so here.
    await blameSetting((error) => (error instanceof Error && error.name.startsWith('KafkaJS') ? KAFKA_UNREACHABLE : undefined), () => this.runner!.start());
  }

  async close(): Promise<void> {
    // Relay and topic admin stop together: a relay or projector waiting for the broker stops waiting.
    const relay = this.relay?.close();
    const topics = this.topics?.close();
    await this.runner?.close();
    await relay;
    await topics;
  }

  async status(): Promise<FanoutStatus> {
    // One admin connection answers for every projector: /metrics calls this on each scrape.
    const consumerLags = this.mode === 'kafka' ? await this.consumerLags().catch((error: unknown) => (error instanceof Error ? error : new Error(String(error)))) : undefined;
    const projectors = await Promise.all(this.projectors.map((projector) => this.projectorStatus(projector, consumerLags)));
    const horizon = await this.horizon();
    if (!this.relay) return { mode: this.mode, projectors, ...(horizon ? { horizon } : {}) };
    const checkpoint = await this.relay.checkpoint();
    const pending = await eventsAfter(this.store, checkpoint, this.eventsDatabase).catch((error: unknown) => storeUnreachable(error));
    if (!(pending instanceof Error)) this.metrics.relayLagEvents.set(pending.count);
    const lag = pending instanceof Error ? { lagEvents: null, lagSeconds: null } : { lagEvents: pending.count, lagSeconds: secondsSince(pending.oldestOccurredAt) };
    const lastError = this.relay.lastError ?? (pending instanceof Error ? pending.message : null);
    const halts = (await this.relay.halts()).map((halt) => ({ ...halt, position: formatPosition(halt.position) }));
    this.metrics.relayTenantHalted.reset();
    for (const halt of halts) this.metrics.relayTenantHalted.set({ tenant: halt.tenantId, code: halt.code }, 1);
    return { mode: this.mode, relay: { active: this.relay.active, checkpoint: formatPosition(checkpoint), ...lag, lastError, halts }, projectors, ...(horizon ? { horizon } : {}) };
  }

  /**
   * The read horizon's age and holder (undefined unless the events are on the PostgreSQL server), also set as
   * proofline_event_horizon_age_seconds. A transaction that holds an xid stalls every global reader.
   */
  async horizon(): Promise<EventHorizon | undefined> {
    if (!this.horizonWatched) return undefined;
    const horizon = await readHorizon(this.knex, this.horizonThresholdSeconds);
    if (horizon.ageSeconds !== null) this.metrics.eventHorizonAgeSeconds.set(horizon.ageSeconds);
    return horizon;
  }

  private async projectorStatus(projector: Projector, consumerLags: Map<string, number> | Error | undefined): Promise<ProjectorStatus> {
    const stored = await readPosition(this.knex, projector.name);
    let lagEvents: number | null;
    let brokerError: string | null = null;
    if (consumerLags instanceof Error) {
      // The status must answer during a broker outage: that is when operators look at it.
      lagEvents = null;
      brokerError = `Kafka unreachable, lag unknown: ${consumerLags.message}`;
    } else if (consumerLags) {
      lagEvents = consumerLags.get(projector.name) ?? 0;
    } else {
      const pending = await eventsAfter(this.store, stored.position, this.eventsDatabase).catch((error: unknown) => storeUnreachable(error));
      lagEvents = pending instanceof Error ? null : pending.count;
      if (pending instanceof Error) brokerError = pending.message;
    }
    const lagSeconds = lagEvents === null ? null : lagEvents === 0 ? 0 : secondsSince(stored.lastOccurredAt ?? undefined);
    if (lagEvents !== null) this.metrics.projectionLagEvents.set({ projector: projector.name }, lagEvents);
    if (lagSeconds !== null) this.metrics.projectionLagSeconds.set({ projector: projector.name }, lagSeconds);
    // Through Kafka a failing partition keeps its error on its own row: another partition's success does not hide it.
    const failing = this.mode === 'kafka' ? await partitionFailure(this.knex, projector.name).catch(() => null) : null;
    return { projector: projector.name, state: stored.state, position: formatPosition(stored.position), applied: stored.applied, lagEvents, lagSeconds, lastError: stored.lastError ?? failing ?? brokerError };
  }

  /** Each projector's consumer-group lag: per partition of its topics, the high watermark minus the committed offset. */
  private async consumerLags(): Promise<Map<string, number>> {
    const admin = this.kafka!.admin({ retry: { retries: 1, maxRetryTime: 1000 } });
    try {
      await admin.connect();
      const existing = new Set(await admin.listTopics());
      const ends = new Map<string, Awaited<ReturnType<typeof admin.fetchTopicOffsets>>>();
      const endsOf = async (topic: string) => ends.get(topic) ?? ends.set(topic, await admin.fetchTopicOffsets(topic)).get(topic)!;
      const lags = new Map<string, number>();
      for (const projector of this.projectors) {
        const topics = this.names.forTypes(projector.handles).filter((name) => existing.has(name));
        let lag = 0;
        if (topics.length > 0) {
          for (const committed of await admin.fetchOffsets({ groupId: this.names.consumerGroup(projector.name), topics })) {
            for (const end of await endsOf(committed.topic)) {
              const mine = committed.partitions.find((partition) => partition.partition === end.partition);
              const from = mine && Number(mine.offset) >= 0 ? Number(mine.offset) : Number(end.low);
              lag += Math.max(0, Number(end.high) - from);
            }
          }
        }
        lags.set(projector.name, lag);
      }
      return lags;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  private observe(projector: string, outcome: BatchOutcome): void {
    this.metrics.projectionApplied.inc({ projector }, outcome.applied);
    const now = Date.now();
    for (const occurredAt of outcome.appliedOccurredAt) this.metrics.projectionEndToEndSeconds.observe({ projector }, Math.max(0, (now - Date.parse(occurredAt)) / 1000));
    if (outcome.deadLettered > 0) this.metrics.projectionDeadLetters.inc({ projector }, outcome.deadLettered);
    if (outcome.stoppedAt) {
      this.metrics.projectionDeadLetters.inc({ projector });
      this.logger.error(`projector ${projector} stopped on event ${outcome.stoppedAt.eventId}: ${outcome.stoppedAt.error} (proofline projections resume ${projector})`);
    }
  }
}

/** The status answers during a store outage too, saying why it has no lag. */
function storeUnreachable(error: unknown): Error {
  return new Error(`event store unreachable, lag unknown: ${error instanceof Error ? error.message : String(error)}`);
}

function secondsSince(iso: string | undefined): number {
  return iso ? Math.max(0, (Date.now() - Date.parse(iso)) / 1000) : 0;
}
