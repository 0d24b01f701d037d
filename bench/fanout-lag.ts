import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { Kafka } from 'kafkajs';
import { IN_MEMORY } from '../src/database/database';
import { createInfrastructure, type Infrastructure } from '../src/app/infrastructure';
import { loadConfig } from '../src/config/load-config';
import type { BatchOutcome } from '../projections/runtime/apply-batch';
import { InProcessProjectionRunner } from '../projections/runtime/in-process-runner';
import { KafkaProjectionRunner } from '../projections/runtime/kafka-runner';
import { defineProjector, type Projector } from '../projections/runtime/projector';
import { tenantActivityProjector } from '../projections/tenant-activity.projector';
import { benchDatabaseUrl, environmentInfo, withSchema } from './support/database';
import { nameAt, unsignedRenamed, workspaceStreamId } from './support/events';
import { elapsedMs, nowMs, printTable, printTargets, round, startCpu, stopCpu, summarize, writeReport, type BenchReport, type CpuUsage, type LatencySummary } from './support/kit';

/**
 * End-to-end lag of the read path at a steady append rate: from the append call (and from the
 * event's occurredAt) to the commit of the projector's transaction holding its row. Appends
 * are paced by a timer (`batch` events every `batch / rate` seconds, one signed append each,
 * round robin over a few streams), not a burst. Variants, one after the other in one run:
 *   kafka:    PostgreSQL server, the production relay (infra.fanout.relay) → Kafka → KafkaProjectionRunner;
 *   embedded: in-memory PGlite (as production opens it: wal_init_zero off), InProcessProjectionRunner following the store.
 * The projector is tenant_activity under another name (its tables, its apply), plus a probe:
 * the ids it applied are stamped in the runner's onBatch, which runs after the commit.
 */
export async function fanoutLag(): Promise<BenchReport> {
  const rate = Number(process.env.BENCH_LAG_RATE ?? 1000);
  const batch = Number(process.env.BENCH_LAG_BATCH ?? 10);
  const seconds = Number(process.env.BENCH_LAG_SECONDS ?? 20);
  const warmupSeconds = Number(process.env.BENCH_LAG_WARMUP_SECONDS ?? 3);
  const streams = Number(process.env.BENCH_LAG_STREAMS ?? 32);
  const keyType = process.env.BENCH_LAG_KEY_TYPE ?? 'rsa';
  const variants = (process.env.BENCH_LAG_VARIANTS ?? 'kafka,embedded').split(',');
  const startedAt = new Date();
  const t0 = nowMs();
  const environment = await environmentInfo();
  const load = { rate, batch, seconds, warmupSeconds, streams };

  const results: Record<string, LagResult> = {};
  if (variants.includes('kafka')) {
    const prefix = `bench-lag-${randomBytes(4).toString('hex')}`;
    results.kafka = await withSchema('fanout_lag', async (schema) => {
      const infra = await createInfrastructure(servicesConfig(schema, { prefix, keyType }), { ephemeralKeys: true });
      try {
        return await measureLag('kafka', infra, load, (probe) => {
          const fanout = infra.fanout;
          const runner = new KafkaProjectionRunner(infra.database.knex, infra.store, fanout.kafka!, fanout.topics!, fanout.names, [probe.projector], { onBatch: (_name, outcome) => probe.committed(outcome) });
          return {
            start: async () => {
              fanout.relay!.start();
              await runner.start();
            },
            stop: () => runner.close(),
          };
        });
      } finally {
        await infra.close();
        await deleteKafkaPrefix(infra.fanout.kafka!, prefix);
      }
    });
  }
  if (variants.includes('embedded')) results.embedded = await embeddedLag('embedded', keyType, load);

  const rows = Object.entries(results).map(([variant, r]) => ({
    variant,
    events: r.measuredEvents,
    'events/s': r.appendedPerSec,
    'p50 ms': r.sinceAppend.p50,
    'p90 ms': r.sinceAppend.p90,
    'p99 ms': r.sinceAppend.p99,
    'max ms': r.sinceAppend.max,
    'sched p99': r.sinceScheduled.p99,
    'occurredAt p50': r.sinceOccurredAt.p50,
    'occurredAt p99': r.sinceOccurredAt.p99,
    'append p50': r.append.p50,
    'append p99': r.append.p99,
    'batch mean': r.projectorBatch.mean,
    'batch max': r.projectorBatch.max,
    missing: r.missing,
    'late sends': r.lateSends,
    'loop delay p99': r.eventLoopDelay.p99,
    'WAL MB': r.wal.megabytes,
    'WAL segs': r.wal.newSegments,
    'node cpu %': r.cpu.nodePctOfCore,
    'pg cpu %': r.cpu.postgresPctOfCore,
    'kafka cpu %': r.cpu.kafkaPctOfCore,
    'other cpu %': r.cpu.otherPctOfCore,
  }));
  printTable(
    `fanout-lag: ${rate} events/s (${batch} per signed append every ${round((batch * 1000) / rate, 1)} ms, ${streams} streams, ${keyType}) for ${seconds} s after ${warmupSeconds} s warm-up; lag = projector commit - append call (ms); sched = from the pacer's scheduled time, occurredAt = from the envelope's (before signing)`,
    rows,
  );

  const p99 = (variant: string) => results[variant]?.sinceAppend.p99 ?? NaN;
  const targets = [
    ...(results.kafka
      ? [
          { name: 'kafka: end-to-end lag p99 (ms)', value: p99('kafka'), target: '< 250', met: p99('kafka') < 250 && results.kafka.missing === 0 },
          { name: 'kafka: end-to-end lag p50 (ms)', value: results.kafka.sinceAppend.p50, target: 'reported', met: true, informational: true },
          { name: 'kafka: lag p99 from the scheduled send (ms)', value: results.kafka.sinceScheduled.p99, target: 'reported', met: true, informational: true },
        ]
      : []),
    ...(results.embedded
      ? [
          { name: 'embedded: end-to-end lag p99 (ms)', value: p99('embedded'), target: '< 50', met: p99('embedded') < 50 && results.embedded.missing === 0 },
          { name: 'embedded: end-to-end lag p50 (ms)', value: results.embedded.sinceAppend.p50, target: 'reported', met: true, informational: true },
          { name: 'embedded: lag p99 from the scheduled send (ms)', value: results.embedded.sinceScheduled.p99, target: 'reported', met: true, informational: true },
        ]
      : []),
  ];
  printTargets(targets);

  return writeReport({
    name: 'fanout-lag',
    startedAt: startedAt.toISOString(),
    durationSec: round(elapsedMs(t0) / 1000, 1),
    environment,
    parameters: { ...load, keyType, variants, projector: 'tenant_activity (as bench_lag) + probe', lagFrom: 'the append call (after signing); occurredAt figures include signing' },
    figures: { results, table: rows },
    ratios: { kafkaP99OverEmbeddedP99: round(p99('kafka') / p99('embedded'), 3) },
    targets,
  });
}

/** The embedded profile: in-memory PGlite, the store and the in-process runner in this process. */
async function embeddedLag(variant: string, keyType: string, load: LoadShape): Promise<LagResult> {
  const config = loadConfig({ PROOFLINE_PROFILE: 'embedded', PROOFLINE_FANOUT: 'in-process', PROOFLINE_SIGNING_KEY_TYPE: keyType, PROOFLINE_DATA_DIR: './data', LOG_LEVEL: 'silent' });
  const infra = await createInfrastructure(config, { ephemeralKeys: true, dataDirForDatabase: IN_MEMORY });
  try {
    // What the production open set (src/database/database.ts): reported with the result.
    const walInitZero = String((await infra.database.knex.raw('SHOW wal_init_zero')).rows[0].wal_init_zero);
    console.log(`  ${variant}: PGlite wal_init_zero = ${walInitZero}`);
    const result = await measureLag(variant, infra, load, (probe) => {
      const runner = new InProcessProjectionRunner(infra.database.knex, infra.store, [probe.projector], {
        onBatch: (_name, outcome) => probe.committed(outcome),
        onError: (_name, error) => console.error(`  in-process runner: ${error instanceof Error ? error.message : String(error)}`),
      });
      return { start: () => runner.start(), stop: () => runner.close() };
    });
    return { ...result, walInitZero };
  } finally {
    await infra.close();
  }
}

interface LoadShape {
  readonly rate: number;
  readonly batch: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly streams: number;
}

interface LagResult {
  readonly measuredEvents: number;
  /** The embedded database's wal_init_zero setting while measuring. */
  readonly walInitZero?: string;
  readonly appendedPerSec: number;
  /** Projector commit minus the append call, ms. */
  readonly sinceAppend: LatencySummary;
  /** Projector commit minus the time the pacer scheduled the append, ms. */
  readonly sinceScheduled: LatencySummary;
  /** WAL written while measuring, and WAL segments begun (on the server: by every client of it). */
  readonly wal: { readonly megabytes: number; readonly newSegments: number };
  /** Event-loop delay of this process while measuring (monitorEventLoopDelay, 10 ms resolution), ms. */
  readonly eventLoopDelay: { readonly p50: number; readonly p99: number; readonly max: number };
  /** Projector commit minus occurredAt (wall clock, ms resolution; includes signing). */
  readonly sinceOccurredAt: LatencySummary;
  /** The append call itself, ms. */
  readonly append: LatencySummary;
  /** Events per committed projector batch. */
  readonly projectorBatch: LatencySummary;
  /** Appended events never seen committed by the projector within the drain timeout. */
  readonly missing: number;
  /** Appends started more than one tick after their scheduled time. */
  readonly lateSends: number;
  readonly maxSendDelayMs: number;
  readonly cpu: BrokerCpuUsage;
  readonly appendErrors: number;
}

interface Sent {
  readonly at: number;
  /** When the pacer meant to send it: lag from here counts event-loop stalls before the append too (no coordinated omission). */
  readonly scheduledAt: number;
  readonly occurredAtMs: number;
  readonly measured: boolean;
}

/** The projector under test and the stamps: ids it applied wait for the runner's onBatch (after commit). */
class LagProbe {
  readonly sent = new Map<string, Sent>();
  readonly sinceAppend: number[] = [];
  readonly sinceScheduled: number[] = [];
  readonly sinceOccurredAt: number[] = [];
  readonly batchSizes: number[] = [];
  private applying: string[] = [];
  private drained?: () => void;
  readonly projector: Projector;

  constructor() {
    this.projector = defineProjector({
      ...tenantActivityProjector,
      name: 'bench_lag',
      apply: async (events, context) => {
        await tenantActivityProjector.apply(events, context);
        for (const event of events) this.applying.push(event.envelope.id);
      },
    });
  }

  committed(outcome: BatchOutcome): void {
    const at = performance.now();
    const wall = Date.now();
    if (outcome.applied > 0) this.batchSizes.push(outcome.applied);
    for (const id of this.applying) {
      const sent = this.sent.get(id);
      if (!sent) continue;
      this.sent.delete(id);
      if (!sent.measured) continue;
      this.sinceAppend.push(at - sent.at);
      this.sinceScheduled.push(at - sent.scheduledAt);
      this.sinceOccurredAt.push(wall - sent.occurredAtMs);
    }
    this.applying = [];
    if (this.sent.size === 0) this.drained?.();
  }

  /** Resolves when every sent event was committed (true), or after `timeoutMs` (false). */
  drain(timeoutMs: number): Promise<boolean> {
    if (this.sent.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.drained = undefined;
        resolve(false);
      }, timeoutMs);
      this.drained = () => {
        clearTimeout(timer);
        this.drained = undefined;
        resolve(true);
      };
    });
  }
}

async function walPosition(infra: Infrastructure): Promise<{ bytes: number; segmentBytes: number }> {
  const result = await infra.database.knex.raw(
    `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8 AS bytes, (SELECT setting::float8 FROM pg_settings WHERE name = 'wal_segment_size') AS segment_bytes`,
  );
  const row = result.rows[0] as { bytes: number | string; segment_bytes: number | string };
  return { bytes: Number(row.bytes), segmentBytes: Number(row.segment_bytes) };
}

type Runner = { start(): Promise<void>; stop(): Promise<void> };

async function measureLag(variant: string, infra: Infrastructure, load: LoadShape, runnerOf: (probe: LagProbe) => Runner): Promise<LagResult> {
  const probe = new LagProbe();
  const runner = runnerOf(probe);
  const started = nowMs();
  await runner.start();
  const appender = new PacedAppender(infra, probe, load.streams, load.batch, `lag-${variant}-${randomBytes(3).toString('hex')}`);
  // Warm-up at the same rate (Kafka: the consumer joins its group, the relay creates its topic), then a drain.
  await appender.run(load.rate, load.warmupSeconds * 1000, false);
  if (!(await probe.drain(60_000))) throw new Error(`${variant}: warm-up events not projected within 60 s (${probe.sent.size} outstanding)`);
  console.log(`  ${variant}: runner started and warm-up projected in ${round(elapsedMs(started) / 1000, 1)} s; measuring ${load.seconds} s at ${load.rate} events/s`);
  appender.resetStats();
  const walBefore = await walPosition(infra);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const cpu = startBrokerCpu();
  const measuring = nowMs();
  await appender.run(load.rate, load.seconds * 1000, true);
  const sendMs = elapsedMs(measuring);
  const drained = await probe.drain(30_000);
  const usage = stopBrokerCpu(cpu);
  loop.disable();
  const walAfter = await walPosition(infra);
  await runner.stop();
  const measuredEvents = appender.measuredEvents;
  const missing = [...probe.sent.values()].filter((sent) => sent.measured).length;
  if (!drained) console.log(`  ${variant}: ${missing} events not projected 30 s after the last append`);
  return {
    measuredEvents,
    appendedPerSec: round((measuredEvents / sendMs) * 1000, 0),
    sinceAppend: summarize(probe.sinceAppend),
    sinceScheduled: summarize(probe.sinceScheduled),
    wal: { megabytes: round((walAfter.bytes - walBefore.bytes) / 1e6, 1), newSegments: Math.floor(walAfter.bytes / walAfter.segmentBytes) - Math.floor(walBefore.bytes / walBefore.segmentBytes) },
    eventLoopDelay: { p50: round(loop.percentile(50) / 1e6, 2), p99: round(loop.percentile(99) / 1e6, 2), max: round(loop.max / 1e6, 2) },
    sinceOccurredAt: summarize(probe.sinceOccurredAt),
    append: summarize(appender.appendMs),
    projectorBatch: summarize(probe.batchSizes),
    missing,
    lateSends: appender.lateSends,
    maxSendDelayMs: round(appender.maxSendDelayMs, 2),
    cpu: usage,
    appendErrors: appender.errors,
  };
}

/** `batch` events per signed append, one append every `batch / rate` s on a timer; streams round robin, each stream's appends in order. */
class PacedAppender {
  private readonly versions: number[];
  private readonly chains: Promise<void>[];
  private readonly streamIds: string[];
  appendMs: number[] = [];
  measuredEvents = 0;
  lateSends = 0;
  maxSendDelayMs = 0;
  errors = 0;
  private sent = 0;

  constructor(
    private readonly infra: Infrastructure,
    private readonly probe: LagProbe,
    streams: number,
    private readonly batch: number,
    label: string,
  ) {
    this.streamIds = Array.from({ length: streams }, (_, i) => workspaceStreamId(`${label}-${i}`));
    this.versions = this.streamIds.map(() => -1);
    this.chains = this.streamIds.map(() => Promise.resolve());
  }

  resetStats(): void {
    this.appendMs = [];
    this.measuredEvents = 0;
    this.lateSends = 0;
    this.maxSendDelayMs = 0;
  }

  async run(rate: number, durationMs: number, measured: boolean): Promise<void> {
    const tickMs = (this.batch * 1000) / rate;
    const total = Math.max(1, Math.round(durationMs / tickMs));
    const start = performance.now();
    let issued = 0;
    while (issued < total) {
      const due = Math.min(total, Math.floor((performance.now() - start) / tickMs) + 1);
      while (issued < due) this.send(start + issued++ * tickMs, tickMs, measured);
      const next = start + issued * tickMs;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())));
    }
    await Promise.all(this.chains);
  }

  private send(scheduledAt: number, tickMs: number, measured: boolean): void {
    const stream = this.sent++ % this.streamIds.length;
    this.chains[stream] = this.chains[stream].then(async () => {
      const streamId = this.streamIds[stream];
      const last = this.versions[stream];
      const envelopes = this.infra.signer.sealBatch(Array.from({ length: this.batch }, (_, i) => unsignedRenamed(streamId, nameAt(last + 1 + i), nameAt(last + i))));
      const at = performance.now();
      const delay = at - scheduledAt;
      if (measured) {
        if (delay > tickMs) this.lateSends++;
        this.maxSendDelayMs = Math.max(this.maxSendDelayMs, delay);
      }
      for (const envelope of envelopes) this.probe.sent.set(envelope.id, { at, scheduledAt, occurredAtMs: Date.parse(envelope.occurredAt), measured });
      try {
        const result = await this.infra.store.append(streamId, envelopes, last < 0 ? 'no-stream' : last);
        this.versions[stream] = result.nextExpectedVersion;
        if (measured) {
          this.appendMs.push(performance.now() - at);
          this.measuredEvents += envelopes.length;
        }
      } catch (error) {
        this.errors++;
        for (const envelope of envelopes) this.probe.sent.delete(envelope.id);
        console.error(`  append failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    });
  }
}

/**
 * The services-profile configuration of a bench run on its own schema; with a prefix, Kafka
 * fan-out under that topic prefix (else in-process). Auth state in memory: no Redis needed.
 */
export function servicesConfig(schema: string, options: { prefix?: string; keyType?: string; poolSize?: number } = {}) {
  return loadConfig({
    PROOFLINE_PROFILE: 'services',
    DATABASE_URL: benchDatabaseUrl(),
    DATABASE_SCHEMA: schema,
    DATABASE_POOL_SIZE: String(options.poolSize ?? 20),
    PROOFLINE_SIGNING_KEY_TYPE: options.keyType ?? 'rsa',
    PROOFLINE_DATA_DIR: './data',
    PROOFLINE_AUTH_STORE: 'memory',
    LOG_LEVEL: 'silent',
    ...(options.prefix
      ? { PROOFLINE_FANOUT: 'kafka', KAFKA_BROKERS: process.env.KAFKA_BROKERS || '127.0.0.1:9092', PROOFLINE_KAFKA_TOPIC_PREFIX: options.prefix }
      : { PROOFLINE_FANOUT: 'in-process' }),
  });
}

/** Deletes the topics and consumer groups of a bench run's prefix. */
export async function deleteKafkaPrefix(kafka: Kafka, prefix: string): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(`${prefix}.`));
    const groups = (await admin.listGroups()).groups.map((group) => group.groupId).filter((group) => group.startsWith(`${prefix}.`));
    if (groups.length > 0) await admin.deleteGroups(groups).catch((error: unknown) => console.error(`  could not delete consumer groups ${groups.join(', ')}: ${String(error)}`));
    if (topics.length > 0) await admin.deleteTopics({ topics });
  } catch (error) {
    console.error(`  could not delete the Kafka topics of ${prefix}: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** CPU of this run, with the Kafka broker's JVM (on this machine) taken out of "other" and shown on its own. */
export interface BrokerCpuUsage extends CpuUsage {
  readonly kafkaPctOfCore: number;
}

export function startBrokerCpu(): { cpu: ReturnType<typeof startCpu>; broker: number; at: number } {
  return { cpu: startCpu(), broker: brokerTicks(), at: performance.now() };
}

export function stopBrokerCpu(start: ReturnType<typeof startBrokerCpu>): BrokerCpuUsage {
  const usage = stopCpu(start.cpu);
  const kafkaPct = round((((brokerTicks() - start.broker) * 10) / (performance.now() - start.at)) * 100, 1);
  return { ...usage, kafkaPctOfCore: kafkaPct, otherPctOfCore: round(Math.max(0, usage.otherPctOfCore - kafkaPct), 1) };
}

let brokerPid: number | undefined;

/** utime + stime (clock ticks) of the local Kafka broker: the java process running kafka.Kafka; 0 when there is none. */
function brokerTicks(): number {
  const ticksOf = (pid: number) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]);
  };
  try {
    if (brokerPid !== undefined) return ticksOf(brokerPid);
  } catch {
    brokerPid = undefined;
  }
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
        if (cmdline.includes('kafka.Kafka')) {
          brokerPid = Number(entry);
          return ticksOf(brokerPid);
        }
      } catch {
        // ended meanwhile
      }
    }
  } catch {
    // no /proc
  }
  return 0;
}
