import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Infrastructure } from '../src/app/infrastructure';
import { CommandPipeline } from '../src/commands/command-pipeline';
import { PostgresSnapshotStore, type SnapshotStore } from '../src/commands/snapshot-store';
import { StateLoader } from '../src/commands/state-loader';
import type { EventEnvelope, JsonValue } from '../contracts';
import type { SigningKeyType } from '../src/config/proofline-config';
import type { WorkspaceCommand } from '../src/workspaces/decide';
import { workspaceDecider } from '../src/workspaces/workspace.decider';
import { environmentInfo, openInfrastructure, withSchema } from './support/database';
import { commandContext, nameAt, unsignedRenamed, workspaceStreamId } from './support/events';
import { elapsedMs, nowMs, printTable, printTargets, rateOf, ratio, round, summarize, writeReport, type BenchReport, type LatencySummary } from './support/kit';
import { NoSnapshots, TimedStateLoader } from './support/loaders';

/**
 * The rule: "loading state must not grow with stream length: p50 command latency on a
 * 100,000-event stream within 2x of a 10-event stream". RenameWorkspace commands (names
 * alternate, so each appends one event) through CommandPipeline.handle, sequentially, in three
 * modes: warm (the process's state cache), cold with snapshots (a fresh StateLoader and
 * pipeline per command: snapshot + tail), cold without snapshots (full replay; for contrast).
 */

type Mode = 'warm' | 'cold-with-snapshots' | 'cold-without-snapshots';

interface Sample {
  readonly totalMs: number;
  readonly loadMs: number;
  /** Events read after the snapshot (or from the start without one). */
  readonly tail: number;
}

export async function commandLatency(): Promise<BenchReport> {
  const longLength = Number(process.env.BENCH_LONG_STREAM ?? 100_000);
  const shortLength = 10;
  const commands = Number(process.env.BENCH_COMMANDS ?? 500);
  const fullReplayCommands = Number(process.env.BENCH_REPLAY_COMMANDS ?? 5);
  const shortStreams = Number(process.env.BENCH_SHORT_STREAMS ?? 50);
  const keyType = (process.env.BENCH_KEY_TYPE ?? 'rsa') as SigningKeyType;
  const startedAt = new Date();
  const t0 = nowMs();
  const environment = await environmentInfo();

  return withSchema('command_latency', async (schema) => {
    const infra = await openInfrastructure(schema, { keyType, poolSize: 10, snapshotEvery: Number(process.env.BENCH_SNAPSHOT_EVERY ?? 50) });
    try {
      const every = infra.config.PROOFLINE_SNAPSHOT_EVERY;
      const snapshots = new PostgresSnapshotStore(infra.database.knex);
      const versions = new Map<string, number>();

      // The long stream: registered through the pipeline, then bulk-appended pre-signed
      // renames. A snapshot is seeded where the pipeline would have left its last one.
      let started = nowMs();
      const longStream = await register(infra, 'long', versions);
      const lastSnapshotAt = Math.floor((longLength - 1) / every) * every;
      await bulkRenames(infra, longStream, lastSnapshotAt, versions);
      const bulkSec = round(elapsedMs(started) / 1000, 1);
      started = nowMs();
      const folded = await new StateLoader(infra.store, new NoSnapshots(), infra.signer, every).load(workspaceDecider, longStream);
      const fullReplayMs = round(elapsedMs(started), 1);
      await snapshots.save(longStream, { streamVersion: folded.version!, stateSchema: workspaceDecider.stateSchema, state: folded.state as unknown as JsonValue });
      await bulkRenames(infra, longStream, longLength - 1, versions);
      infra.states.forget(longStream); // its cache entry is at version 0: the bulk load bypassed the pipeline
      console.log(`  built ${longLength} events in ${bulkSec} s; full replay of ${folded.version! + 1} events took ${fullReplayMs} ms; snapshot at ${folded.version}`);

      const results: Record<string, { short: Sample[]; long: Sample[] }> = {};
      const modes: Array<[Mode, number, number]> = [
        ['warm', commands, commands],
        ['cold-with-snapshots', commands, commands],
        ['cold-without-snapshots', commands, fullReplayCommands],
      ];
      for (const [mode, shortCount, longCount] of modes) {
        // Fresh 10-event streams for each mode, so a "short" stream stays short (10 to 10 + count/streams events).
        const shorts: string[] = [];
        for (let i = 0; i < shortStreams; i++) shorts.push(await shortStream(infra, `${mode}-${i}`, shortLength, versions));
        const handle = commandRunner(infra, mode, snapshots, versions);
        // Warm-up, not counted: one command per short stream (in warm mode this puts each in the
        // cache), and 20 on the long stream (but no 100,000-event replays beyond the measured ones).
        for (const stream of shorts) await handle(stream);
        if (mode !== 'cold-without-snapshots') for (let i = 0; i < 20; i++) await handle(longStream);
        const short: Sample[] = [];
        const long: Sample[] = [];
        started = nowMs();
        // Interleaved, so drift (autovacuum, checkpoints) hits both alike.
        for (let i = 0; i < Math.max(shortCount, longCount); i++) {
          if (i < shortCount) short.push(await handle(shorts[i % shorts.length]));
          if (i < longCount) long.push(await handle(longStream));
        }
        results[mode] = { short, long };
        console.log(`  ${mode}: ${shortCount} short + ${longCount} long commands in ${round(elapsedMs(started) / 1000, 1)} s`);
      }

      const summaries = Object.fromEntries(
        Object.entries(results).map(([mode, r]) => [
          mode,
          {
            short: { total: summarize(r.short.map((s) => s.totalMs)), load: summarize(r.short.map((s) => s.loadMs)), tail: summarize(r.short.map((s) => s.tail)) },
            long: { total: summarize(r.long.map((s) => s.totalMs)), load: summarize(r.long.map((s) => s.loadMs)), tail: summarize(r.long.map((s) => s.tail)) },
          },
        ]),
      ) as Record<Mode, Record<'short' | 'long', { total: LatencySummary; load: LatencySummary; tail: LatencySummary }>>;

      const rows = (Object.keys(summaries) as Mode[]).flatMap((mode) =>
        (['short', 'long'] as const).map((kind) => {
          const s = summaries[mode][kind];
          return {
            mode,
            stream: kind === 'short' ? `${shortLength} events` : `${longLength.toLocaleString('en-US')} events`,
            commands: s.total.count,
            'p50 ms': s.total.p50,
            'p90 ms': s.total.p90,
            'p99 ms': s.total.p99,
            'max ms': s.total.max,
            'load p50 ms': s.load.p50,
            'tail p50': s.tail.p50,
            'tail max': s.tail.max,
            'long/short p50': kind === 'long' ? ratio(s.total.p50, summaries[mode].short.total.p50) : undefined,
          };
        }),
      );
      printTable(`command-latency: sequential RenameWorkspace through CommandPipeline.handle (${keyType}, snapshot every ${every})`, rows);

      // Where the cold-with-snapshots time goes on the long stream: by tail length.
      const byTail = tailBuckets(results['cold-with-snapshots'].long, every);
      printTable('cold-with-snapshots, long stream, by events read after the snapshot', byTail);
      const cold = [...results['cold-with-snapshots'].long, ...results['cold-with-snapshots'].short];
      const perTailEventUs = round(slope(cold.map((s) => s.tail), cold.map((s) => s.loadMs)) * 1000, 1);
      const sampleEvent = (await infra.store.readStream(longStream, { direction: 'backwards', maxCount: 1 }))[0].envelope;
      const verifyPerSec = rateOf(1000, () => infra.signer.verify(sampleEvent));
      printTable('Cost of one event in a cold load', [
        { figure: 'load time per tail event (least squares over cold-with-snapshots loads)', 'µs': perTailEventUs },
        { figure: `signer.verify() alone (${keyType}: data hash, canonical JSON, signature)`, 'µs': round(1e6 / verifyPerSec, 1) },
        { figure: 'full replay, per event', 'µs': round((fullReplayMs * 1000) / (folded.version! + 1), 1) },
      ]);

      const ratios: Record<string, number> = {};
      for (const mode of Object.keys(summaries) as Mode[]) {
        ratios[`${mode}.p50LongOverShort`] = ratio(summaries[mode].long.total.p50, summaries[mode].short.total.p50);
        ratios[`${mode}.p99LongOverShort`] = ratio(summaries[mode].long.total.p99, summaries[mode].short.total.p99);
        if (mode !== 'warm') ratios[`${mode}.loadP50LongOverShort`] = ratio(summaries[mode].long.load.p50, summaries[mode].short.load.p50);
      }
      const targets = [
        { name: 'warm: p50 long / p50 short', value: ratios['warm.p50LongOverShort'], target: '<= 2', met: ratios['warm.p50LongOverShort'] <= 2 },
        {
          name: 'cold with snapshots: p50 long / p50 short',
          value: ratios['cold-with-snapshots.p50LongOverShort'],
          target: '<= 2',
          met: ratios['cold-with-snapshots.p50LongOverShort'] <= 2,
        },
        {
          name: 'cold without snapshots: p50 long / p50 short',
          value: ratios['cold-without-snapshots.p50LongOverShort'],
          target: 'contrast (grows)',
          met: true,
          informational: true,
        },
      ];
      printTargets(targets);

      return writeReport({
        name: 'command-latency',
        startedAt: startedAt.toISOString(),
        durationSec: round(elapsedMs(t0) / 1000, 1),
        environment,
        parameters: { longLength, shortLength, shortStreams, commands, fullReplayCommands, keyType, snapshotEvery: every, schema, seededSnapshotAt: folded.version },
        figures: { bulkLoadSec: bulkSec, fullReplayMs, summaries, coldWithSnapshotsLongByTail: byTail, perTailEventUs, verifyPerSec, table: rows },
        ratios,
        targets,
      });
    } finally {
      await infra.close();
    }
  });
}

/** One command through the pipeline in `mode`; returns its timings. Keeps `versions` current. */
function commandRunner(infra: Infrastructure, mode: Mode, snapshots: PostgresSnapshotStore, versions: Map<string, number>) {
  const every = infra.config.PROOFLINE_SNAPSHOT_EVERY;
  const warm = new TimedStateLoader(infra.store, snapshots, infra.signer, every);
  const warmPipeline = new CommandPipeline(infra.store, infra.signer, warm);
  return async (streamId: string): Promise<Sample> => {
    const version = versions.get(streamId)!;
    let loader = warm;
    let pipeline = warmPipeline;
    let tail = 0;
    if (mode !== 'warm') {
      const store: SnapshotStore = mode === 'cold-with-snapshots' ? snapshots : new NoSnapshots();
      loader = new TimedStateLoader(infra.store, store, infra.signer, every);
      pipeline = new CommandPipeline(infra.store, infra.signer, loader);
      const snapshot = await store.load(streamId); // not timed: only to report the tail length
      tail = version - (snapshot?.streamVersion ?? -1);
    }
    const command: WorkspaceCommand = { type: 'RenameWorkspace', name: nameAt(version + 1) };
    const started = nowMs();
    const outcome = await pipeline.handle(workspaceDecider, { streamId, command, context: commandContext() });
    const totalMs = nowMs() - started;
    if (outcome.events.length !== 1 || outcome.version !== version + 1) throw new Error(`command on ${streamId} did not append one event at ${version + 1}`);
    versions.set(streamId, outcome.version);
    return { totalMs, loadMs: loader.lastLoadFromCache ? 0 : loader.lastLoadMs, tail: loader.lastLoadFromCache ? 0 : tail };
  };
}

async function register(infra: Infrastructure, workspaceId: string, versions: Map<string, number>): Promise<string> {
  const streamId = workspaceStreamId(workspaceId);
  const command: WorkspaceCommand = { type: 'RegisterWorkspace', workspaceId, name: nameAt(0), planTier: 'PRO' , owner: { userId: 'owner-1', email: 'owner@example.test', role: 'CUSTOMER_ADMIN' } };
  const outcome = await infra.pipeline.handle(workspaceDecider, { streamId, command, context: commandContext() });
  versions.set(streamId, outcome.version);
  return streamId;
}

/** A stream of `length` events made through the pipeline: registered, then renamed. */
async function shortStream(infra: Infrastructure, workspaceId: string, length: number, versions: Map<string, number>): Promise<string> {
  const streamId = await register(infra, workspaceId, versions);
  for (let v = 1; v < length; v++) {
    const command: WorkspaceCommand = { type: 'RenameWorkspace', name: nameAt(v) };
    const outcome = await infra.pipeline.handle(workspaceDecider, { streamId, command, context: commandContext() });
    versions.set(streamId, outcome.version);
  }
  return streamId;
}

/**
 * Appends renames straight to the store, 1000 per append with the right expected version, up
 * to version `upTo`: the event at version v renames nameAt(v - 1) to nameAt(v), exactly what
 * the pipeline would have produced. Signs the next batch while the previous one is written.
 */
async function bulkRenames(infra: Infrastructure, streamId: string, upTo: number, versions: Map<string, number>): Promise<void> {
  const batch = 1000;
  let version = versions.get(streamId)!;
  let pending: Promise<unknown> = Promise.resolve();
  while (version < upTo) {
    const count = Math.min(batch, upTo - version);
    const envelopes: EventEnvelope[] = [];
    for (let v = version + 1; v <= version + count; v++) {
      envelopes.push(infra.signer.seal(unsignedRenamed(streamId, nameAt(v), nameAt(v - 1))));
      if (v % 100 === 0) await yieldToLoop();
    }
    await pending;
    pending = infra.store.append(streamId, envelopes, version);
    version += count;
  }
  await pending;
  versions.set(streamId, version);
}

function tailBuckets(samples: readonly Sample[], every: number) {
  const width = Math.max(1, Math.ceil(every / 4));
  const buckets = new Map<number, Sample[]>();
  for (const s of samples) {
    const bucket = Math.min(Math.max(0, Math.floor((s.tail - 1) / width)), 3);
    buckets.set(bucket, [...(buckets.get(bucket) ?? []), s]);
  }
  return [...buckets.entries()]
    .sort(([a], [b]) => a - b)
    .map(([bucket, list]) => ({
      'tail events': `${bucket === 0 ? 0 : bucket * width + 1}-${bucket === 3 ? every : (bucket + 1) * width}`,
      commands: list.length,
      'p50 ms': summarize(list.map((s) => s.totalMs)).p50,
      'load p50 ms': summarize(list.map((s) => s.loadMs)).p50,
    }));
}

/** Least-squares slope of y over x. */
function slope(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (x[i] - mx) * (y[i] - my);
    den += (x[i] - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}
