import type { Decider } from '../commands/decider';
import { decideValueCalculation, type ValueCalculationCommand } from './decide';
import { VALUE_CALCULATION_SCHEMA_VERSIONS, type ValueCalculationEvent } from './events';
import { evolveValueCalculation, initialValueCalculationState, type ValueCalculationState } from './state';

/** One definition's measured periods: `valuecalc-<tenant>.<definitionId>`. */
export const valueCalculationDecider: Decider<ValueCalculationCommand, ValueCalculationEvent, ValueCalculationState> = {
  category: 'valuecalc',
  stateSchema: 'valuecalc.state.v1',
  initialState: initialValueCalculationState,
  schemaVersions: VALUE_CALCULATION_SCHEMA_VERSIONS,
  upcasters: {},
  decide: decideValueCalculation,
  evolve: evolveValueCalculation,
};
