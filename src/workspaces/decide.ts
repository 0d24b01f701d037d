import { rejected } from '../errors/proofline-error';
import { decideMembership, type MembershipCommand } from './decide-members';
import type { PlanTier, Role, WorkspaceEvent } from './events';
import type { RegisteredWorkspace, WorkspaceState } from './state';

/** The owner becomes the first member, named in the registration itself. */
export type RegisterWorkspace = {
  readonly type: 'RegisterWorkspace';
  readonly workspaceId: string;
  readonly name: string;
  readonly planTier: PlanTier;
  readonly owner: { readonly userId: string; readonly email: string; readonly role: Extract<Role, 'ADMIN' | 'CUSTOMER_ADMIN'> };
};
export type RenameWorkspace = { readonly type: 'RenameWorkspace'; readonly name: string };
export type ChangePlan = { readonly type: 'ChangePlan'; readonly planTier: PlanTier };
export type CloseWorkspace = { readonly type: 'CloseWorkspace'; readonly reason: string };
/** `reason` says why; `changedBy` is who asks, in the role they act in now: only an ADMIN turns segregation of duties off. */
export type SetApprovalPolicy = { readonly type: 'SetApprovalPolicy'; readonly segregationOfDuties: boolean; readonly reason: string; readonly changedBy: { readonly userId: string; readonly role: Role } };

export type WorkspaceCommand = RegisterWorkspace | RenameWorkspace | ChangePlan | CloseWorkspace | SetApprovalPolicy | MembershipCommand;

/** Shape (lengths, enums) is checked at the edge; these are the rules that need the state. */
export function decideWorkspace(command: WorkspaceCommand, state: WorkspaceState): WorkspaceEvent[] {
  switch (command.type) {
    case 'RegisterWorkspace':
      return register(command, state);
    case 'RenameWorkspace':
      return rename(command, state);
    case 'ChangePlan':
      return changePlan(command, state);
    case 'CloseWorkspace':
      return close(command, state);
    case 'SetApprovalPolicy': {
      const open = requireOpen(state);
      // A customer's own administrator is a FINAL approver: lifting the maker-checker rule is the vendor's ADMIN decision.
      if (!command.segregationOfDuties && command.changedBy.role !== 'ADMIN') {
        throw rejected.forbidden('APPROVAL_POLICY.ADMIN_REQUIRED', `only an ADMIN may turn segregation of duties off, not ${command.changedBy.role}`, { role: command.changedBy.role });
      }
      if (open.segregationOfDuties === command.segregationOfDuties) return [];
      return [{ type: 'workspaces.approval-policy-set', data: { segregationOfDuties: command.segregationOfDuties, reason: command.reason, changedBy: { ...command.changedBy } } }];
    }
    case 'AddMember':
    case 'ChangeMemberRole':
    case 'RemoveMember':
    case 'CreateApiKey':
    case 'RevokeApiKey':
    case 'InviteMember':
    case 'RevokeInvitation':
    case 'AcceptInvitation':
      return decideMembership(command, requireOpen(state));
    default: {
      const unknownCommand: never = command;
      return unknownCommand;
    }
  }
}

function register(command: RegisterWorkspace, state: WorkspaceState): WorkspaceEvent[] {
  if (state.status !== 'unregistered') {
    throw rejected.conflict('WORKSPACE.ALREADY_REGISTERED', `workspace ${command.workspaceId} is already registered`, { workspaceId: command.workspaceId });
  }
  const { workspaceId, name, planTier, owner } = command;
  return [{ type: 'workspaces.registered', data: { workspaceId, name, planTier, owner: { userId: owner.userId, email: owner.email, role: owner.role } } }];
}

function rename(command: RenameWorkspace, state: WorkspaceState): WorkspaceEvent[] {
  const open = requireOpen(state);
  if (open.name === command.name) return [];
  return [{ type: 'workspaces.renamed', data: { name: command.name, previousName: open.name } }];
}

function changePlan(command: ChangePlan, state: WorkspaceState): WorkspaceEvent[] {
  const open = requireOpen(state);
  if (open.planTier === command.planTier) return [];
  return [{ type: 'workspaces.plan-changed', data: { planTier: command.planTier, previousPlanTier: open.planTier } }];
}

function close(command: CloseWorkspace, state: WorkspaceState): WorkspaceEvent[] {
  requireOpen(state);
  return [{ type: 'workspaces.closed', data: { reason: command.reason } }];
}

function requireOpen(state: WorkspaceState): RegisteredWorkspace {
  if (state.status === 'unregistered') throw rejected.notFound('WORKSPACE.NOT_FOUND', 'no such workspace');
  if (state.status === 'closed') throw rejected.conflict('WORKSPACE.CLOSED', `workspace ${state.workspaceId} is closed and accepts no changes`, { workspaceId: state.workspaceId });
  return state;
}
