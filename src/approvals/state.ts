import type { ApprovalEvent, Stage, StageDecider, ValueDefinition } from './events';
import { STAGES } from './events';

/** One vocabulary with the finance list (approvals_current) and asOf: changes requested is a status of its own, editable and submittable like a draft. */
export type DefinitionStatus = 'draft' | 'in-review' | 'changes-requested' | 'approved' | 'rejected';

/** What a maker did to the definition: they may not check it while segregation of duties holds. */
export type MakerAct = 'drafted' | 'edited' | 'submitted';

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
  /** Per user, what they did to the definition in any round so far: its makers, never its checkers. */
  readonly makers: Readonly<Record<string, readonly MakerAct[]>>;
  /** The approvals of each stage in the current round. */
  readonly approvedBy: Readonly<Partial<Record<Stage, StageDecider>>>;
}

export type ApprovalState = { readonly status: 'none' } | ActiveDefinition;

export const initialApprovalState: ApprovalState = { status: 'none' };

export function evolveApproval(state: ApprovalState, event: ApprovalEvent): ApprovalState {
  if (event.type === 'approvals.definition-drafted') {
    const { definitionId, draftedBy, ...definition } = event.data;
    return {
      status: 'draft',
      definitionId,
      definition,
      approvalId: null,
      round: 0,
      stage: null,
      segregationOfDuties: true,
      stagesDecidedBy: {},
      makers: { [draftedBy]: ['drafted'] },
      approvedBy: {},
    };
  }
  if (state.status === 'none') return state;
  switch (event.type) {
    case 'approvals.definition-edited': {
      const { definitionId: _id, changed: _changed, editedBy, ...definition } = event.data;
      return { ...made(state, editedBy, 'edited'), definition };
    }
    case 'approvals.submitted':
      return {
        ...made(state, event.data.submittedBy, 'submitted'),
        status: 'in-review',
        approvalId: event.data.approvalId,
        round: event.data.round,
        stage: STAGES[0],
        segregationOfDuties: event.data.segregationOfDuties,
        approvedBy: {},
      };
    case 'approvals.stage-approved': {
      const { stage, decidedBy, decidedAt } = event.data;
      const next = STAGES[STAGES.indexOf(stage) + 1] ?? null;
      return { ...decided(state, decidedBy.userId, stage), stage: next, approvedBy: { ...state.approvedBy, [stage]: { stage, userId: decidedBy.userId, role: decidedBy.role, decidedAt } } };
    }
    case 'approvals.changes-requested':
      return { ...decided(state, event.data.decidedBy.userId, event.data.stage), status: 'changes-requested', stage: null };
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

function made(state: ActiveDefinition, userId: string, act: MakerAct): ActiveDefinition {
  const before = state.makers[userId] ?? [];
  return before.includes(act) ? state : { ...state, makers: { ...state.makers, [userId]: [...before, act] } };
}
