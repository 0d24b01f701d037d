import { mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

/** Timing, percentiles, CPU accounting, tables and result files shared by every benchmark. */

export const RESULTS_DIR = join(__dirname, '..', 'results');

export interface LatencySummary {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** Milliseconds, rounded to microseconds. */
export function summarize(latenciesMs: readonly number[]): LatencySummary {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, x) => sum + x, 0) / Math.max(1, sorted.length);
  return {
    count: sorted.length,
    mean: round(mean, 3),
    p50: round(percentile(sorted, 50), 3),
    p90: round(percentile(sorted, 90), 3),
    p99: round(percentile(sorted, 99), 3),
    max: round(sorted[sorted.length - 1] ?? NaN, 3),
  };
}

export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export function ratio(numerator: number, denominator: number): number {
  return round(numerator / denominator, 3);
}

export const elapsedMs = (since: number): number => performance.now() - since;
export const nowMs = (): number => performance.now();

// ---------------------------------------------------------------------------------------------
// CPU accounting: this Node process, the PostgreSQL processes (same machine) and the machine.

export interface CpuUsage {
  /** This process, in % of one core. */
  readonly nodePctOfCore: number;
  /** PostgreSQL (server on this machine) working for us: our connections' backends and the shared helpers, in % of one core. */
  readonly postgresPctOfCore: number;
  /** Whole machine busy time, in % of all cores. */
  readonly machineBusyPct: number;
  /** Whole machine time waiting on I/O, in % of all cores. */
  readonly machineIowaitPct: number;
  /** Busy time of everything else on the machine (other processes, other clients' backends, the kernel), in % of one core. */
  readonly otherPctOfCore: number;
}

interface CpuSnapshot {
  readonly at: number;
  readonly node: NodeJS.CpuUsage;
  readonly postgresTicks: Map<number, number>;
  readonly machine: { busy: number; iowait: number; total: number };
}

const TICKS_PER_SECOND = 100;

function machineTicks(): { busy: number; iowait: number; total: number } {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, idle, iowait, irq, softirq, steal] = fields;
    const busy = user + nice + system + irq + softirq + steal;
    return { busy, iowait, total: busy + idle + iowait };
  } catch {
    return { busy: NaN, iowait: NaN, total: NaN };
  }
}

/** utime + stime of every `postgres` process, with its command line (which names a backend's client port). */
function postgresProcesses(): Map<number, { ticks: number; cmdline: string }> {
  const found = new Map<number, { ticks: number; cmdline: string }>();
  let pids: string[] = [];
  try {
    pids = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return found;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      if (!stat.slice(stat.indexOf('(') + 1, close).startsWith('postgres')) continue;
      const rest = stat.slice(close + 2).split(' ');
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      found.set(Number(pid), { ticks: Number(rest[11]) + Number(rest[12]), cmdline });
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

/** Local ports of this process's TCP connections to the PostgreSQL port. */
function ourDatabasePorts(): Set<number> {
  const ports = new Set<number>();
  try {
    const inodes = new Set<string>();
    for (const fd of readdirSync('/proc/self/fd')) {
      try {
        const target = readlinkSync(`/proc/self/fd/${fd}`);
        const match = /^socket:\[(\d+)\]$/.exec(target);
        if (match) inodes.add(match[1]);
      } catch {
        // closed meanwhile
      }
    }
    const serverPort = Number(new URL(process.env.DATABASE_URL || 'postgres://127.0.0.1:5432').port || 5432);
    for (const table of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
      for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
        const fields = line.trim().split(/\s+/);
        if (fields.length < 10 || !inodes.has(fields[9])) continue;
        if (parseInt(fields[2].split(':')[1], 16) === serverPort) ports.add(parseInt(fields[1].split(':')[1], 16));
      }
    }
  } catch {
    // no /proc: no attribution
  }
  return ports;
}

/**
 * The PostgreSQL processes whose CPU counts as ours: the backends serving this process's
 * connections, and the server's shared helpers (WAL writer, checkpointer, background writer,
 * autovacuum). Backends of other clients of the same server (e.g. test runs) count as "other".
 */
function ourPostgresTicks(): Map<number, number> {
  const ports = ourDatabasePorts();
  const ticks = new Map<number, number>();
  for (const [pid, proc] of postgresProcesses()) {
    const client = /\((\d+)\)/.exec(proc.cmdline);
    const backend = client !== null;
    if (!backend || ports.has(Number(client[1]))) ticks.set(pid, proc.ticks);
  }
  return ticks;
}

export function startCpu(): CpuSnapshot {
  return { at: nowMs(), node: process.cpuUsage(), postgresTicks: ourPostgresTicks(), machine: machineTicks() };
}

export function stopCpu(start: CpuSnapshot): CpuUsage {
  const wallMs = elapsedMs(start.at);
  const node = process.cpuUsage(start.node);
  const pgEnd = postgresProcesses();
  let pg = 0;
  for (const [pid, ticks] of start.postgresTicks) if (pgEnd.has(pid)) pg += pgEnd.get(pid)!.ticks - ticks;
  const machine = machineTicks();
  const total = Math.max(1, machine.total - start.machine.total); // under one clock tick: call it idle
  const nodePct = ((node.user + node.system) / 1000 / wallMs) * 100;
  const postgresPct = (((pg / TICKS_PER_SECOND) * 1000) / wallMs) * 100;
  const machineBusyPct = ((machine.busy - start.machine.busy) / total) * 100;
  return {
    nodePctOfCore: round(nodePct, 1),
    postgresPctOfCore: round(postgresPct, 1),
    machineBusyPct: round(machineBusyPct, 1),
    machineIowaitPct: round(((machine.iowait - start.machine.iowait) / total) * 100, 1),
    otherPctOfCore: round(Math.max(0, machineBusyPct * coreCount() - nodePct - postgresPct), 1),
  };
}

/** Samples the machine for `ms`: how busy it is without us (other processes, PostgreSQL). */
export async function sampleBackground(ms = 1000): Promise<CpuUsage> {
  const start = startCpu();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return stopCpu(start);
}

/**
 * Waits until the machine is quiet (busy below `maxBusyPct` of all cores over a 1 s sample),
 * at most `maxWaitMs`; benchmarks on a busy shared machine measure the neighbours.
 */
export async function waitForQuiet(maxBusyPct = 15, maxWaitMs = 60_000, log = true): Promise<{ quiet: boolean; waitedMs: number; lastSample: CpuUsage }> {
  const started = nowMs();
  let said = false;
  for (;;) {
    const sample = await sampleBackground();
    if (sample.machineBusyPct <= maxBusyPct) return { quiet: true, waitedMs: round(elapsedMs(started), 0), lastSample: sample };
    if (elapsedMs(started) > maxWaitMs) return { quiet: false, waitedMs: round(elapsedMs(started), 0), lastSample: sample };
    if (log && !said) console.log(`  machine busy ${sample.machineBusyPct}% (other processes); waiting for it to quieten...`);
    said = true;
  }
}

// ---------------------------------------------------------------------------------------------
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

/** Calls `fn` synchronously back to back for `durationMs`; returns calls per second. */
export function rateOf(durationMs: number, fn: () => void): number {
  for (let i = 0; i < 50; i++) fn();
  let calls = 0;
  const started = nowMs();
  while (elapsedMs(started) < durationMs) {
    fn();
    calls++;
  }
  return round((calls / elapsedMs(started)) * 1000, 0);
}

// ---------------------------------------------------------------------------------------------
// Reports.

export interface Target {
  readonly name: string;
  readonly value: number;
  readonly target: string;
  readonly met: boolean;
  /** Targets marked informational are reported but do not belong to the rules. */
  readonly informational?: boolean;
}

export interface BenchReport {
  readonly name: string;
  readonly startedAt: string;
  readonly durationSec: number;
  readonly environment: Record<string, unknown>;
  readonly parameters: Record<string, unknown>;
  readonly figures: Record<string, unknown>;
  readonly ratios: Record<string, number>;
  readonly targets: readonly Target[];
}

export type Row = Record<string, string | number | boolean | undefined>;

export function printTable(title: string, rows: readonly Row[]): void {
  if (rows.length === 0) return;
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const cell = (value: Row[string]) => (value === undefined ? '' : typeof value === 'number' ? formatNumber(value) : String(value));
  const widths = columns.map((column) => Math.max(column.length, ...rows.map((row) => cell(row[column]).length)));
  const line = (values: string[]) => values.map((value, i) => (i === 0 ? value.padEnd(widths[i]) : value.padStart(widths[i]))).join('  ');
  console.log(`\n${title}`);
  console.log(line(columns));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(columns.map((column) => cell(row[column]))));
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  return String(round(value, 3));
}

export function printTargets(targets: readonly Target[]): void {
  printTable(
    'Targets',
    targets.map((t) => ({ target: t.name, value: t.value, rule: t.target, met: t.met ? 'yes' : 'NO', kind: t.informational ? 'info' : 'rule' })),
  );
}

/** Writes bench/results/<name>.json and hands the report back. */
export function writeReport(report: BenchReport): BenchReport {
  const path = writeJson(report.name, report);
  console.log(`\nwrote ${path}`);
  return report;
}

export function writeJson(name: string, value: unknown): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${name}.json`);
  writeFileSync(path, JSON.stringify(value, (key, v) => (key === 'latenciesMs' ? undefined : v), 2) + '\n');
  return path;
}

export function coreCount(): number {
  return cpus().length;
}
