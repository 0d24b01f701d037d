import type { Decider } from '../commands/decider';
import { decideValueCalculation, type ValueCalculationCommand } from './decide';
import { VALUE_CALCULATION_SCHEMA_VERSIONS, VALUE_CALCULATION_UPCASTERS, type ValueCalculationEvent } from './events';
import { evolveValueCalculation, initialValueCalculationState, type ValueCalculationState } from './state';

/** One definition's measured periods, their corrections and voids: `valuecalc-<tenant>.<definitionId>`. */
export const valueCalculationDecider: Decider<ValueCalculationCommand, ValueCalculationEvent, ValueCalculationState> = {
  category: 'valuecalc',
  stateSchema: 'valuecalc.state.v2',
  initialState: initialValueCalculationState,
  schemaVersions: VALUE_CALCULATION_SCHEMA_VERSIONS,
  upcasters: VALUE_CALCULATION_UPCASTERS,
  decide: decideValueCalculation,
  evolve: evolveValueCalculation,
};
