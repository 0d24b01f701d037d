import 'reflect-metadata';
import { appendLatency } from './append-latency';
import { appendSqlBreakdown } from './append-sql-breakdown';
import { appendThroughput } from './append-throughput';
import { commandLatency } from './command-latency';
import { fanoutLag } from './fanout-lag';
import { fanoutRebuild } from './fanout-rebuild';
import { fanoutRelay } from './fanout-relay';
import { ledger } from './ledger';
import { environmentInfo } from './support/database';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { printTable, RESULTS_DIR, round, waitForQuiet, writeJson, type BenchReport } from './support/kit';

/**
 * `npm run bench` runs the four benchmarks; `npm run bench -- <name> [<name>…]` runs some
 * (including the diagnostic append-sql-breakdown, and the fan-out benchmarks fanout-lag,
 * fanout-rebuild and fanout-relay, which need the Kafka broker). Each writes bench/results/<name>.json;
 * this writes bench/results/summary.json for the benchmarks of this run.
 */
const BENCHMARKS: Record<string, () => Promise<BenchReport>> = {
  'append-throughput': appendThroughput,
  'append-latency': appendLatency,
  'command-latency': commandLatency,
  'append-sql-breakdown': appendSqlBreakdown,
  ledger,
  'fanout-lag': fanoutLag,
  'fanout-rebuild': fanoutRebuild,
  'fanout-relay': fanoutRelay,
};
/** Run when no name is given; the others are diagnostics, run by name. */
const DEFAULT_RUN = ['append-throughput', 'append-latency', 'command-latency', 'ledger'];

async function main(): Promise<void> {
  const asked = process.argv.slice(2).filter((arg) => !arg.startsWith('-'));
  const unknown = asked.filter((name) => !(name in BENCHMARKS));
  if (unknown.length > 0) {
    console.error(`unknown benchmark ${unknown.join(', ')}; choose from: ${Object.keys(BENCHMARKS).join(', ')}`);
    process.exitCode = 2;
    return;
  }
  const names = asked.length > 0 ? asked : DEFAULT_RUN;
  const environment = await environmentInfo();
  console.log(`Proofline benchmarks: ${names.join(', ')}`);
  console.log(`nproc ${environment.nproc}, Node ${environment.node}, ${(environment.postgres as { version: string }).version.split(' on ')[0]}`);
  const reports: BenchReport[] = [];
  const preflight: Record<string, unknown> = {};
  for (const name of names) {
    console.log(`\n=== ${name} ===`);
    // The machine may be shared (other test runs): start each benchmark on a quiet machine if we can.
    const quiet = await waitForQuiet(Number(process.env.BENCH_QUIET_BUSY_PCT ?? 15), Number(process.env.BENCH_QUIET_WAIT_MS ?? 60_000));
    preflight[name] = quiet;
    if (!quiet.quiet) console.log(`  WARNING: machine still ${quiet.lastSample.machineBusyPct}% busy after ${quiet.waitedMs} ms; figures will include that noise`);
    reports.push(await BENCHMARKS[name]());
  }
  const targets = reports.flatMap((report) => report.targets.map((target) => ({ benchmark: report.name, ...target })));
  printTable(
    'Summary',
    targets.map((t) => ({ benchmark: t.benchmark, target: t.name, value: t.value, rule: t.target, met: t.informational ? 'info' : t.met ? 'yes' : 'NO' })),
  );
  // Benchmarks not run now keep their entry from an earlier run (each entry says when it ran).
  const earlier = readEarlierSummary().filter((entry) => !names.includes(entry.name));
  const entries = [
    ...earlier,
    ...reports.map((r) => ({ name: r.name, startedAt: r.startedAt, durationSec: r.durationSec, preflight: preflight[r.name], ratios: r.ratios, targets: r.targets })),
  ];
  const path = writeJson('summary', {
    updatedAt: new Date().toISOString(),
    environment,
    benchmarks: entries,
    allRulesMet: entries.flatMap((entry) => entry.targets).filter((t) => !t.informational).every((t) => t.met),
    thisRunSec: round(reports.reduce((sum, r) => sum + r.durationSec, 0), 1),
  });
  console.log(`\nwrote ${path}`);
}

interface SummaryEntry {
  readonly name: string;
  readonly targets: BenchReport['targets'];
  readonly [key: string]: unknown;
}

function readEarlierSummary(): SummaryEntry[] {
  try {
    const earlier = JSON.parse(readFileSync(join(RESULTS_DIR, 'summary.json'), 'utf8')) as { benchmarks?: SummaryEntry[] };
    return Array.isArray(earlier.benchmarks) ? earlier.benchmarks.filter((entry) => typeof entry.name === 'string' && Array.isArray(entry.targets)) : [];
  } catch {
    return [];
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
