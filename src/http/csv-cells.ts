import { stringify, type Options } from 'csv-stringify';

/**
 * A cell a spreadsheet would read as a formula: it starts with `=`, `+`, `-`, `@`, a tab or a
 * carriage return (OWASP, "CSV Injection"). Text typed by users — comments, reasons, names —
 * reaches finance's spreadsheets through every CSV Proofline writes.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

/** The OWASP rule: such a cell is prefixed with a single quote, so it is shown as text, never run. */
export function neutralizeFormula(value: string): string {
  return FORMULA_START.test(value) ? `'${value}` : value;
}

/**
 * csv-stringify with every string cell neutralised, and booleans written as `true`/`false`
 * (csv-stringify's default writes `1` and an empty cell, which reads as "unknown"): the one way
 * Proofline writes CSV.
 */
export function safeCsvStringifier(options: Options) {
  return stringify({ ...options, cast: { boolean: (value) => String(value), ...options.cast, string: (value) => neutralizeFormula(value) } });
}
