import type { UpcasterChain } from '../../contracts';
import type { DomainEvent } from '../commands/decider';

/**
 * A measured period for a value definition's metric. Money in minor units and accuracy in basis
 * points (8,550 = 85.50 %): integers, so the signed bytes are stable. The accuracy is derived
 * from the measurement samples — `matchedSamples / sampleSize`, rounded down — never typed in.
 */
export type MeasuredPeriod = {
  calculationId: string;
  definitionId: string;
  periodStart: string;
  periodEnd: string;
  quantity: number;
  amountMinor: number;
  currency: string;
  /** Null only on events recorded before samples were required (schema version 1): they carry no measured accuracy. */
  sampleSize: number | null;
  matchedSamples: number | null;
  accuracyBasisPoints: number;
  source: string;
};

export type ValueCalculationRecorded = DomainEvent<'value-calculations.recorded', MeasuredPeriod>;
/** A correction: a new calculation that takes the place of `adjusts`, which no longer counts. */
export type ValueCalculationAdjusted = DomainEvent<'value-calculations.adjusted', MeasuredPeriod & { adjusts: string; reason: string }>;
/** The calculation no longer counts in totals or accuracy; it stays in the history. */
export type ValueCalculationVoided = DomainEvent<'value-calculations.voided', { calculationId: string; definitionId: string; reason: string }>;

export type ValueCalculationEvent = ValueCalculationRecorded | ValueCalculationAdjusted | ValueCalculationVoided;

export const VALUE_CALCULATION_SCHEMA_VERSIONS: Record<ValueCalculationEvent['type'], number> = {
  'value-calculations.recorded': 2,
  'value-calculations.adjusted': 1,
  'value-calculations.voided': 1,
};
export const VALUE_CALCULATION_EVENT_TYPES = Object.keys(VALUE_CALCULATION_SCHEMA_VERSIONS) as ReadonlyArray<ValueCalculationEvent['type']>;

/** Version 1 took an accuracy typed into the request and recorded no samples: none is invented. */
export const VALUE_CALCULATION_UPCASTERS: UpcasterChain = {
  'value-calculations.recorded': [(data) => ({ ...data, sampleSize: null, matchedSamples: null })],
};
