import type { PlanTier, WorkspaceEvent } from './events';

export type WorkspaceState =
  | { readonly status: 'unregistered' }
  | { readonly status: 'active' | 'closed'; readonly workspaceId: string; readonly name: string; readonly planTier: PlanTier };

export const initialWorkspaceState: WorkspaceState = { status: 'unregistered' };

export function evolveWorkspace(state: WorkspaceState, event: WorkspaceEvent): WorkspaceState {
  switch (event.type) {
    case 'workspaces.registered':
      return { status: 'active', workspaceId: event.data.workspaceId, name: event.data.name, planTier: event.data.planTier };
    case 'workspaces.renamed':
      return state.status === 'unregistered' ? state : { ...state, name: event.data.name };
    case 'workspaces.plan-changed':
      return state.status === 'unregistered' ? state : { ...state, planTier: event.data.planTier };
    case 'workspaces.closed':
      return state.status === 'unregistered' ? state : { ...state, status: 'closed' };
    default: {
      const unknownEvent: never = event;
      return unknownEvent;
    }
  }
}
