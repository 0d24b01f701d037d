import { Logger } from '@nestjs/common';
import type { Kafka, Message, Producer } from 'kafkajs';
import type { Knex } from 'knex';
import type { EventStore, RecordedEvent } from '../eventstore/event-store.port';
import { formatPosition, START, type GlobalPosition } from '../eventstore/global-position';
import type { Metrics } from '../observability/metrics';
import { abortableSleep } from './abortable-sleep';
import type { AdvisoryLease } from './lease';
import { HEADERS, type TopicNames } from './topics';
import type { TopicAdmin } from './topic-admin';

export interface RelayOptions {
  readonly name?: string;
  readonly batchSize?: number;
  /** How often an idle relay looks for events appended by other processes. */
  readonly pollIntervalMs?: number;
  /** How often a standby relay tries to take the lease. */
  readonly leaseRetryMs?: number;
}

/**
 * Store → Kafka. Follows the store from its own durable checkpoint and publishes every event,
 * in store order, to its domain's topic: key = stream id, value = the signed envelope exactly
 * as stored, headers naming it. The producer is idempotent and waits for all in-sync replicas;
 * the checkpoint advances only after the broker acknowledged, so a crash re-publishes (at
 * least once) and never skips. Only the holder of the `relay` lease publishes.
 */
export class Relay {
  private readonly logger = new Logger('relay');
  private readonly stop = new AbortController();
  private loop?: Promise<void>;
  private readonly name: string;
  lastError?: string;
  published = 0;

  constructor(
    private readonly knex: Knex,
    private readonly store: EventStore,
    private readonly kafka: Kafka,
    private readonly topics: TopicAdmin,
    private readonly names: TopicNames,
    private readonly lease: AdvisoryLease,
    private readonly metrics: Metrics,
    private readonly options: RelayOptions = {},
  ) {
    this.name = options.name ?? 'main';
  }

  get active(): boolean {
    return this.lease.held;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async close(): Promise<void> {
    this.stop.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stop.signal.aborted) {
      if (!(await this.lease.tryAcquire())) {
        await abortableSleep(this.options.leaseRetryMs ?? 1000, this.stop.signal);
        continue;
      }
      const producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
      try {
        await producer.connect();
        await this.publishWhileLeaseHeld(producer);
        this.lastError = undefined;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        // A round cut short by close() is no failure to report.
        if (message !== this.lastError && !this.stop.signal.aborted) this.logger.error(`relay round failed (it resumes from its checkpoint): ${message}`);
        this.lastError = message;
        await abortableSleep(1000, this.stop.signal);
      } finally {
        await producer.disconnect().catch(() => undefined);
        if (this.stop.signal.aborted) await this.lease.release();
      }
    }
  }

  /**
   * Batch N+1 is sent as soon as batch N is acknowledged, while N's checkpoint is written; that
   * write must have succeeded (on the lease's session, so the lease is still held) before N+2 is
   * sent. Sends stay in store order, checkpoints in send order, and a lost lease stops the relay
   * one batch later at most — the extra batch is a duplicate the projectors' guard absorbs.
   */
  private async publishWhileLeaseHeld(producer: Producer): Promise<void> {
    const from = await this.checkpoint();
    const batchSize = this.options.batchSize ?? 500;
    const subscription = this.store.subscribeBatches(from, { batchSize, pollIntervalMs: this.options.pollIntervalMs ?? 50, signal: this.stop.signal });
    let lastSend: Promise<void> = Promise.resolve();
    let lastCheckpoint: Promise<void> = Promise.resolve();
    let checkpointBefore: Promise<void> = Promise.resolve();
    try {
      for await (const batch of subscription) {
        await lastSend;
        await checkpointBefore;
        const send = this.publish(producer, batch);
        const checkpoint = Promise.all([send, lastCheckpoint]).then(() => this.saveCheckpoint(batch));
        send.catch(() => undefined); // both are awaited before the next batch or below; never unhandled meanwhile
        checkpoint.catch(() => undefined);
        checkpointBefore = lastCheckpoint;
        lastSend = send;
        lastCheckpoint = checkpoint;
      }
    } finally {
      subscription.close();
      await lastSend;
      await lastCheckpoint;
    }
  }

  private async publish(producer: Producer, batch: readonly RecordedEvent[]): Promise<void> {
    const byTopic = new Map<string, Message[]>();
    for (const event of batch) {
      const topic = this.names.forEvent(event.envelope.type);
      const messages = byTopic.get(topic) ?? [];
      messages.push(messageOf(event));
      byTopic.set(topic, messages);
    }
    await this.topics.ensure([...byTopic.keys()]);
    await producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
  }

  async checkpoint(): Promise<GlobalPosition> {
    const row = await this.knex('relay_checkpoints').where({ relay: this.name }).first();
    return row ? { commit: BigInt(row.position_commit), prepare: BigInt(row.position_prepare) } : START;
  }

  /** On the lease's own session: the write succeeds only while this relay holds the lease. */
  private async saveCheckpoint(batch: readonly RecordedEvent[]): Promise<void> {
    const position = batch[batch.length - 1].position;
    const count = batch.length;
    await this.lease.whileHeld(
      `INSERT INTO relay_checkpoints (relay, position_commit, position_prepare, published, updated_at) VALUES (?, ?, ?, ?, now())
       ON CONFLICT (relay) DO UPDATE SET position_commit = EXCLUDED.position_commit, position_prepare = EXCLUDED.position_prepare,
         published = relay_checkpoints.published + EXCLUDED.published, updated_at = now()`,
      [this.name, String(position.commit), String(position.prepare), count],
    );
    this.published += count;
    this.metrics.relayPublished.inc(count);
    this.metrics.relayLagSeconds.set(Math.max(0, (Date.now() - Date.parse(batch[count - 1].envelope.occurredAt)) / 1000));
  }
}

/** The Kafka message of a stored event: its exact stored bytes, keyed by stream. */
export function messageOf(event: RecordedEvent): Message {
  const { envelope } = event;
  return {
    key: envelope.streamId,
    value: event.raw,
    headers: {
      [HEADERS.eventId]: envelope.id,
      [HEADERS.eventType]: envelope.type,
      [HEADERS.schemaVersion]: String(envelope.schemaVersion),
      [HEADERS.tenantId]: envelope.tenantId,
      [HEADERS.correlationId]: envelope.metadata.correlationId,
      [HEADERS.streamVersion]: String(event.streamVersion),
      [HEADERS.position]: formatPosition(event.position),
    },
  };
}
