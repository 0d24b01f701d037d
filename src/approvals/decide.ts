import { createHash } from 'node:crypto';
import { canonicalJson } from '../../contracts';
import { rejected } from '../errors/proofline-error';
import { DEFINITION_FIELDS, STAGE_ROLES, STAGES, type ApprovalEvent, type Decider, type Stage, type StageDecider, type ValueDefinition } from './events';
import type { ActiveDefinition, ApprovalState, MakerAct } from './state';

export type DraftDefinition = { readonly type: 'DraftDefinition'; readonly definitionId: string; readonly definition: ValueDefinition; readonly draftedBy: string };
export type EditDefinition = { readonly type: 'EditDefinition'; readonly changes: Partial<ValueDefinition>; readonly editedBy: string };
/** `approvalId` is used by the first submission only; `segregationOfDuties` is the tenant's policy at the time. */
export type Submit = { readonly type: 'Submit'; readonly approvalId: string; readonly segregationOfDuties: boolean; readonly submittedBy: string };
type StageDecision = { readonly stage: Stage; readonly decidedBy: Decider };
/** `decidedAt` is the command's time (the envelope's occurredAt): the completion lists every stage's. */
export type ApproveStage = { readonly type: 'ApproveStage'; readonly comment: string | null; readonly decidedAt: string } & StageDecision;
export type RequestChanges = { readonly type: 'RequestChanges'; readonly reason: string } & StageDecision;
export type Reject = { readonly type: 'Reject'; readonly reason: string } & StageDecision;

export type ApprovalCommand = DraftDefinition | EditDefinition | Submit | ApproveStage | RequestChanges | Reject;


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
  return [{ type: 'approvals.definition-drafted', data: { definitionId: command.definitionId, draftedBy: command.draftedBy, ...command.definition } }];
}

function edit(command: EditDefinition, definition: ActiveDefinition): ApprovalEvent[] {
  if (!openForChanges(definition)) {
    throw rejected.conflict('VALUE_DEFINITION.NOT_EDITABLE', `a value definition can be edited only as a draft or with changes requested; this one is ${definition.status}`, { status: definition.status });
  }
  const next: ValueDefinition = { ...definition.definition, ...command.changes };
  const changed = DEFINITION_FIELDS.filter((field) => next[field] !== definition.definition[field]);
  if (changed.length === 0) return [];
  return [{ type: 'approvals.definition-edited', data: { definitionId: definition.definitionId, changed, editedBy: command.editedBy, ...next } }];
}

function submit(command: Submit, definition: ActiveDefinition): ApprovalEvent[] {
  if (!openForChanges(definition)) {
    throw rejected.conflict('APPROVAL.NOT_SUBMITTABLE', `only a draft or a definition with changes requested can be submitted; this one is ${definition.status}`, { status: definition.status });
  }
  const approvalId = definition.approvalId ?? command.approvalId;
  return [{ type: 'approvals.submitted', data: { definitionId: definition.definitionId, approvalId, round: definition.round + 1, segregationOfDuties: command.segregationOfDuties, submittedBy: command.submittedBy } }];
}

/** A draft, or a definition sent back with changes requested: its maker may edit and submit it. */
function openForChanges(definition: ActiveDefinition): boolean {
  return definition.status === 'draft' || definition.status === 'changes-requested';
}

function approve(command: ApproveStage, definition: ActiveDefinition): ApprovalEvent[] {
  const approved: ApprovalEvent = {
    type: 'approvals.stage-approved',
    data: { ...roundOf(definition), stage: command.stage, decidedBy: command.decidedBy, comment: command.comment, decidedAt: command.decidedAt },
  };
  if (command.stage !== 'FINAL') return [approved];
  const final: StageDecider = { stage: 'FINAL', userId: command.decidedBy.userId, role: command.decidedBy.role, decidedAt: command.decidedAt };
  const deciders = STAGES.map((stage) => (stage === 'FINAL' ? final : definition.approvedBy[stage]!));
  return [
    approved,
    {
      type: 'approvals.completed',
      data: {
        ...roundOf(definition),
        definitionHash: definitionHash(definition.definition),
        definition: definition.definition,
        deciders,
        segregationOfDuties: definition.segregationOfDuties,
      },
    },
  ];
}

/** `sha256:` and the hex SHA-256 of the definition's RFC 8785 bytes: what a receipt's reader recomputes from the fields beside it. */
export function definitionHash(definition: ValueDefinition): string {
  return `sha256:${createHash('sha256').update(canonicalJson(definition), 'utf8').digest('hex')}`;
}

/**
 * The rules every stage decision obeys, in this order: the approval is in review (409), the
 * decision is for the stage now due (409), the decider holds that stage's role (403), and — when
 * segregation of duties is on — neither drafted, edited nor submitted the definition (in any round
 * so far: their work is still in it) nor decided another stage of this approval (403).
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
  const authored: readonly MakerAct[] = definition.makers[command.decidedBy.userId] ?? [];
  if (definition.segregationOfDuties && authored.length > 0) {
    throw rejected.forbidden('APPROVAL.MAKER_CANNOT_DECIDE', `whoever drafted, edited or submitted a value definition may not decide its approval while segregation of duties is on; you ${authored.join(', ')} it`, {
      stage: command.stage,
      authored,
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
