import { rejected } from '../errors/proofline-error';
import { STAGE_ROLES, STAGES, type ApprovalEvent, type Decider, type Stage, type ValueDefinition } from './events';
import type { ActiveDefinition, ApprovalState } from './state';

export type DraftDefinition = { readonly type: 'DraftDefinition'; readonly definitionId: string; readonly definition: ValueDefinition };
export type EditDefinition = { readonly type: 'EditDefinition'; readonly changes: Partial<ValueDefinition> };
/** `approvalId` is used by the first submission only; `segregationOfDuties` is the tenant's policy at the time. */
export type Submit = { readonly type: 'Submit'; readonly approvalId: string; readonly segregationOfDuties: boolean };
type StageDecision = { readonly stage: Stage; readonly decidedBy: Decider };
export type ApproveStage = { readonly type: 'ApproveStage'; readonly comment: string | null } & StageDecision;
export type RequestChanges = { readonly type: 'RequestChanges'; readonly reason: string } & StageDecision;
export type Reject = { readonly type: 'Reject'; readonly reason: string } & StageDecision;

export type ApprovalCommand = DraftDefinition | EditDefinition | Submit | ApproveStage | RequestChanges | Reject;

const DEFINITION_FIELDS: ReadonlyArray<keyof ValueDefinition> = ['name', 'unit', 'formula', 'unitPriceMinor', 'currency', 'baseline'];

export function decideApproval(command: ApprovalCommand, state: ApprovalState): ApprovalEvent[] {
  switch (command.type) {
    case 'DraftDefinition':
      return draft(command, state);
    case 'EditDefinition':
      return edit(command, requireDefinition(state));
    case 'Submit':
      return submit(command, requireDefinition(state));
    case 'ApproveStage':
      return approve(command, requireDecidable(command, requireDefinition(state)));
    case 'RequestChanges': {
      const definition = requireDecidable(command, requireDefinition(state));
      return [{ type: 'approvals.changes-requested', data: { ...roundOf(definition), stage: command.stage, decidedBy: command.decidedBy, reason: command.reason } }];
    }
    case 'Reject': {
      const definition = requireDecidable(command, requireDefinition(state));
      return [{ type: 'approvals.rejected', data: { ...roundOf(definition), stage: command.stage, decidedBy: command.decidedBy, reason: command.reason } }];
    }
    default: {
      const unknownCommand: never = command;
      return unknownCommand;
    }
  }
}

function draft(command: DraftDefinition, state: ApprovalState): ApprovalEvent[] {
  if (state.status !== 'none') throw rejected.conflict('VALUE_DEFINITION.ALREADY_EXISTS', `value definition ${command.definitionId} already exists`, { definitionId: command.definitionId });
  return [{ type: 'approvals.definition-drafted', data: { definitionId: command.definitionId, ...command.definition } }];
}

function edit(command: EditDefinition, definition: ActiveDefinition): ApprovalEvent[] {
  if (definition.status !== 'draft') {
    throw rejected.conflict('VALUE_DEFINITION.NOT_EDITABLE', `a value definition can be edited only as a draft; this one is ${definition.status}`, { status: definition.status });
  }
  const next: ValueDefinition = { ...definition.definition, ...command.changes };
  const changed = DEFINITION_FIELDS.filter((field) => next[field] !== definition.definition[field]);
  if (changed.length === 0) return [];
  return [{ type: 'approvals.definition-edited', data: { definitionId: definition.definitionId, changed, ...next } }];
}

function submit(command: Submit, definition: ActiveDefinition): ApprovalEvent[] {
  if (definition.status !== 'draft') {
    throw rejected.conflict('APPROVAL.NOT_SUBMITTABLE', `only a draft can be submitted; this value definition is ${definition.status}`, { status: definition.status });
  }
  const approvalId = definition.approvalId ?? command.approvalId;
  return [{ type: 'approvals.submitted', data: { definitionId: definition.definitionId, approvalId, round: definition.round + 1, segregationOfDuties: command.segregationOfDuties } }];
}

function approve(command: ApproveStage, definition: ActiveDefinition): ApprovalEvent[] {
  const approved: ApprovalEvent = { type: 'approvals.stage-approved', data: { ...roundOf(definition), stage: command.stage, decidedBy: command.decidedBy, comment: command.comment } };
  if (command.stage !== 'FINAL') return [approved];
  return [approved, { type: 'approvals.completed', data: roundOf(definition) }];
}

/**
 * The rules every stage decision obeys, in this order: the approval is in review (409), the
 * decision is for the stage now due (409), the decider holds that stage's role (403), and — when
 * segregation of duties is on — has decided no other stage of this approval (403).
 */
function requireDecidable(command: StageDecision, definition: ActiveDefinition): ActiveDefinition {
  if (definition.status !== 'in-review' || definition.stage === null) {
    throw rejected.conflict('APPROVAL.NOT_IN_REVIEW', `this approval is not awaiting a decision; the value definition is ${definition.status}`, { status: definition.status });
  }
  if (command.stage !== definition.stage) {
    throw rejected.conflict('APPROVAL.STAGE_OUT_OF_ORDER', `the ${definition.stage} stage is due; stages are decided in the order ${STAGES.join(' → ')}`, {
      expectedStage: definition.stage,
      stage: command.stage,
    });
  }
  const allowed = STAGE_ROLES[command.stage];
  if (!allowed.includes(command.decidedBy.role)) {
    throw rejected.forbidden('APPROVAL.WRONG_STAGE_ROLE', `the ${command.stage} stage is decided by ${allowed.join(' or ')}, not ${command.decidedBy.role}`, {
      stage: command.stage,
      allowedRoles: allowed,
      role: command.decidedBy.role,
    });
  }
  const earlier = (definition.stagesDecidedBy[command.decidedBy.userId] ?? []).filter((stage) => stage !== command.stage);
  if (definition.segregationOfDuties && earlier.length > 0) {
    throw rejected.forbidden('APPROVAL.SEGREGATION_OF_DUTIES', `one person may not decide two stages of the same approval; you decided ${earlier.join(', ')}`, {
      stage: command.stage,
      decidedStages: earlier,
    });
  }
  return definition;
}

function requireDefinition(state: ApprovalState): ActiveDefinition {
  if (state.status === 'none') throw rejected.notFound('VALUE_DEFINITION.NOT_FOUND', 'no such value definition');
  return state;
}

function roundOf(definition: ActiveDefinition) {
  return { definitionId: definition.definitionId, approvalId: definition.approvalId!, round: definition.round };
}
