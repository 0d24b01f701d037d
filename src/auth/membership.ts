import { streamIdFor } from '../commands/stream-id';
import type { StateLoader } from '../commands/state-loader';
import { workspaceDecider } from '../workspaces/workspace.decider';
import type { Member } from '../workspaces/state';

/** The user's membership of the workspace as its events say now, or undefined (no workspace, or not a member). */
export async function membershipOf(states: StateLoader, tenantId: string, userId: string): Promise<Member | undefined> {
  const { state } = await states.loadCurrent(workspaceDecider, streamIdFor('workspace', tenantId));
  return state.status === 'unregistered' ? undefined : state.members[userId];
}
