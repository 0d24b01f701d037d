import { startCpu, stopCpu, waitForQuiet, type CpuUsage } from './cpu';
import { elapsedMs, nowMs, round, summarize, type LatencySummary } from './stats';

// Closed-loop load: `concurrency` workers each run `op` back to back.

export interface LoadOptions {
  readonly concurrency: number;
  /** Measured phase length; the phase also ends when `maxOps` operations have started. */
  readonly durationMs: number;
  readonly maxOps?: number;
  /** Run (and discard) before measuring: connections, JIT, caches. */
  readonly warmupMs?: number;
}

export interface LoadResult {
  readonly ops: number;
  readonly events: number;
  readonly elapsedMs: number;
  readonly opsPerSec: number;
  readonly eventsPerSec: number;
  /** Latency of each operation, in ms. */
  readonly latency: LatencySummary;
  readonly cpu: CpuUsage;
  /** Every operation's latency (ms); kept out of the JSON files. */
  readonly latenciesMs: number[];
}

/**
 * `op(worker)` performs one operation and resolves with the number of events it wrote, or with
 * a negative number when that worker has run out of work (it then stops, uncounted).
 */
export async function runLoad(options: LoadOptions, op: Operation): Promise<LoadResult> {
  if (options.warmupMs) await loop(options.concurrency, options.warmupMs, undefined, op);
  const cpu = startCpu();
  const started = nowMs();
  const { ops, events, latencies } = await loop(options.concurrency, options.durationMs, options.maxOps, op);
  const wall = elapsedMs(started);
  return {
    ops,
    events,
    elapsedMs: round(wall, 1),
    opsPerSec: round((ops / wall) * 1000, 1),
    eventsPerSec: round((events / wall) * 1000, 1),
    latency: summarize(latencies),
    cpu: stopCpu(cpu),
    latenciesMs: latencies,
  };
}

/** One result for several runs of the same operation (e.g. interleaved rounds). */
export function mergeLoads(runs: readonly LoadResult[]): LoadResult {
  const ops = runs.reduce((sum, r) => sum + r.ops, 0);
  const events = runs.reduce((sum, r) => sum + r.events, 0);
  const wall = runs.reduce((sum, r) => sum + r.elapsedMs, 0);
  const weighted = (pick: (cpu: CpuUsage) => number) => {
    const measured = runs.filter((r) => Number.isFinite(pick(r.cpu)) && r.elapsedMs > 0);
    const time = measured.reduce((sum, r) => sum + r.elapsedMs, 0);
    return time > 0 ? round(measured.reduce((sum, r) => sum + pick(r.cpu) * r.elapsedMs, 0) / time, 1) : NaN;
  };
  const latenciesMs = runs.flatMap((r) => r.latenciesMs);
  return {
    ops,
    events,
    elapsedMs: round(wall, 1),
    opsPerSec: round((ops / wall) * 1000, 1),
    eventsPerSec: round((events / wall) * 1000, 1),
    latency: summarize(latenciesMs),
    cpu: {
      nodePctOfCore: weighted((c) => c.nodePctOfCore),
      postgresPctOfCore: weighted((c) => c.postgresPctOfCore),
      machineBusyPct: weighted((c) => c.machineBusyPct),
      machineIowaitPct: weighted((c) => c.machineIowaitPct),
      otherPctOfCore: weighted((c) => c.otherPctOfCore),
    },
    latenciesMs,
  };
}

export interface Phase {
  readonly name: string;
  /** Called once, untimed, right before the phase first runs (so it may use earlier results). */
  readonly prepare: (earlier: Readonly<Record<string, LoadResult>>) => Operation | Promise<Operation>;
}

export type Operation = (worker: number) => Promise<number>;

/** Rounds disturbed by other processes (busy above this, in % of one core) are measured again. */
export const MAX_OTHER_PCT = Number(process.env.BENCH_MAX_OTHER_PCT ?? 35);
/** At most this many re-runs per round; then the round is kept and counted as noisy. */
export const ROUND_RETRIES = Number(process.env.BENCH_ROUND_RETRIES ?? 4);

export interface PhaseNoise {
  /** Rounds thrown away because other processes were busy during them. */
  readonly discardedRounds: number;
  /** Rounds kept although still disturbed (retries exhausted). */
  readonly noisyRoundsKept: number;
}

/**
 * Runs the phases in `rounds` interleaved rounds (A B C, A B C, ...), each round getting
 * 1/rounds of the duration (and of maxOps), so load from elsewhere on a shared machine falls on
 * every phase alike. A round during which other processes were busy (MAX_OTHER_PCT) is thrown
 * away and run again after the machine quietens, up to ROUND_RETRIES times. The first round of
 * each phase has the full warm-up, later ones a short one.
 */
export async function runPhases(
  phases: readonly Phase[],
  options: LoadOptions,
  rounds: number,
  log = true,
): Promise<Record<string, LoadResult & { noise: PhaseNoise }>> {
  const ops = new Map<string, Operation>();
  const runs = new Map<string, LoadResult[]>();
  const noise = new Map<string, { discardedRounds: number; noisyRoundsKept: number }>();
  const merged = () => Object.fromEntries([...runs.entries()].map(([name, list]) => [name, mergeLoads(list)]));
  for (let round_ = 0; round_ < rounds; round_++) {
    for (const phase of phases) {
      if (!ops.has(phase.name)) ops.set(phase.name, await phase.prepare(merged()));
      const counts = noise.get(phase.name) ?? { discardedRounds: 0, noisyRoundsKept: 0 };
      noise.set(phase.name, counts);
      for (let attempt = 0; ; attempt++) {
        const result = await runLoad(
          {
            concurrency: options.concurrency,
            durationMs: options.durationMs / rounds,
            maxOps: options.maxOps === undefined ? undefined : Math.ceil(options.maxOps / rounds),
            warmupMs: round_ === 0 && attempt === 0 ? options.warmupMs : Math.min(options.warmupMs ?? 0, 200),
          },
          ops.get(phase.name)!,
        );
        const disturbed = result.ops > 0 && result.cpu.otherPctOfCore > MAX_OTHER_PCT;
        if (disturbed && attempt < ROUND_RETRIES) {
          counts.discardedRounds++;
          console.log(`  (${phase.name}: round disturbed, other processes at ${result.cpu.otherPctOfCore}% of a core; measuring it again)`);
          await waitForQuiet(15, 20_000, false);
          continue;
        }
        if (disturbed) counts.noisyRoundsKept++;
        runs.set(phase.name, [...(runs.get(phase.name) ?? []), result]);
        break;
      }
    }
  }
  const results = Object.fromEntries(Object.entries(merged()).map(([name, r]) => [name, { ...r, noise: noise.get(name)! }]));
  if (log) for (const [name, r] of Object.entries(results)) console.log(`  ${name}: ${Math.round(r.eventsPerSec)} events/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms`);
  return results;
}

async function loop(concurrency: number, durationMs: number, maxOps: number | undefined, op: Operation) {
  const deadline = nowMs() + durationMs;
  const latencies: number[] = [];
  let started = 0;
  let events = 0;
  const worker = async (index: number) => {
    while (nowMs() < deadline && (maxOps === undefined || started < maxOps)) {
      started++;
      const t0 = nowMs();
      const wrote = await op(index);
      if (wrote < 0) return; // this worker has nothing left to do
      events += wrote;
      latencies.push(nowMs() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i)));
  return { ops: latencies.length, events, latencies };
}
