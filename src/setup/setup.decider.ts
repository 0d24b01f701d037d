import type { Decider } from '../commands/decider';
import { decideSetup, type SetupCommand } from './decide';
import { SETUP_SCHEMA_VERSIONS, type SetupEvent } from './events';
import { evolveSetup, initialSetupState, type SetupState } from './state';

/** A tenant's onboarding: one stream, `setup-<tenant>`. */
export const setupDecider: Decider<SetupCommand, SetupEvent, SetupState> = {
  category: 'setup',
  stateSchema: 'setup.state.v2',
  initialState: initialSetupState,
  schemaVersions: SETUP_SCHEMA_VERSIONS,
  upcasters: {},
  decide: decideSetup,
  evolve: evolveSetup,
};
