import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Kafka, Message, Producer, ProducerBatch } from 'kafkajs';
import type { Knex } from 'knex';
import { createInfrastructure, type Infrastructure } from '../src/app/infrastructure';
import { catchUpBatches, catchUpSubscription, LocalAppendSignal } from '../src/eventstore/catch-up-subscription';
import type { EventStore, RecordedEvent } from '../src/eventstore/event-store.port';
import { START, type GlobalPosition } from '../src/eventstore/global-position';
import { AdvisoryLease } from '../src/fanout/lease';
import { messageOf, Relay } from '../src/fanout/relay';
import type { TopicAdmin } from '../src/fanout/topic-admin';
import { deleteKafkaPrefix, servicesConfig, startBrokerCpu, stopBrokerCpu, type BrokerCpuUsage } from './fanout-lag';
import { storeSpreadEvents } from './fanout-rebuild';
import { environmentInfo, withSchema } from './support/database';
import { elapsedMs, nowMs, printTable, printTargets, ratio, round, waitForQuiet, writeReport, type BenchReport } from './support/kit';
import { MAX_OTHER_PCT, ROUND_RETRIES } from './support/load';

/**
 * Relay throughput: the Relay (the production class, its default options) publishing N
 * already-stored events from checkpoint START until its checkpoint reaches the last one,
 * against a raw kafkajs producer sending the same messages (messageOf: same keys, the stored
 * envelopes as values, same headers) in batches of the same size, idempotent, acks -1, one
 * request in flight, in interleaved rounds. Both include connecting their producer; neither
 * creates topics (created beforehand). Then one instrumented relay run (not part of the ratio)
 * says where its time goes: each step's total, and what keeps the producer idle between two
 * sends (the Relay reads the next batch while one is sent and checkpointed, so steps overlap).
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
    const infra = await createInfrastructure(servicesConfig(schema, { prefix }), { ephemeralKeys: true });
    const kafka = infra.fanout.kafka!;
    try {
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
      const profile = await profileRelay(infra, stored, batchSize, all, batches);

      const rows = Object.entries(measured).map(([name, r]) => ({
        pass: name,
        'events/s': r.eventsPerSec,
        'vs raw': ratio(r.eventsPerSec, rawRate),
        'MB/s': round((r.eventsPerSec * bytes) / stored / 1e6, 1),
        'round min/s': Math.min(...r.roundRates),
        'round max/s': Math.max(...r.roundRates),
        'connect ms (median)': r.connectMs,
        'node cpu %': r.cpu.nodePctOfCore,
        'node µs/event': round((r.cpu.nodePctOfCore / 100) * (1e6 / r.eventsPerSec), 1),
        'pg cpu %': r.cpu.postgresPctOfCore,
        'kafka cpu %': r.cpu.kafkaPctOfCore,
        'other cpu %': r.cpu.otherPctOfCore,
        're-run': r.discardedRounds,
      }));
      printTable(`fanout-relay: ${stored} stored events to Kafka, batches of ${batchSize}, idempotent, acks -1, ${rounds} interleaved rounds`, rows);
      printTable(`One relay run (${round(profile.totalMs, 0)} ms, ${profile.batches} batches): each step's total (steps overlap: the next read runs during a send)`, profile.stepRows);
      printTable('The same run along the producer: sending, or idle and why (these add up to the run)', profile.pathRows);

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
        parameters: { events: stored, batchSize, appendBatch, rounds, schema, prefix, envelopeBytesMean: Math.round(bytes / stored), relayOptions: 'defaults (batchSize 500, pollIntervalMs 50)' },
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
  readonly cpu: Pick<BrokerCpuUsage, 'nodePctOfCore' | 'postgresPctOfCore' | 'kafkaPctOfCore' | 'otherPctOfCore'>;
  readonly discardedRounds: number;
}

/** Interleaved rounds (A B, A B, …); a round disturbed by other processes is measured again, as runPasses does. */
async function interleave(passes: ReadonlyArray<{ name: string; run: () => Promise<Timed> }>, rounds: number, events: number): Promise<Record<string, Measured>> {
  const kept = new Map<string, Array<{ ms: number; cpu: BrokerCpuUsage; connectMs?: number }>>();
  const discarded = new Map<string, number>();
  for (const pass of passes) {
    kept.set(pass.name, []);
    discarded.set(pass.name, 0);
    await pass.run(); // warm-up
  }
  for (let r = 0; r < rounds; r++) {
    for (const pass of passes) {
      for (let attempt = 0; ; attempt++) {
        const cpu = startBrokerCpu();
        const { ms, connectMs } = await pass.run();
        const usage = stopBrokerCpu(cpu);
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
    const weighted = (pick: (cpu: BrokerCpuUsage) => number) => round(runs.reduce((sum, run) => sum + pick(run.cpu) * run.ms, 0) / ms, 1);
    const connects = runs.flatMap((run) => (run.connectMs === undefined ? [] : [run.connectMs])).sort((a, b) => a - b);
    result[pass.name] = {
      eventsPerSec: round(((events * runs.length) / ms) * 1000, 0),
      roundRates: runs.map((run) => round((events / run.ms) * 1000, 0)),
      connectMs: connects.length > 0 ? round(connects[Math.floor(connects.length / 2)], 1) : undefined,
      cpu: { nodePctOfCore: weighted((c) => c.nodePctOfCore), postgresPctOfCore: weighted((c) => c.postgresPctOfCore), kafkaPctOfCore: weighted((c) => c.kafkaPctOfCore), otherPctOfCore: weighted((c) => c.otherPctOfCore) },
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
async function rawProducer(kafka: Kafka, batches: readonly ProducerBatch[], onSend?: (ms: number) => void): Promise<Timed> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  const started = performance.now();
  await producer.connect();
  const connectMs = performance.now() - started;
  for (const batch of batches) {
    const sent = performance.now();
    await producer.sendBatch(batch);
    onSend?.(performance.now() - sent);
  }
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
    wrap.topics ?? fanout.topics!,
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
  readonly topics: TopicAdmin;
  readonly lease: AdvisoryLease;
}

type Step = 'readAll' | 'connect' | 'sendBatch' | 'ensure' | 'checkpoint';
interface Interval {
  readonly start: number;
  readonly end: number;
}

/**
 * One relay run with a timer around each of its steps: readAll (SQL + JSON.parse, through a
 * store wrapper whose subscription is the store's own catch-up loop), the producer's connect and
 * sendBatch (through a Kafka wrapper), topics.ensure, and the checkpoint write, which is
 * lease.whileHeld (the INSERT … ON CONFLICT on the lease's own session). The Relay overlaps
 * reading the next batch with sending and checkpointing the previous one, so step totals overlap;
 * the second part splits the run along the producer: sending, idle before the first send, idle
 * between sends (attributed, in this order, to a checkpoint write, a readAll, topics.ensure
 * under way, else the relay's own JavaScript and event loop), and after the last send.
 */
async function profileRelay(infra: Infrastructure, events: number, batchSize: number, all: readonly RecordedEvent[], batches: readonly ProducerBatch[]) {
  const knex = infra.database.knex;
  const steps: Record<Step, Interval[]> = { readAll: [], connect: [], sendBatch: [], ensure: [], checkpoint: [] };
  const timed = async <T>(step: Step, work: () => Promise<T>): Promise<T> => {
    const start = performance.now();
    try {
      return await work();
    } finally {
      steps[step].push({ start, end: performance.now() });
    }
  };
  const inner = infra.store;
  const timedReadAll = (from: GlobalPosition, size: number) => timed('readAll', () => inner.readAll(from, size));
  const store: EventStore = {
    append: (...args) => inner.append(...args),
    readStream: (...args) => inner.readStream(...args),
    readAll: (from, size) => timedReadAll(from, size),
    subscribe: (from, options) => catchUpSubscription(timedReadAll, new LocalAppendSignal(), from, options),
    subscribeBatches: (from, options) => catchUpBatches(timedReadAll, new LocalAppendSignal(), from, options),
    countAfter: (from, limit) => inner.countAfter(from, limit),
    streamVersion: (streamId) => inner.streamVersion(streamId),
    findIdempotentAppend: (tenantId, key) => inner.findIdempotentAppend(tenantId, key),
    identity: () => inner.identity(),
    ping: () => inner.ping(),
    close: () => inner.close(),
  };
  const realKafka = infra.fanout.kafka!;
  const kafka = {
    producer: (config?: Parameters<Kafka['producer']>[0]) => {
      const producer = realKafka.producer(config);
      const wrapped: Producer = Object.create(producer);
      wrapped.connect = () => timed('connect', () => producer.connect());
      wrapped.sendBatch = (batch) => timed('sendBatch', () => producer.sendBatch(batch));
      wrapped.disconnect = () => producer.disconnect();
      return wrapped;
    },
  } as unknown as Kafka;
  const realTopics = infra.fanout.topics!;
  const topics = { ensure: (names: readonly string[]) => timed('ensure', () => realTopics.ensure(names)), close: () => realTopics.close() } as unknown as TopicAdmin;
  const name = `bench-profile-${randomBytes(3).toString('hex')}`;
  const lease = new TimedLease(knex, `relay.${infra.fanout.names.prefix}.${name}`, (interval) => steps.checkpoint.push(interval));

  const cpu = startBrokerCpu();
  const runStart = performance.now();
  const totalMs = (await runRelay(infra, events, batchSize, name, { store, kafka, topics, lease })).ms;
  const runEnd = runStart + totalMs;
  const usage = stopBrokerCpu(cpu);

  // The baseline's sendBatch on its own, right after (same batches): what one send costs without the relay around it.
  const rawSends: number[] = [];
  const raw = await rawProducer(realKafka, batches, (ms) => rawSends.push(ms));

  // The CPU parts on their own, over the same events: JSON.parse (inside readAll) and messageOf.
  const parseStarted = performance.now();
  for (const event of all) JSON.parse(event.raw);
  const parseMs = performance.now() - parseStarted;
  const messageStarted = performance.now();
  for (const event of all) messageOf(event);
  const messageOfMs = performance.now() - messageStarted;
  // The read side on its own, one step after another (nothing overlapped): readAll over the same
  // events, and the batch subscription the Relay runs them through, fed from memory.
  const readApart = await measuredApart(async () => {
    for (let from: GlobalPosition = START; ; ) {
      const batch = await inner.readAll(from, batchSize);
      if (batch.length === 0) return;
      from = batch[batch.length - 1].position;
    }
  });
  const indexOf = new Map<GlobalPosition, number>(all.map((event, i) => [event.position, i]));
  const fromMemory = (from: GlobalPosition, size: number) => {
    const at = from === START ? 0 : indexOf.get(from)! + 1;
    return Promise.resolve(all.slice(at, at + size));
  };
  const iterateApart = await measuredApart(async () => {
    const stop = new AbortController();
    const subscription = catchUpBatches(fromMemory, new LocalAppendSignal(), START, { batchSize, pollIntervalMs: 50, signal: stop.signal });
    let seen = 0;
    for await (const batch of subscription) {
      seen += batch.length;
      if (seen >= all.length) break;
    }
    subscription.close();
  });

  const sends = steps.sendBatch;
  const total = (step: Step) => steps[step].reduce((sum, i) => sum + (i.end - i.start), 0);
  // Producer idle between sends, attributed in layers: checkpoint, then readAll, then ensure, then the rest.
  const idle = { checkpoint: 0, readAll: 0, ensure: 0, rest: 0, total: 0 };
  for (let i = 1; i < sends.length; i++) {
    const gap = { start: sends[i - 1].end, end: sends[i].start };
    const byCheckpoint = covered(gap, steps.checkpoint);
    const byRead = covered(gap, [...steps.checkpoint, ...steps.readAll]) - byCheckpoint;
    const byEnsure = covered(gap, [...steps.checkpoint, ...steps.readAll, ...steps.ensure]) - byCheckpoint - byRead;
    const length = gap.end - gap.start;
    idle.checkpoint += byCheckpoint;
    idle.readAll += byRead;
    idle.ensure += byEnsure;
    idle.rest += length - byCheckpoint - byRead - byEnsure;
    idle.total += length;
  }
  const beforeFirst = sends.length > 0 ? sends[0].start - runStart : totalMs;
  const afterLast = sends.length > 0 ? runEnd - sends[sends.length - 1].end : 0;
  const sending = total('sendBatch');
  const n = sends.length;
  const rawSendMs = rawSends.reduce((sum, ms) => sum + ms, 0);

  const share = (ms: number) => ratio(ms, totalMs);
  const row = (part: string, ms: number, per?: number) => ({ part, ms: round(ms, 1), share: share(ms), 'ms per batch': per === undefined ? undefined : round(ms / per, 2) });
  const stepRows = [
    row(`store.readAll (SQL + JSON.parse), ${steps.readAll.length} calls`, total('readAll'), n),
    row('  of which JSON.parse alone (same envelopes, measured apart)', parseMs, n),
    row('checkpoint write: lease.whileHeld (INSERT … ON CONFLICT on the lease session)', total('checkpoint'), n),
    row('producer.connect', total('connect')),
    row('producer.sendBatch (Kafka round trip, acks -1)', sending, n),
    row('topics.ensure', total('ensure'), n),
    row('messageOf alone (same events, measured apart)', messageOfMs, n),
    { ...row('readAll alone, serially over the same events (measured apart)', readApart.ms, n), 'node cpu ms': readApart.cpuMs },
    { ...row('batch subscription iteration, events from memory (measured apart)', iterateApart.ms, n), 'node cpu ms': iterateApart.cpuMs },
  ];
  const pathRows = [
    row('before the first send: lease, connect, checkpoint read, first readAll', beforeFirst),
    row('producer sending (sendBatch)', sending, n),
    row('producer idle between sends', idle.total, Math.max(1, n - 1)),
    row('  a checkpoint write under way', idle.checkpoint, Math.max(1, n - 1)),
    row('  else a readAll under way', idle.readAll, Math.max(1, n - 1)),
    row('  else topics.ensure under way', idle.ensure, Math.max(1, n - 1)),
    row('  else relay JS: messageOf, grouping, event loop', idle.rest, Math.max(1, n - 1)),
    row('after the last send: last checkpoint, bench poll', afterLast),
    { part: 'whole relay run', ms: round(totalMs, 1), share: 1, 'events/s': round((events / totalMs) * 1000, 0), 'node cpu %': usage.nodePctOfCore, 'pg cpu %': usage.postgresPctOfCore, 'kafka cpu %': usage.kafkaPctOfCore, 'other cpu %': usage.otherPctOfCore },
    {
      part: `raw producer right after: connect + ${rawSends.length} sends back to back`,
      ms: round(raw.ms, 1),
      share: share(raw.ms),
      'ms per batch': round(rawSendMs / Math.max(1, rawSends.length), 2),
      'events/s': round((events / raw.ms) * 1000, 0),
    },
  ];
  return {
    totalMs,
    batches: n,
    stepTotalsMs: Object.fromEntries((Object.keys(steps) as Step[]).map((step) => [step, round(total(step), 1)])),
    criticalPathMs: { beforeFirst: round(beforeFirst, 1), sending: round(sending, 1), idleBetweenSends: Object.fromEntries(Object.entries(idle).map(([k, v]) => [k, round(v, 1)])), afterLast: round(afterLast, 1) },
    rawAfter: { ms: round(raw.ms, 1), connectMs: raw.connectMs === undefined ? undefined : round(raw.connectMs, 1), sendMsPerBatch: round(rawSendMs / Math.max(1, rawSends.length), 2) },
    readAllApart: readApart,
    iterationApart: iterateApart,
    parseMs: round(parseMs, 1),
    messageOfMs: round(messageOfMs, 1),
    cpu: usage,
    stepRows,
    pathRows,
  };
}

/** Wall and this process's CPU (user + system) time of `work`, ms. */
async function measuredApart(work: () => Promise<void>): Promise<{ ms: number; cpuMs: number }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await work();
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { ms: round(ms, 1), cpuMs: round((used.user + used.system) / 1000, 1) };
}

/** How much of `span` the union of `intervals` covers, ms. */
function covered(span: Interval, intervals: readonly Interval[]): number {
  const clipped = intervals
    .map((i) => ({ start: Math.max(i.start, span.start), end: Math.min(i.end, span.end) }))
    .filter((i) => i.end > i.start)
    .sort((a, b) => a.start - b.start);
  let sum = 0;
  let reach = span.start;
  for (const i of clipped) {
    if (i.end <= reach) continue;
    sum += i.end - Math.max(i.start, reach);
    reach = i.end;
  }
  return sum;
}

/** The lease with a timer around whileHeld: the Relay's checkpoint write (SQL on the lease's own session). */
class TimedLease extends AdvisoryLease {
  constructor(
    knex: Knex,
    name: string,
    private readonly record: (interval: Interval) => void,
  ) {
    super(knex, name);
  }

  override async whileHeld(sql: string, bindings?: readonly Knex.RawBinding[]): Promise<void> {
    const start = performance.now();
    try {
      await super.whileHeld(sql, bindings);
    } finally {
      this.record({ start, end: performance.now() });
    }
  }
}
