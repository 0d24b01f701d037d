import type { Decider } from '../commands/decider';
import { decideWorkspace, type WorkspaceCommand } from './decide';
import { WORKSPACE_SCHEMA_VERSIONS, type WorkspaceEvent } from './events';
import { evolveWorkspace, initialWorkspaceState, type WorkspaceState } from './state';

export const workspaceDecider: Decider<WorkspaceCommand, WorkspaceEvent, WorkspaceState> = {
  category: 'workspace',
  stateSchema: 'workspace.state.v1',
  initialState: initialWorkspaceState,
  schemaVersions: WORKSPACE_SCHEMA_VERSIONS,
  upcasters: {},
  decide: decideWorkspace,
  evolve: evolveWorkspace,
};
