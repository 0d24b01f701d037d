import 'reflect-metadata';
import { appendLatency } from './append-latency';
import { appendThroughput } from './append-throughput';
import { commandLatency } from './command-latency';
import { environmentInfo } from './support/database';
import { printTable, round, writeJson, type BenchReport } from './support/kit';

/**
 * `npm run bench` runs every benchmark; `npm run bench -- <name> [<name>…]` runs some.
 * Each writes bench/results/<name>.json; this writes bench/results/summary.json.
 */
const BENCHMARKS: Record<string, () => Promise<BenchReport>> = {
  'append-throughput': appendThroughput,
  'append-latency': appendLatency,
  'command-latency': commandLatency,
};

async function main(): Promise<void> {
  const asked = process.argv.slice(2).filter((arg) => !arg.startsWith('-'));
  const unknown = asked.filter((name) => !(name in BENCHMARKS));
  if (unknown.length > 0) {
    console.error(`unknown benchmark ${unknown.join(', ')}; choose from: ${Object.keys(BENCHMARKS).join(', ')}`);
    process.exitCode = 2;
    return;
  }
  const names = asked.length > 0 ? asked : Object.keys(BENCHMARKS);
  const environment = await environmentInfo();
  console.log(`Proofline benchmarks: ${names.join(', ')}`);
  console.log(`nproc ${environment.nproc}, Node ${environment.node}, ${(environment.postgres as { version: string }).version.split(' on ')[0]}`);
  const reports: BenchReport[] = [];
  for (const name of names) {
    console.log(`\n=== ${name} ===`);
    reports.push(await BENCHMARKS[name]());
  }
  const targets = reports.flatMap((report) => report.targets.map((target) => ({ benchmark: report.name, ...target })));
  printTable(
    'Summary',
    targets.map((t) => ({ benchmark: t.benchmark, target: t.name, value: t.value, rule: t.target, met: t.informational ? 'info' : t.met ? 'yes' : 'NO' })),
  );
  const path = writeJson('summary', {
    startedAt: reports[0]?.startedAt,
    environment,
    benchmarks: reports.map((r) => ({ name: r.name, durationSec: r.durationSec, ratios: r.ratios, targets: r.targets })),
    allRulesMet: targets.filter((t) => !t.informational).every((t) => t.met),
    totalSec: round(reports.reduce((sum, r) => sum + r.durationSec, 0), 1),
  });
  console.log(`\nwrote ${path}`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
