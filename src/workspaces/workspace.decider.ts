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
    // Recorded before memberships named their start: the event's own time is when it began.
    'workspaces.member-added': [(data, context) => ({ ...data, since: context?.occurredAt ?? '1970-01-01T00:00:00.000Z' })],
    // Created before keys named their creator in the data: the signed envelope's actor created it.
    'workspaces.api-key-created': [(data, context) => ({ ...data, createdBy: context?.actor.id ?? null })],
    // Set before the policy said who and why: the signed envelope's actor; no reason was given.
    'workspaces.approval-policy-set': [(data, context) => ({ ...data, reason: null, changedBy: { userId: context?.actor.id ?? 'unknown', role: context?.actor.role ?? 'unknown' } })],
  },
  decide: decideWorkspace,
  evolve: evolveWorkspace,
};
