/**
 * Measured accuracy, as the reference architecture's `measurement_accuracy_feedback` keeps it:
 * matched samples over samples taken. Never a number typed into a request.
 */

/** matched / total in basis points, rounded down (9,999 of 10,000 is 99.99 %, not 100 %). */
export function accuracyBasisPoints(matched: number, total: number): number {
  if (total <= 0) return 0;
  return Number((BigInt(matched) * 10_000n) / BigInt(total));
}

/** How many of a definition's latest ended periods make up its recent accuracy. */
export const RECENT_PERIODS = 3;

/** A calculation that counts (neither voided nor corrected), in the order its stream recorded it. */
export type CountingCalculation = {
  readonly calculationId: string;
  readonly periodEnd: string;
  readonly quantity: number;
  /** Null on calculations recorded before samples were required: they measure nothing. */
  readonly sampleSize: number | null;
  readonly matchedSamples: number | null;
};

export type DefinitionAccuracy = {
  definitionId: string;
  /** Quantity-weighted mean of matched / total over the periods below, rounded down. */
  basisPoints: number;
  calculationIds: string[];
  quantity: number;
  sampleSize: number;
  matchedSamples: number;
};

/**
 * One definition's recent accuracy: its RECENT_PERIODS latest periods that have ended by `now`
 * and carry samples (latest period end first; on equal ends the one recorded last, `recorded`
 * being in stream order), each period's matched / total weighted by its quantity. Computed
 * exactly (BigInt fractions), rounded down once at the end. Null when no such period exists.
 */
export function definitionAccuracy(definitionId: string, recorded: readonly CountingCalculation[], now: string): DefinitionAccuracy | null {
  const measured = recorded
    .map((calculation, order) => ({ calculation, order }))
    .filter(({ calculation }) => calculation.periodEnd <= now && calculation.sampleSize !== null && calculation.matchedSamples !== null && calculation.sampleSize > 0);
  if (measured.length === 0) return null;
  const recent = measured
    .sort((a, b) => (a.calculation.periodEnd !== b.calculation.periodEnd ? (a.calculation.periodEnd > b.calculation.periodEnd ? -1 : 1) : b.order - a.order))
    .slice(0, RECENT_PERIODS)
    .map(({ calculation }) => calculation);
  return {
    definitionId,
    basisPoints: weighted(recent),
    calculationIds: recent.map((row) => row.calculationId),
    quantity: recent.reduce((sum, row) => sum + row.quantity, 0),
    sampleSize: recent.reduce((sum, row) => sum + (row.sampleSize ?? 0), 0),
    matchedSamples: recent.reduce((sum, row) => sum + (row.matchedSamples ?? 0), 0),
  };
}

/** Σ quantity × matched / total ÷ Σ quantity, in basis points; with no quantity at all, Σ matched ÷ Σ total. */
function weighted(rows: readonly CountingCalculation[]): number {
  const totalQuantity = rows.reduce((sum, row) => sum + BigInt(row.quantity), 0n);
  if (totalQuantity === 0n) {
    const matched = rows.reduce((sum, row) => sum + BigInt(row.matchedSamples ?? 0), 0n);
    const total = rows.reduce((sum, row) => sum + BigInt(row.sampleSize ?? 0), 0n);
    return total === 0n ? 0 : Number((matched * 10_000n) / total);
  }
  const common = rows.reduce((l, row) => lcm(l, BigInt(row.sampleSize ?? 1)), 1n);
  const numerator = rows.reduce((sum, row) => sum + BigInt(row.quantity) * BigInt(row.matchedSamples ?? 0) * (common / BigInt(row.sampleSize ?? 1)), 0n);
  return Number((numerator * 10_000n) / (common * totalQuantity));
}

function gcd(a: bigint, b: bigint): bigint {
  return b === 0n ? a : gcd(b, a % b);
}

function lcm(a: bigint, b: bigint): bigint {
  return (a / gcd(a, b)) * b;
}
