import type { Decider } from '../commands/decider';
import { decideGoLive, type GoLiveCommand } from './decide';
import { GO_LIVE_SCHEMA_VERSIONS, GO_LIVE_UPCASTERS, type GoLiveEvent } from './events';
import { evolveGoLive, initialGoLiveState, type GoLiveState } from './state';

/** A tenant's alerts, billing time zone, switch to value-based billing and its suspensions: `golive-<tenant>`. */
export const goLiveDecider: Decider<GoLiveCommand, GoLiveEvent, GoLiveState> = {
  category: 'golive',
  stateSchema: 'golive.state.v2',
  initialState: initialGoLiveState,
  schemaVersions: GO_LIVE_SCHEMA_VERSIONS,
  upcasters: GO_LIVE_UPCASTERS,
  decide: decideGoLive,
  evolve: evolveGoLive,
};
