import type { Decider } from '../commands/decider';
import { decideApproval, type ApprovalCommand } from './decide';
import { APPROVAL_SCHEMA_VERSIONS, type ApprovalEvent } from './events';
import { evolveApproval, initialApprovalState, type ApprovalState } from './state';

/** A value definition and its approval, one stream each: `valuedef-<tenant>.<definitionId>`. */
export const approvalDecider: Decider<ApprovalCommand, ApprovalEvent, ApprovalState> = {
  category: 'valuedef',
  stateSchema: 'valuedef.state.v1',
  initialState: initialApprovalState,
  schemaVersions: APPROVAL_SCHEMA_VERSIONS,
  upcasters: {},
  decide: decideApproval,
  evolve: evolveApproval,
};
