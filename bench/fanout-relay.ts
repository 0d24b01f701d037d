import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Kafka, Message, Producer, ProducerBatch } from 'kafkajs';
import type { Knex } from 'knex';
import { createInfrastructure, type Infrastructure } from '../src/app/infrastructure';
import { catchUpSubscription, LocalAppendSignal } from '../src/eventstore/catch-up-subscription';
import type { EventStore, RecordedEvent } from '../src/eventstore/event-store.port';
import { START, type GlobalPosition } from '../src/eventstore/global-position';
import { AdvisoryLease } from '../src/fanout/lease';
import { messageOf, Relay } from '../src/fanout/relay';
import { deleteKafkaPrefix, kafkaConfig } from './fanout-lag';
import { storeSpreadEvents } from './fanout-rebuild';
import { environmentInfo, withSchema } from './support/database';
import { elapsedMs, nowMs, printTable, printTargets, ratio, round, startCpu, stopCpu, waitForQuiet, writeReport, type BenchReport, type CpuUsage } from './support/kit';
import { MAX_OTHER_PCT, ROUND_RETRIES } from './support/load';

/**
 * Relay throughput: the Relay (the production class, its default options) publishing N
 * already-stored events from checkpoint START until its checkpoint reaches the last one,
 * against a raw kafkajs producer sending the same messages (messageOf: same keys, the stored
 * envelopes as values, same headers) in batches of the same size, idempotent, acks -1, one
 * request in flight, in interleaved rounds. Both include connecting their producer; neither
 * creates topics (created beforehand). Then one instrumented relay run says where its time goes.
 */
export async function fanoutRelay(): Promise<BenchReport> {
  const events = Number(process.env.BENCH_RELAY_EVENTS ?? 20_000);
  const batchSize = Number(process.env.BENCH_RELAY_BATCH ?? 500); // the Relay's default
  const appendBatch = Number(process.env.BENCH_RELAY_APPEND_BATCH ?? 100);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const startedAt = new Date();
  const t0 = nowMs();
  const environment = await environmentInfo();
  const prefix = `bench-relay-${randomBytes(4).toString('hex')}`;

  return withSchema('fanout_relay', async (schema) => {
    const infra = await createInfrastructure(kafkaConfig(schema, prefix), { ephemeralKeys: true });
    const kafka = infra.fanout.kafka!;
    try {
      const knex = infra.database.knex;
      const setupStarted = nowMs();
      const stored = await storeSpreadEvents(infra, events, appendBatch, 10);
      const all = await readEverything(infra.store);
      if (all.length !== stored) throw new Error(`stored ${stored} events but read back ${all.length}`);
      const topicNames = [...new Set(all.map((event) => infra.fanout.names.forEvent(event.envelope.type)))];
      await infra.fanout.topics!.ensure(topicNames);
      // The baseline's batches: the relay's batch boundaries (batchSize events in store order), its messages.
      const batches: ProducerBatch[] = [];
      for (let i = 0; i < all.length; i += batchSize) batches.push(producerBatchOf(infra, all.slice(i, i + batchSize)));
      const bytes = all.reduce((sum, event) => sum + Buffer.byteLength(event.raw), 0);
      console.log(`  stored ${stored} events (${Math.round(bytes / stored)} B envelopes), topics ${topicNames.join(', ')}, in ${round(elapsedMs(setupStarted) / 1000, 1)} s`);

      const passes: Array<{ name: string; run: () => Promise<Timed> }> = [
        { name: 'raw kafkajs producer', run: () => rawProducer(kafka, batches) },
        { name: 'relay', run: () => runRelay(infra, stored, batchSize, `bench-${randomBytes(3).toString('hex')}`) },
      ];
      const measured = await interleave(passes, rounds, stored);

      const rawRate = measured['raw kafkajs producer'].eventsPerSec;
      const relayRate = measured.relay.eventsPerSec;
      const relayOverRaw = ratio(relayRate, rawRate);

      // Where the relay's time goes: one run with timers around each step (not part of the ratio).
      const profile = await profileRelay(infra, stored, batchSize, all);

      const rows = Object.entries(measured).map(([name, r]) => ({
        pass: name,
        'events/s': r.eventsPerSec,
        'vs raw': ratio(r.eventsPerSec, rawRate),
        'MB/s': round((r.eventsPerSec * bytes) / stored / 1e6, 1),
        'round min/s': Math.min(...r.roundRates),
        'round max/s': Math.max(...r.roundRates),
        'connect ms (median)': r.connectMs,
        'node cpu %': r.cpu.nodePctOfCore,
        'pg cpu %': r.cpu.postgresPctOfCore,
        'other cpu %': r.cpu.otherPctOfCore,
        're-run': r.discardedRounds,
      }));
      printTable(`fanout-relay: ${stored} stored events to Kafka, batches of ${batchSize}, idempotent, acks -1, ${rounds} interleaved rounds`, rows);
      printTable(`Where one relay run's ${round(profile.totalMs, 0)} ms go (timers around each step; ${profile.batches} batches)`, profile.rows);

      const targets = [
        { name: 'relay / raw kafkajs producer (events/s)', value: relayOverRaw, target: '>= 0.7', met: relayOverRaw >= 0.7 },
        { name: 'relay events/s', value: relayRate, target: 'reported', met: true, informational: true },
      ];
      printTargets(targets);

      return writeReport({
        name: 'fanout-relay',
        startedAt: startedAt.toISOString(),
        durationSec: round(elapsedMs(t0) / 1000, 1),
        environment,
        parameters: { events: stored, batchSize, appendBatch, rounds, schema, prefix, envelopeBytesMean: Math.round(bytes / stored), relayOptions: 'defaults (batchSize 500, lingerMs 2, pollIntervalMs 50)' },
        figures: { passes: measured, profile, table: rows },
        ratios: { relayOverRaw },
        targets,
      });
    } finally {
      await infra.close();
      await deleteKafkaPrefix(kafka, prefix);
    }
  });
}

/** A pass's own timing: what it times excludes closing its producer or relay (done afterwards, awaited, untimed). */
interface Timed {
  readonly ms: number;
  readonly connectMs?: number;
}

interface Measured {
  readonly eventsPerSec: number;
  readonly roundRates: number[];
  readonly connectMs?: number;
  readonly cpu: Pick<CpuUsage, 'nodePctOfCore' | 'postgresPctOfCore' | 'otherPctOfCore'>;
  readonly discardedRounds: number;
}

/** Interleaved rounds (A B, A B, …); a round disturbed by other processes is measured again, as runPasses does. */
async function interleave(passes: ReadonlyArray<{ name: string; run: () => Promise<Timed> }>, rounds: number, events: number): Promise<Record<string, Measured>> {
  const kept = new Map<string, Array<{ ms: number; cpu: CpuUsage; connectMs?: number }>>();
  const discarded = new Map<string, number>();
  for (const pass of passes) {
    kept.set(pass.name, []);
    discarded.set(pass.name, 0);
    await pass.run(); // warm-up
  }
  for (let r = 0; r < rounds; r++) {
    for (const pass of passes) {
      for (let attempt = 0; ; attempt++) {
        const cpu = startCpu();
        const { ms, connectMs } = await pass.run();
        const usage = stopCpu(cpu);
        if (usage.otherPctOfCore > MAX_OTHER_PCT && attempt < ROUND_RETRIES) {
          discarded.set(pass.name, discarded.get(pass.name)! + 1);
          console.log(`  (${pass.name}: round disturbed, other processes at ${usage.otherPctOfCore}% of a core; measuring it again)`);
          await waitForQuiet(15, 20_000, false);
          continue;
        }
        kept.get(pass.name)!.push({ ms, cpu: usage, connectMs });
        break;
      }
    }
  }
  const result: Record<string, Measured> = {};
  for (const pass of passes) {
    const runs = kept.get(pass.name)!;
    const ms = runs.reduce((sum, run) => sum + run.ms, 0);
    const weighted = (pick: (cpu: CpuUsage) => number) => round(runs.reduce((sum, run) => sum + pick(run.cpu) * run.ms, 0) / ms, 1);
    const connects = runs.flatMap((run) => (run.connectMs === undefined ? [] : [run.connectMs])).sort((a, b) => a - b);
    result[pass.name] = {
      eventsPerSec: round(((events * runs.length) / ms) * 1000, 0),
      roundRates: runs.map((run) => round((events / run.ms) * 1000, 0)),
      connectMs: connects.length > 0 ? round(connects[Math.floor(connects.length / 2)], 1) : undefined,
      cpu: { nodePctOfCore: weighted((c) => c.nodePctOfCore), postgresPctOfCore: weighted((c) => c.postgresPctOfCore), otherPctOfCore: weighted((c) => c.otherPctOfCore) },
      discardedRounds: discarded.get(pass.name)!,
    };
  }
  return result;
}

async function readEverything(store: EventStore): Promise<RecordedEvent[]> {
  const all: RecordedEvent[] = [];
  for (let position: GlobalPosition = START; ; ) {
    const batch = await store.readAll(position, 5000);
    all.push(...batch);
    if (batch.length < 5000) return all;
    position = batch[batch.length - 1].position;
  }
}

/** One sendBatch's argument for these events, grouped by topic as Relay.publish groups them. */
function producerBatchOf(infra: Infrastructure, events: readonly RecordedEvent[]): ProducerBatch {
  const byTopic = new Map<string, Message[]>();
  for (const event of events) {
    const topic = infra.fanout.names.forEvent(event.envelope.type);
    const messages = byTopic.get(topic) ?? [];
    messages.push(messageOf(event));
    byTopic.set(topic, messages);
  }
  return { acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) };
}

/** The baseline: connect an idempotent producer as the relay does, send the prepared batches one by one (timed), disconnect (not timed). */
async function rawProducer(kafka: Kafka, batches: readonly ProducerBatch[]): Promise<Timed> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  const started = performance.now();
  await producer.connect();
  const connectMs = performance.now() - started;
  for (const batch of batches) await producer.sendBatch(batch);
  const ms = performance.now() - started;
  await producer.disconnect();
  return { ms, connectMs };
}

/** The Relay from START until its checkpoint is the last event (polled every ms via `published`, set right after the checkpoint write); closing it is not timed. */
async function runRelay(infra: Infrastructure, events: number, batchSize: number, name: string, wrap: Partial<RelayParts> = {}): Promise<Timed> {
  const knex = infra.database.knex;
  const fanout = infra.fanout;
  const relay = new Relay(
    knex,
    wrap.store ?? infra.store,
    wrap.kafka ?? fanout.kafka!,
    fanout.topics!,
    fanout.names,
    wrap.lease ?? new AdvisoryLease(knex, `relay.${fanout.names.prefix}.${name}`),
    infra.metrics,
    { name, batchSize },
  );
  const started = performance.now();
  relay.start();
  while (relay.published < events) {
    if (relay.lastError) throw new Error(`relay failed: ${relay.lastError}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const ms = performance.now() - started;
  await relay.close();
  await knex('relay_checkpoints').where({ relay: name }).delete();
  return { ms };
}

interface RelayParts {
  readonly store: EventStore;
  readonly kafka: Kafka;
  readonly lease: AdvisoryLease;
}

/**
 * One relay run with a timer around each of its steps: readAll (SQL + JSON.parse, through a
 * store wrapper whose subscription is the store's own catch-up loop), the lease check, the
 * producer's connect and sendBatch (through a Kafka wrapper), the checkpoint write (knex query
 * events); what is left is the relay's own JavaScript (messageOf, grouping, batchesOf).
 */
async function profileRelay(infra: Infrastructure, events: number, batchSize: number, all: readonly RecordedEvent[]) {
  const knex = infra.database.knex;
  const spent = { readAll: 0, readAllCalls: 0, stillHeld: 0, connect: 0, sendBatch: 0, checkpoint: 0, batches: 0 };
  const inner = infra.store;
  const timedReadAll = async (from: GlobalPosition, size: number) => {
    const started = performance.now();
    try {
      return await inner.readAll(from, size);
    } finally {
      spent.readAll += performance.now() - started;
      spent.readAllCalls++;
    }
  };
  const store: EventStore = {
    append: (...args) => inner.append(...args),
    readStream: (...args) => inner.readStream(...args),
    readAll: (from, size) => timedReadAll(from, size),
    subscribe: (from, options) => catchUpSubscription(timedReadAll, new LocalAppendSignal(), from, options),
    streamVersion: (streamId) => inner.streamVersion(streamId),
    findIdempotentAppend: (tenantId, key) => inner.findIdempotentAppend(tenantId, key),
    ping: () => inner.ping(),
    close: () => inner.close(),
  };
  const realKafka = infra.fanout.kafka!;
  const kafka = {
    producer: (config?: Parameters<Kafka['producer']>[0]) => {
      const producer = realKafka.producer(config);
      const wrapped: Producer = Object.create(producer);
      wrapped.connect = async () => {
        const started = performance.now();
        await producer.connect();
        spent.connect += performance.now() - started;
      };
      wrapped.sendBatch = async (batch) => {
        const started = performance.now();
        try {
          return await producer.sendBatch(batch);
        } finally {
          spent.sendBatch += performance.now() - started;
          spent.batches++;
        }
      };
      wrapped.disconnect = () => producer.disconnect();
      return wrapped;
    },
  } as unknown as Kafka;
  const name = `bench-profile-${randomBytes(3).toString('hex')}`;
  const lease = new TimedLease(knex, `relay.${infra.fanout.names.prefix}.${name}`, (ms) => (spent.stillHeld += ms));
  const pendingQueries = new Map<string, number>();
  const onQuery = (query: { __knexQueryUid: string; sql: string }) => {
    if (query.sql.includes('INSERT INTO relay_checkpoints')) pendingQueries.set(query.__knexQueryUid, performance.now());
  };
  const onResponse = (_response: unknown, query: { __knexQueryUid: string }) => {
    const started = pendingQueries.get(query.__knexQueryUid);
    if (started === undefined) return;
    pendingQueries.delete(query.__knexQueryUid);
    spent.checkpoint += performance.now() - started;
  };
  knex.on('query', onQuery).on('query-response', onResponse);
  const cpu = startCpu();
  let totalMs: number;
  try {
    totalMs = (await runRelay(infra, events, batchSize, name, { store, kafka, lease })).ms;
  } finally {
    knex.removeListener('query', onQuery);
    knex.removeListener('query-response', onResponse);
  }
  const usage = stopCpu(cpu);

  // The CPU parts on their own, over the same events: JSON.parse (inside readAll) and messageOf.
  const parseStarted = performance.now();
  for (const event of all) JSON.parse(event.raw);
  const parseMs = performance.now() - parseStarted;
  const messageStarted = performance.now();
  for (const event of all) messageOf(event);
  const messageOfMs = performance.now() - messageStarted;

  const accounted = spent.readAll + spent.stillHeld + spent.connect + spent.sendBatch + spent.checkpoint;
  const share = (ms: number) => ratio(ms, totalMs);
  const row = (part: string, ms: number, per?: number) => ({ part, ms: round(ms, 1), share: share(ms), 'ms per batch': per === undefined ? undefined : round(ms / per, 2) });
  const rows = [
    row(`store.readAll (SQL + JSON.parse), ${spent.readAllCalls} calls`, spent.readAll, spent.batches),
    row('  of which JSON.parse alone (same envelopes, measured apart)', parseMs, spent.batches),
    row('lease.stillHeld (SELECT 1 per batch)', spent.stillHeld, spent.batches),
    row('producer.connect', spent.connect),
    row('producer.sendBatch (Kafka round trip, acks -1)', spent.sendBatch, spent.batches),
    row('checkpoint write (INSERT … ON CONFLICT)', spent.checkpoint, spent.batches),
    row('the rest: lease acquire, messageOf, grouping, batchesOf, polling', totalMs - accounted, spent.batches),
    row('  of which messageOf alone (measured apart)', messageOfMs, spent.batches),
    { part: 'whole run', ms: round(totalMs, 1), share: 1, 'events/s': round((events / totalMs) * 1000, 0), 'node cpu %': usage.nodePctOfCore, 'pg cpu %': usage.postgresPctOfCore },
  ];
  return { totalMs, batches: spent.batches, spent, parseMs, messageOfMs, cpu: usage, rows };
}

class TimedLease extends AdvisoryLease {
  constructor(
    knex: Knex,
    name: string,
    private readonly record: (ms: number) => void,
  ) {
    super(knex, name);
  }

  override async stillHeld(): Promise<void> {
    const started = performance.now();
    try {
      await super.stillHeld();
    } finally {
      this.record(performance.now() - started);
    }
  }
}
