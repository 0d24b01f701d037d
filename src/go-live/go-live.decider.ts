import type { Decider } from '../commands/decider';
import { decideGoLive, type GoLiveCommand } from './decide';
import { GO_LIVE_SCHEMA_VERSIONS, type GoLiveEvent } from './events';
import { evolveGoLive, initialGoLiveState, type GoLiveState } from './state';

/** A tenant's alerts and its switch to value-based billing: `golive-<tenant>`. */
export const goLiveDecider: Decider<GoLiveCommand, GoLiveEvent, GoLiveState> = {
  category: 'golive',
  stateSchema: 'golive.state.v1',
  initialState: initialGoLiveState,
  schemaVersions: GO_LIVE_SCHEMA_VERSIONS,
  upcasters: {},
  decide: decideGoLive,
  evolve: evolveGoLive,
};
