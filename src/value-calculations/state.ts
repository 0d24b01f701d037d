import type { ValueCalculationEvent } from './events';

/** The periods already measured for one definition (they must not overlap). */
export type ValueCalculationState = { readonly periods: ReadonlyArray<{ readonly start: string; readonly end: string; readonly calculationId: string }> };

export const initialValueCalculationState: ValueCalculationState = { periods: [] };

export function evolveValueCalculation(state: ValueCalculationState, event: ValueCalculationEvent): ValueCalculationState {
  return { periods: [...state.periods, { start: event.data.periodStart, end: event.data.periodEnd, calculationId: event.data.calculationId }] };
}
