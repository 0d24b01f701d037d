import type { Decider } from '../commands/decider';
import { decideWorkspace, type WorkspaceCommand } from './decide';
import { WORKSPACE_SCHEMA_VERSIONS, type WorkspaceEvent } from './events';
import { evolveWorkspace, initialWorkspaceState, type WorkspaceState } from './state';

export const workspaceDecider: Decider<WorkspaceCommand, WorkspaceEvent, WorkspaceState> = {
  category: 'workspace',
  stateSchema: 'workspace.state.v4',
  initialState: initialWorkspaceState,
  schemaVersions: WORKSPACE_SCHEMA_VERSIONS,
  upcasters: {
    // Registered before accounts existed: no owner was recorded, and none is invented.
    'workspaces.registered': [(data) => ({ ...data, owner: null })],
    // Created before keys named their creator: tied to none, so no one's removal revokes them.
    'workspaces.api-key-created': [(data) => ({ ...data, createdBy: null })],
  },
  decide: decideWorkspace,
  evolve: evolveWorkspace,
};
