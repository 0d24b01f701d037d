import type { ApprovalEvent, Stage, ValueDefinition } from './events';
import { STAGES } from './events';

export type DefinitionStatus = 'draft' | 'in-review' | 'approved' | 'rejected';

export interface ActiveDefinition {
  readonly status: DefinitionStatus;
  readonly definitionId: string;
  readonly definition: ValueDefinition;
  /** Set by the first submission and kept across rounds. */
  readonly approvalId: string | null;
  readonly round: number;
  /** The stage awaiting a decision while in review. */
  readonly stage: Stage | null;
  readonly segregationOfDuties: boolean;
  /** Per user, the stages they decided in this approval (any round): one person, one stage. */
  readonly stagesDecidedBy: Readonly<Record<string, readonly Stage[]>>;
  /** The users who approved each stage in the current round. */
  readonly approvedBy: Readonly<Partial<Record<Stage, string>>>;
}

export type ApprovalState = { readonly status: 'none' } | ActiveDefinition;

export const initialApprovalState: ApprovalState = { status: 'none' };

export function evolveApproval(state: ApprovalState, event: ApprovalEvent): ApprovalState {
  if (event.type === 'approvals.definition-drafted') {
    const { definitionId, ...definition } = event.data;
    return { status: 'draft', definitionId, definition, approvalId: null, round: 0, stage: null, segregationOfDuties: true, stagesDecidedBy: {}, approvedBy: {} };
  }
  if (state.status === 'none') return state;
  switch (event.type) {
    case 'approvals.definition-edited': {
      const { definitionId: _id, changed: _changed, ...definition } = event.data;
      return { ...state, definition };
    }
    case 'approvals.submitted':
      return { ...state, status: 'in-review', approvalId: event.data.approvalId, round: event.data.round, stage: STAGES[0], segregationOfDuties: event.data.segregationOfDuties, approvedBy: {} };
    case 'approvals.stage-approved': {
      const next = STAGES[STAGES.indexOf(event.data.stage) + 1] ?? null;
      return { ...decided(state, event.data.decidedBy.userId, event.data.stage), stage: next, approvedBy: { ...state.approvedBy, [event.data.stage]: event.data.decidedBy.userId } };
    }
    case 'approvals.changes-requested':
      return { ...decided(state, event.data.decidedBy.userId, event.data.stage), status: 'draft', stage: null };
    case 'approvals.rejected':
      return { ...decided(state, event.data.decidedBy.userId, event.data.stage), status: 'rejected', stage: null };
    case 'approvals.completed':
      return { ...state, status: 'approved', stage: null };
    default: {
      const unknownEvent: never = event;
      return unknownEvent;
    }
  }
}

function decided(state: ActiveDefinition, userId: string, stage: Stage): ActiveDefinition {
  const before = state.stagesDecidedBy[userId] ?? [];
  return before.includes(stage) ? state : { ...state, stagesDecidedBy: { ...state.stagesDecidedBy, [userId]: [...before, stage] } };
}
