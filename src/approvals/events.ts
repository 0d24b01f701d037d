import type { DomainEvent } from '../commands/decider';
import type { Role } from '../workspaces/events';

/** The approval's stages, in the order they must be decided. */
export const STAGES = ['FINANCE', 'TECHNICAL', 'FINAL'] as const;
export type Stage = (typeof STAGES)[number];

/** Who may decide each stage. */
export const STAGE_ROLES: Readonly<Record<Stage, readonly Role[]>> = {
  FINANCE: ['FINANCE'],
  TECHNICAL: ['TECHNICAL'],
  FINAL: ['ADMIN', 'CUSTOMER_ADMIN'],
};

export const CURRENCIES = ['EUR', 'USD', 'GBP', 'CHF', 'SEK', 'NOK', 'DKK', 'JPY'] as const;
export type Currency = (typeof CURRENCIES)[number];

/** What a customer pays for. Money in integer minor units; the baseline in the metric's unit. */
export type ValueDefinition = {
  name: string;
  unit: string;
  formula: string;
  unitPriceMinor: number;
  currency: Currency;
  baseline: number;
};

/** Who decided: also in the envelope's actor, repeated here so a history row needs nothing else. */
export type Decider = {
  userId: string;
  role: Role;
};

export type DefinitionDrafted = DomainEvent<'approvals.definition-drafted', { definitionId: string } & ValueDefinition>;
export type DefinitionEdited = DomainEvent<'approvals.definition-edited', { definitionId: string; changed: string[] } & ValueDefinition>;
/** Starts a round: the first submission creates the approval (its id), each resubmission after changes were requested the next round. */
export type Submitted = DomainEvent<'approvals.submitted', { definitionId: string; approvalId: string; round: number; segregationOfDuties: boolean }>;
export type StageApproved = DomainEvent<'approvals.stage-approved', { definitionId: string; approvalId: string; round: number; stage: Stage; decidedBy: Decider; comment: string | null }>;
export type ChangesRequested = DomainEvent<'approvals.changes-requested', { definitionId: string; approvalId: string; round: number; stage: Stage; decidedBy: Decider; reason: string }>;
export type Rejected = DomainEvent<'approvals.rejected', { definitionId: string; approvalId: string; round: number; stage: Stage; decidedBy: Decider; reason: string }>;
/** ApprovalCompleted: appended with the Final stage's approval. */
export type Completed = DomainEvent<'approvals.completed', { definitionId: string; approvalId: string; round: number }>;

export type ApprovalEvent = DefinitionDrafted | DefinitionEdited | Submitted | StageApproved | ChangesRequested | Rejected | Completed;

export const APPROVAL_SCHEMA_VERSIONS: Record<ApprovalEvent['type'], number> = {
  'approvals.definition-drafted': 1,
  'approvals.definition-edited': 1,
  'approvals.submitted': 1,
  'approvals.stage-approved': 1,
  'approvals.changes-requested': 1,
  'approvals.rejected': 1,
  'approvals.completed': 1,
};

export const APPROVAL_EVENT_TYPES = Object.keys(APPROVAL_SCHEMA_VERSIONS) as ReadonlyArray<ApprovalEvent['type']>;
