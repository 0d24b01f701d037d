import { Logger } from '@nestjs/common';
import type { Kafka, Message, Producer } from 'kafkajs';
import type { Knex } from 'knex';
import type { EventStore, RecordedEvent, StoreIdentity } from '../eventstore/event-store.port';
import { comparePositions, formatPosition, START, type GlobalPosition } from '../eventstore/global-position';
import { checkCheckpointStore } from '../eventstore/store-identity';
import type { Metrics } from '../observability/metrics';
import { abortableSleep } from './abortable-sleep';
import { SHARED_SESSION, type AdvisoryLease } from './lease';
import { deleteHaltSql, insertHaltSql, moveHaltSql, readRelayHalts, relayFaultOf, type RelayHalt } from './relay-halts';
import { HEADERS, type TopicNames } from './topics';
import type { TopicAdmin } from './topic-admin';

export interface RelayOptions {
  readonly name?: string;
  readonly batchSize?: number;
  /** How often an idle relay looks for events appended by other processes. */
  readonly pollIntervalMs?: number;
  /** How often a standby relay tries to take the lease. */
  readonly leaseRetryMs?: number;
  /** How often, while some tenant is halted, the relay looks again at the row it halted at. */
  readonly haltRecheckMs?: number;
}

/**
 * Store → Kafka. Follows the store from its own durable checkpoint and publishes every event,
 * in store order, to its domain's topic: key = stream id, value = the signed envelope exactly
 * as stored, headers naming it. The producer is idempotent and waits for all in-sync replicas;
 * the checkpoint advances only after the broker acknowledged, so a crash re-publishes (at
 * least once) and never skips. Only the holder of the `relay` lease publishes.
 *
 * Only one byte string per event is published (issue 23, item 5): a row whose bytes are not the
 * canonical JSON of a v1 envelope with a strictly encoded signature block (a duplicate key, white
 * space, a base64url signature…) halts its **tenant's** publishing at that row (relay_halts,
 * EVENT.NOT_CANONICAL / EVENT.MALFORMED / EVENT.MISFILED, named with tenant, stream, version and position). The
 * tenant's later events are held, not skipped; every other tenant goes on. When the row is good
 * again (restored) or gone, the held events are published in store order and the halt is lifted.
 */
export class Relay {
  private readonly logger = new Logger('relay');
  private readonly stop = new AbortController();
  private loop?: Promise<void>;
  private readonly name: string;
  lastError?: string;
  published = 0;
  /** Tenants halted at a bad row (a copy of relay_halts while the lease is held). */
  private halted = new Map<string, RelayHalt>();
  /** The store this relay reads, recorded with every checkpoint (issue 26, item 1). */
  private storeIdentity?: StoreIdentity;

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

  /** Every tenant whose publishing is halted at a bad row (from relay_halts, whichever process holds the lease). */
  halts(): Promise<RelayHalt[]> {
    return readRelayHalts(this.knex, this.name);
  }

  private async run(): Promise<void> {
    try {
      await this.runUntilClosed();
    } finally {
      // A standby keeps the session it waits on between attempts: closed, it must end it too.
      await this.lease.release();
    }
  }

  private async runUntilClosed(): Promise<void> {
    while (!this.stop.signal.aborted) {
      if (!(await this.lease.tryAcquire())) {
        // Standing by is no failure; a session the lease cannot trust is (shown in the relay's lastError).
        const refused = this.lease.sharedSession;
        if (refused && refused !== this.lastError) this.logger.error(`relay: ${refused}`);
        if (refused) this.lastError = refused; // else the last round's error stays until a round succeeds
        await abortableSleep(this.options.leaseRetryMs ?? 1000, this.stop.signal);
        continue;
      }
      if (this.lastError?.startsWith(SHARED_SESSION)) this.lastError = undefined; // the lease holds on a session of its own now
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
      }
    }
  }

  /**
   * While some tenant is halted, the subscription is ended every `haltRecheckMs` (default 5 s),
   * so the rows it halted at are looked at again even when no new event arrives; then it goes on
   * from the saved checkpoint with the same producer.
   */
  private async publishWhileLeaseHeld(producer: Producer): Promise<void> {
    while (!this.stop.signal.aborted) {
      const from = await this.resumePoint();
      this.halted = new Map((await this.halts()).map((halt) => [halt.tenantId, halt]));
      await this.publishRepaired(producer, from);
      await this.publishFrom(producer, from);
    }
  }

  /**
   * Batch N+1 is sent as soon as batch N is acknowledged, while N's checkpoint is written; that
   * write must have succeeded (on the lease's session, so the lease is still held) before N+2 is
   * sent. Sends stay in store order, checkpoints in send order, and a lost lease stops the relay
   * one batch later at most — the extra batch is a duplicate the projectors' guard absorbs.
   */
  private async publishFrom(producer: Producer, from: GlobalPosition): Promise<void> {
    const batchSize = this.options.batchSize ?? 500;
    const subscription = this.store.subscribeBatches(from, { batchSize, pollIntervalMs: this.options.pollIntervalMs ?? 50, signal: this.stop.signal });
    let recheck: NodeJS.Timeout | undefined;
    const recheckHalts = () => {
      if (this.halted.size > 0) recheck ??= setTimeout(() => subscription.close(), this.options.haltRecheckMs ?? 5000);
    };
    let lastSend: Promise<void> = Promise.resolve();
    let lastCheckpoint: Promise<void> = Promise.resolve();
    let checkpointBefore: Promise<void> = Promise.resolve();
    try {
      recheckHalts();
      for await (const batch of subscription) {
        await lastSend;
        await checkpointBefore;
        const send = this.haltBadRows(batch).then((publishable) => this.publish(producer, publishable));
        const checkpoint = Promise.all([send, lastCheckpoint]).then(() => this.saveCheckpoint(batch));
        // Both are awaited before the next batch or below. A failed send (a refused topic, the broker away) also ends the
        // subscription at once: the round fails now and is retried from the checkpoint, not only when another batch comes.
        send.catch(() => subscription.close());
        checkpoint.catch(() => undefined);
        checkpointBefore = lastCheckpoint;
        lastSend = send;
        lastCheckpoint = checkpoint;
        send.then(recheckHalts, () => undefined);
      }
    } finally {
      clearTimeout(recheck);
      subscription.close();
      await lastSend;
      await lastCheckpoint;
    }
  }

  /**
   * The events of `batch` to publish: not those of a halted tenant, nor a bad row, which halts
   * its tenant. New halts are written (on the lease's session) before anything of the batch is
   * sent, so before the checkpoint can move past the row.
   */
  private async haltBadRows(batch: readonly RecordedEvent[]): Promise<RecordedEvent[]> {
    const publishable: RecordedEvent[] = [];
    for (const event of batch) {
      const tenantId = event.storedAs.tenantId;
      if (this.halted.has(tenantId)) continue;
      const halt = relayFaultOf(event);
      if (!halt) {
        publishable.push(event);
        continue;
      }
      await this.lease.whileHeld(...insertHaltSql(this.name, halt));
      this.halted.set(tenantId, halt);
      this.logger.error(`${halt.code}: publishing of tenant ${tenantId} halted; ${halt.message}`);
    }
    return publishable;
  }

  /**
   * For each halted tenant, reads its events from the halt up to `upTo` (what the relay has
   * passed): while the row at the halt is still bad, nothing; otherwise the held events are
   * published in store order up to the next bad row (the halt moves there) or all of them (the
   * halt is lifted). A crash part way publishes them again: at least once, as everywhere.
   */
  private async publishRepaired(producer: Producer, upTo: GlobalPosition): Promise<void> {
    for (const halt of [...this.halted.values()]) {
      const held: RecordedEvent[] = [];
      let next: RelayHalt | undefined;
      // From the halt's own row: a position just before it is no event's, which EventStoreDB refuses.
      let from = halt.position;
      let includeFrom = true;
      reading: for (;;) {
        const page = await this.store.readAll(from, this.options.batchSize ?? 500, { tenantId: halt.tenantId, includeFrom });
        includeFrom = false;
        for (const event of page) {
          if (comparePositions(event.position, upTo) > 0) break reading;
          next = relayFaultOf(event);
          if (next) break reading;
          held.push(event);
        }
        if (page.length === 0) break;
        from = page[page.length - 1].position;
      }
      if (next && held.length === 0 && comparePositions(next.position, halt.position) === 0) continue; // still bad
      for (let i = 0; i < held.length; i += 500) await this.publish(producer, held.slice(i, i + 500));
      if (next) {
        await this.lease.whileHeld(...moveHaltSql(this.name, next));
        this.halted.set(halt.tenantId, next);
        this.logger.error(`${next.code}: publishing of tenant ${halt.tenantId} halted again after ${held.length} held events; ${next.message}`);
      } else {
        await this.lease.whileHeld(...deleteHaltSql(this.name, halt.tenantId));
        this.halted.delete(halt.tenantId);
        this.logger.log(`publishing of tenant ${halt.tenantId} resumed: the row at ${formatPosition(halt.position)} is good again or gone; ${held.length} held events published`);
      }
      this.published += held.length;
      this.metrics.relayPublished.inc(held.length);
    }
  }

  private async publish(producer: Producer, batch: readonly RecordedEvent[]): Promise<void> {
    // Fencing: a holder whose lease session was ended (pg_terminate_backend, idle_session_timeout) stops here, before sending.
    await this.lease.check();
    if (batch.length === 0) return;
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

  /**
   * The checkpoint to publish from, refused (CHECKPOINT.FOREIGN_STORE) when it was recorded
   * against another store than the one this relay reads: its position would mean nothing here.
   */
  private async resumePoint(): Promise<GlobalPosition> {
    this.storeIdentity ??= await this.store.identity();
    const row = await this.knex('relay_checkpoints').where({ relay: this.name }).first();
    if (!row) return START;
    const position = { commit: BigInt(row.position_commit), prepare: BigInt(row.position_prepare) };
    checkCheckpointStore(`relay ${this.name}`, position, row, this.storeIdentity);
    return position;
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
      `INSERT INTO relay_checkpoints (relay, position_commit, position_prepare, published, store_kind, store_id, updated_at) VALUES (?, ?, ?, ?, ?, ?, now())
       ON CONFLICT (relay) DO UPDATE SET position_commit = EXCLUDED.position_commit, position_prepare = EXCLUDED.position_prepare,
         published = relay_checkpoints.published + EXCLUDED.published, store_kind = EXCLUDED.store_kind, store_id = EXCLUDED.store_id, updated_at = now()`,
      [this.name, String(position.commit), String(position.prepare), count, this.storeIdentity?.kind ?? null, this.storeIdentity?.id ?? null],
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
