import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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
  /** All `postgres` processes alive at start and end (server on this machine), in % of one core. */
  readonly postgresPctOfCore: number;
  /** Whole machine busy time, in % of all cores. */
  readonly machineBusyPct: number;
  /** Whole machine time waiting on I/O, in % of all cores. */
  readonly machineIowaitPct: number;
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

function postgresTicks(): Map<number, number> {
  const ticks = new Map<number, number>();
  let pids: string[] = [];
  try {
    pids = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return ticks;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      if (!stat.slice(stat.indexOf('(') + 1, close).startsWith('postgres')) continue;
      const rest = stat.slice(close + 2).split(' ');
      ticks.set(Number(pid), Number(rest[11]) + Number(rest[12])); // utime, stime
    } catch {
      // the process ended while we looked
    }
  }
  return ticks;
}

export function startCpu(): CpuSnapshot {
  return { at: nowMs(), node: process.cpuUsage(), postgresTicks: postgresTicks(), machine: machineTicks() };
}

export function stopCpu(start: CpuSnapshot): CpuUsage {
  const wallMs = elapsedMs(start.at);
  const node = process.cpuUsage(start.node);
  const pgEnd = postgresTicks();
  let pg = 0;
  for (const [pid, ticks] of pgEnd) if (start.postgresTicks.has(pid)) pg += ticks - start.postgresTicks.get(pid)!;
  const machine = machineTicks();
  const total = machine.total - start.machine.total;
  return {
    nodePctOfCore: round(((node.user + node.system) / 1000 / wallMs) * 100, 1),
    postgresPctOfCore: round(((pg / TICKS_PER_SECOND) * 1000 / wallMs) * 100, 1),
    machineBusyPct: round(((machine.busy - start.machine.busy) / total) * 100, 1),
    machineIowaitPct: round(((machine.iowait - start.machine.iowait) / total) * 100, 1),
  };
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
}

/**
 * `op(worker)` performs one operation and resolves with the number of events it wrote, or with
 * a negative number when that worker has run out of work (it then stops, uncounted).
 */
export async function runLoad(options: LoadOptions, op: (worker: number) => Promise<number>): Promise<LoadResult> {
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
  };
}

async function loop(concurrency: number, durationMs: number, maxOps: number | undefined, op: (worker: number) => Promise<number>) {
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
  writeFileSync(path, JSON.stringify(value, null, 2) + '\n');
  return path;
}

export function coreCount(): number {
  return cpus().length;
}
