import type { Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from 'kafkajs';
import type { Knex } from 'knex';
import type { EventEnvelope } from '../../contracts';
import { parsePosition } from '../../src/eventstore/global-position';
import { HEADERS, type TopicNames } from '../../src/fanout/topics';
import type { TopicAdmin } from '../../src/fanout/topic-admin';
import { applyBatch, type BatchOutcome } from './apply-batch';
import type { ProjectedEvent, Projector } from './projector';
import { createTables, tablesOf } from './tables';

export interface KafkaRunnerOptions {
  readonly onBatch?: (projector: string, outcome: BatchOutcome) => void;
  /** Called after the rows are committed and before the offsets are: where a crash does the most harm (tests use it). */
  readonly afterCommitBeforeAck?: (projector: string) => Promise<void>;
}

/**
 * A projector as a Kafka consumer group. Each batch's rows, revision guard and position are
 * committed in one database transaction, and only then are the offsets committed to Kafka; a
 * crash between the two redelivers the batch, which the guard turns into a no-op.
 */
export class KafkaProjectionRunner {
  private readonly consumers: Consumer[] = [];
  private deadLetterProducer?: Producer;
  private closed = false;

  constructor(
    private readonly knex: Knex,
    private readonly kafka: Kafka,
    private readonly topics: TopicAdmin,
    private readonly names: TopicNames,
    private readonly projectors: readonly Projector[],
    private readonly options: KafkaRunnerOptions = {},
  ) {}

  async start(): Promise<void> {
    for (const projector of this.projectors) await this.startOne(projector);
  }

  async close(): Promise<void> {
    // A consumer crashing right now would otherwise restart after this disconnect (kafkajs arms its restart after the crash event).
    this.closed = true;
    await Promise.allSettled(this.consumers.map((consumer) => consumer.disconnect()));
    this.consumers.length = 0;
    await this.deadLetterProducer?.disconnect().catch(() => undefined);
    this.deadLetterProducer = undefined;
  }

  private async startOne(projector: Projector): Promise<void> {
    const names = await createTables(this.knex, projector, 'live');
    const topics = this.names.forTypes(projector.handles);
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
    this.consumers.push(consumer);
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      // Closed from within the crash's handling: kafkajs arms the restart right after this event, so stop it once armed.
      if (this.closed && payload.restart) setImmediate(() => void consumer.disconnect().catch(() => undefined));
      // kafkajs gives up on errors it deems not retriable; a projector must not stay silently dead: start a fresh consumer.
      if (!this.closed && !payload.restart) setTimeout(() => void this.replace(projector, consumer), 1_000);
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: (payload) => this.eachBatch(projector, names, consumer, payload),
      });
    } catch (error) {
      await this.drop(consumer);
      throw error;
    }
  }

  private async replace(projector: Projector, dead?: Consumer): Promise<void> {
    if (this.closed) return;
    if (dead) await this.drop(dead);
    await this.startOne(projector).catch(() => {
      // The broker is still away: try again, until it is back or the runner is closed.
      if (!this.closed) setTimeout(() => void this.replace(projector), 5_000);
    });
  }

  private async drop(consumer: Consumer): Promise<void> {
    const at = this.consumers.indexOf(consumer);
    if (at >= 0) this.consumers.splice(at, 1);
    await consumer.disconnect().catch(() => undefined);
  }

  private async eachBatch(projector: Projector, names: ReturnType<typeof tablesOf>, consumer: Consumer, payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (batch.messages.length === 0 || !payload.isRunning() || payload.isStale()) return;
    const events = batch.messages.map(eventOf);
    const outcome = await applyBatch(this.knex, projector, names, events);
    this.options.onBatch?.(projector.name, outcome);
    if (outcome.deadLetters.length > 0) await this.publishDeadLetters(projector, outcome.deadLetters);
    await this.options.afterCommitBeforeAck?.(projector.name);
    const stoppedIndex = outcome.stoppedAt ? events.findIndex((event) => event.envelope.id === outcome.stoppedAt!.eventId) : -1;
    const last = stoppedIndex >= 0 ? batch.messages[stoppedIndex - 1] : batch.messages[batch.messages.length - 1];
    if (last) {
      payload.resolveOffset(last.offset);
      await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() }]);
    }
    if (stoppedIndex >= 0) consumer.pause([{ topic: batch.topic }]);
    await payload.heartbeat();
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
