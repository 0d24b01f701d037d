import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { round } from './stats';

/** bench/results, or BENCH_RESULTS_DIR (e.g. for a quick smoke run that must not replace real figures). */
export const RESULTS_DIR = process.env.BENCH_RESULTS_DIR || join(__dirname, '..', 'results');

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
