import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { tablesOf } from '../../projections/runtime/tables';
import { valueCalculationsProjector } from '../../projections/value-calculations.projector';
import { RequestValidationError } from '../http/validation';

export const CALCULATION_STATUSES = ['RECORDED', 'VOIDED', 'SUPERSEDED'] as const;

export type CalculationFilter = {
  readonly definitionId?: string;
  readonly currency?: string;
  readonly status?: ReadonlyArray<(typeof CALCULATION_STATUSES)[number]>;
  /** Period end at or after (inclusive) / before (exclusive), UTC instants. */
  readonly periodEndFrom?: string;
  readonly periodEndTo?: string;
};

type Key = readonly [periodEnd: string, calculationId: string];

/** The currency's ISO 4217 exponent (EUR 2, JPY 0, BHD 3), from the runtime's ICU data. */
export function currencyExponent(currency: string): number {
  return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
}

/** Minor units as a decimal string in major units, exactly: 123450 EUR → "1234.50". */
export function majorUnits(minor: bigint, currency: string): string {
  const exponent = currencyExponent(currency);
  const negative = minor < 0n;
  const digits = (negative ? -minor : minor).toString().padStart(exponent + 1, '0');
  const whole = exponent === 0 ? digits : `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
  return negative ? `-${whole}` : whole;
}

/** A cursor names the last key returned and the filters it belongs to (changed filters → 400). */
function fingerprint(filter: CalculationFilter): string {
  const canonical = JSON.stringify([filter.definitionId ?? null, filter.currency ?? null, filter.status ? [...filter.status].sort() : null, filter.periodEndFrom ?? null, filter.periodEndTo ?? null]);
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 16);
}

export function encodeCursor(key: Key, filter: CalculationFilter): string {
  return Buffer.from(JSON.stringify({ k: key, f: fingerprint(filter) })).toString('base64url');
}

export function decodeCursor(cursor: string, filter: CalculationFilter): Key {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = null;
  }
  const candidate = parsed as { k?: unknown; f?: unknown } | null;
  const key = candidate?.k;
  if (!Array.isArray(key) || key.length !== 2 || !key.every((part) => typeof part === 'string') || typeof candidate?.f !== 'string') {
    throw new RequestValidationError([{ field: 'cursor', rule: 'cursor', message: 'cursor is not one this list returned' }]);
  }
  if (candidate.f !== fingerprint(filter)) {
    throw new RequestValidationError([{ field: 'cursor', rule: 'cursor-matches-filters', message: 'cursor belongs to other filters: start again without it' }]);
  }
  return [key[0] as string, key[1] as string];
}

type Row = Record<string, string | number | null>;

/**
 * One page of the tenant's calculations, newest period end first (ties: calculation id, descending),
 * by keyset on (period end, calculation id), with per-currency totals over every calculation the
 * filters select that still counts (RECORDED). Page and totals are read in one repeatable-read
 * transaction: one snapshot.
 */
export async function listCalculations(knex: Knex, tenantId: string, filter: CalculationFilter, limit: number, cursor: string | undefined) {
  const after = cursor === undefined ? undefined : decodeCursor(cursor, filter);
  const table = tablesOf(valueCalculationsProjector, 'live').tables.calculations;
  return knex.transaction(
    async (trx) => {
      const filtered = () => {
        const query = trx(table).where({ tenant_id: tenantId });
        if (filter.definitionId) void query.where({ definition_id: filter.definitionId });
        if (filter.currency) void query.where({ currency: filter.currency });
        if (filter.status) void query.whereIn('status', [...filter.status]);
        if (filter.periodEndFrom) void query.where('period_end', '>=', filter.periodEndFrom);
        if (filter.periodEndTo) void query.where('period_end', '<', filter.periodEndTo);
        return query;
      };
      const page = filtered();
      if (after) void page.where((q) => void q.where('period_end', '<', after[0]).orWhere((same) => void same.where('period_end', '=', after[0]).andWhere('calculation_id', '<', after[1])));
      const rows: Row[] = await page.orderBy([{ column: 'period_end', order: 'desc' }, { column: 'calculation_id', order: 'desc' }]).limit(limit + 1);
      const sums: Row[] = await filtered()
        .where({ status: 'RECORDED' })
        .groupBy('currency')
        .orderBy('currency')
        .select('currency')
        .sum({ amount_minor: 'amount_minor', quantity: 'quantity' })
        .count({ n: '*' });
      const data = rows.slice(0, limit);
      const last = data.at(-1);
      const hasMore = rows.length > limit;
      return {
        data: data.map(calculationView),
        hasMore,
        nextCursor: hasMore && last ? encodeCursor([String(last.period_end), String(last.calculation_id)], filter) : null,
        totals: sums.map((row) => {
          const currency = String(row.currency);
          const amountMinor = BigInt(String(row.amount_minor ?? 0));
          return { currency, amount: { amount: majorUnits(amountMinor, currency), currency }, amountMinor: amountMinor.toString(), quantity: BigInt(String(row.quantity ?? 0)).toString(), calculations: Number(row.n) };
        }),
      };
    },
    { isolationLevel: 'repeatable read' },
  );
}

function calculationView(row: Row) {
  const currency = String(row.currency);
  return {
    calculationId: row.calculation_id,
    definitionId: row.definition_id,
    periodStart: row.period_start,
    periodEnd: row.period_end,
    quantity: Number(row.quantity),
    amountMinor: Number(row.amount_minor),
    amount: { amount: majorUnits(BigInt(String(row.amount_minor)), currency), currency },
    currency,
    sampleSize: row.sample_size === null ? null : Number(row.sample_size),
    matchedSamples: row.matched_samples === null ? null : Number(row.matched_samples),
    accuracyBasisPoints: Number(row.accuracy_basis_points),
    source: row.source,
    status: row.status,
    adjusts: row.adjusts,
    supersededBy: row.superseded_by,
    adjustReason: row.adjust_reason,
    voidReason: row.void_reason,
    recordedAt: row.recorded_at,
  };
}
