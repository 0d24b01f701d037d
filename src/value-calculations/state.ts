import type { CountingCalculation } from './decide-accuracy';
import type { MeasuredPeriod, ValueCalculationEvent } from './events';

export type CalculationStatus = 'RECORDED' | 'VOIDED' | 'SUPERSEDED';

export type CalculationEntry = CountingCalculation & { readonly start: string; readonly end: string; readonly status: CalculationStatus; readonly supersededBy: string | null };

/** One definition's calculations in the order recorded; only RECORDED ones count and must not overlap. */
export type ValueCalculationState = { readonly periods: readonly CalculationEntry[] };

export const initialValueCalculationState: ValueCalculationState = { periods: [] };

const entry = (data: MeasuredPeriod): CalculationEntry => ({
  calculationId: data.calculationId,
  start: data.periodStart,
  end: data.periodEnd,
  periodEnd: data.periodEnd,
  quantity: data.quantity,
  sampleSize: data.sampleSize,
  matchedSamples: data.matchedSamples,
  status: 'RECORDED',
  supersededBy: null,
});

export function evolveValueCalculation(state: ValueCalculationState, event: ValueCalculationEvent): ValueCalculationState {
  switch (event.type) {
    case 'value-calculations.recorded':
      return { periods: [...state.periods, entry(event.data)] };
    case 'value-calculations.adjusted': {
      const { adjusts, calculationId } = event.data;
      const periods = state.periods.map((period) => (period.calculationId === adjusts ? { ...period, status: 'SUPERSEDED' as const, supersededBy: calculationId } : period));
      return { periods: [...periods, entry(event.data)] };
    }
    case 'value-calculations.voided':
      return { periods: state.periods.map((period) => (period.calculationId === event.data.calculationId ? { ...period, status: 'VOIDED' as const } : period)) };
    default: {
      const unknownEvent: never = event;
      return unknownEvent;
    }
  }
}

/** The calculations that count, in the order recorded. */
export function countingCalculations(state: ValueCalculationState): CalculationEntry[] {
  return state.periods.filter((period) => period.status === 'RECORDED');
}
