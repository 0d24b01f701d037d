import type { DomainEvent } from '../commands/decider';

/**
 * A measured period for a value definition's metric. Accuracy in basis points (8,550 = 85.50 %)
 * and money in minor units: integers, so the signed bytes are stable.
 */
export type ValueCalculationRecorded = DomainEvent<
  'value-calculations.recorded',
  {
    calculationId: string;
    definitionId: string;
    periodStart: string;
    periodEnd: string;
    quantity: number;
    amountMinor: number;
    currency: string;
    accuracyBasisPoints: number;
    source: string;
  }
>;

export type ValueCalculationEvent = ValueCalculationRecorded;

export const VALUE_CALCULATION_SCHEMA_VERSIONS: Record<ValueCalculationEvent['type'], number> = { 'value-calculations.recorded': 1 };
export const VALUE_CALCULATION_EVENT_TYPES = Object.keys(VALUE_CALCULATION_SCHEMA_VERSIONS) as ReadonlyArray<ValueCalculationEvent['type']>;
