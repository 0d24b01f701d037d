import type { Upcaster } from '../../contracts';
import type { Decider } from '../commands/decider';
import { decideApproval, type ApprovalCommand } from './decide';
import { APPROVAL_SCHEMA_VERSIONS, type ApprovalEvent } from './events';
import { evolveApproval, initialApprovalState, type ApprovalState } from './state';

/** Recorded before the data named its maker: the signed envelope's actor made it. */
const actorAs = (field: string): Upcaster[] => [(data, context) => ({ ...data, [field]: context?.actor.id ?? 'unknown' })];

/** A value definition and its approval, one stream each: `valuedef-<tenant>.<definitionId>`. */
export const approvalDecider: Decider<ApprovalCommand, ApprovalEvent, ApprovalState> = {
  category: 'valuedef',
  // v3: changes requested is a status of its own ('changes-requested', was 'draft'); v2 snapshots are folded again.
  stateSchema: 'valuedef.state.v3',
  initialState: initialApprovalState,
  schemaVersions: APPROVAL_SCHEMA_VERSIONS,
  upcasters: {
    'approvals.definition-drafted': actorAs('draftedBy'),
    'approvals.definition-edited': actorAs('editedBy'),
    'approvals.submitted': actorAs('submittedBy'),
    // The decision's envelope time is the instant the stage was decided.
    'approvals.stage-approved': [(data, context) => ({ ...data, decidedAt: context?.occurredAt ?? null })],
    // A v1 completion said only which round completed; what was approved is not invented.
    'approvals.completed': [(data) => ({ ...data, definitionHash: null, definition: null, deciders: null, segregationOfDuties: null })],
  },
  decide: decideApproval,
  evolve: evolveApproval,
};
