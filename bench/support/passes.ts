import { startCpu, stopCpu, waitForQuiet, type CpuUsage } from './cpu';
import { MAX_OTHER_PCT, ROUND_RETRIES } from './load';
import { elapsedMs, nowMs, round, summarize, type LatencySummary } from './stats';

// Timed passes: work on this thread (plus, for async passes, the database), not a closed loop.

/** What one run of a pass handled: a count of items, optionally with one latency sample (ms) per item. */
export type PassOutcome = number | { readonly items: number; readonly samplesMs: readonly number[] };

export interface Pass {
  readonly name: string;
  /** Untimed, before every round (e.g. a reset, a fresh object). */
  readonly before?: () => void | Promise<void>;
  readonly run: () => PassOutcome | Promise<PassOutcome>;
}

export interface PassOptions {
  readonly rounds: number;
  /** A round repeats `run` until at least this long has passed (0: one run per round). */
  readonly minRoundMs: number;
  /** Untimed runs of each pass before its first round (JIT, caches). */
  readonly warmupRuns: number;
}

export interface PassResult {
  readonly items: number;
  readonly elapsedMs: number;
  /** All kept rounds: items ÷ time. */
  readonly itemsPerSec: number;
  /** Each kept round's items/s, for the spread. */
  readonly roundRates: number[];
  /** Time-weighted over the kept rounds. */
  readonly cpu: Pick<CpuUsage, 'nodePctOfCore' | 'postgresPctOfCore' | 'otherPctOfCore'>;
  readonly latency?: LatencySummary;
  readonly discardedRounds: number;
  readonly noisyRoundsKept: number;
  /** Kept samples (ms); kept out of the JSON files. */
  readonly latenciesMs: number[];
}

/**
 * Runs the passes in interleaved rounds (A B C, A B C, ...), so load from elsewhere falls on
 * baseline and subject alike; a round during which other processes used more than
 * MAX_OTHER_PCT of a core is thrown away and run again once the machine quietens (at most
 * ROUND_RETRIES times), as runPhases does for closed-loop load.
 */
export async function runPasses(passes: readonly Pass[], options: PassOptions): Promise<Record<string, PassResult>> {
  const kept = new Map<string, Array<{ items: number; ms: number; cpu: CpuUsage; samples: readonly number[] }>>();
  const noise = new Map<string, { discardedRounds: number; noisyRoundsKept: number }>();
  for (const pass of passes) {
    kept.set(pass.name, []);
    noise.set(pass.name, { discardedRounds: 0, noisyRoundsKept: 0 });
    for (let i = 0; i < options.warmupRuns; i++) {
      await pass.before?.();
      await pass.run();
    }
  }
  for (let r = 0; r < options.rounds; r++) {
    for (const pass of passes) {
      const counts = noise.get(pass.name)!;
      for (let attempt = 0; ; attempt++) {
        await pass.before?.();
        const cpu = startCpu();
        const started = nowMs();
        let items = 0;
        const samples: number[] = [];
        do {
          const outcome = await pass.run();
          if (typeof outcome === 'number') items += outcome;
          else {
            items += outcome.items;
            samples.push(...outcome.samplesMs);
          }
        } while (elapsedMs(started) < options.minRoundMs);
        const ms = elapsedMs(started);
        const usage = stopCpu(cpu);
        const disturbed = usage.otherPctOfCore > MAX_OTHER_PCT;
        if (disturbed && attempt < ROUND_RETRIES) {
          counts.discardedRounds++;
          console.log(`  (${pass.name}: round disturbed, other processes at ${usage.otherPctOfCore}% of a core; measuring it again)`);
          await waitForQuiet(15, 20_000, false);
          continue;
        }
        if (disturbed) counts.noisyRoundsKept++;
        kept.get(pass.name)!.push({ items, ms, cpu: usage, samples });
        break;
      }
    }
  }
  const results: Record<string, PassResult> = {};
  for (const pass of passes) {
    const runs = kept.get(pass.name)!;
    const items = runs.reduce((sum, run) => sum + run.items, 0);
    const ms = runs.reduce((sum, run) => sum + run.ms, 0);
    const weighted = (pick: (cpu: CpuUsage) => number) => round(runs.reduce((sum, run) => sum + pick(run.cpu) * run.ms, 0) / ms, 1);
    const latenciesMs = runs.flatMap((run) => [...run.samples]);
    results[pass.name] = {
      items,
      elapsedMs: round(ms, 1),
      itemsPerSec: round((items / ms) * 1000, 0),
      roundRates: runs.map((run) => round((run.items / run.ms) * 1000, 0)),
      cpu: { nodePctOfCore: weighted((c) => c.nodePctOfCore), postgresPctOfCore: weighted((c) => c.postgresPctOfCore), otherPctOfCore: weighted((c) => c.otherPctOfCore) },
      ...(latenciesMs.length > 0 ? { latency: summarize(latenciesMs) } : {}),
      ...noise.get(pass.name)!,
      latenciesMs,
    };
  }
  return results;
}
