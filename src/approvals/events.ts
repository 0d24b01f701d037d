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

/** The fields of a definition, in the order they are listed. */
export const DEFINITION_FIELDS = ['name', 'unit', 'formula', 'unitPriceMinor', 'currency', 'baseline'] as const satisfies ReadonlyArray<keyof ValueDefinition>;
export type DefinitionField = (typeof DEFINITION_FIELDS)[number];

/** Who decided: also in the envelope's actor, repeated here so a history row needs nothing else. */
export type Decider = {
  userId: string;
  role: Role;
};

/** A stage decision as the completion records it: who, in which role, when. */
export type StageDecider = { stage: Stage; userId: string; role: Role; decidedAt: string };

/** v2 adds `draftedBy` (v1: the envelope's actor). */
export type DefinitionDrafted = DomainEvent<'approvals.definition-drafted', { definitionId: string; draftedBy: string } & ValueDefinition>;
/** v2 adds `editedBy` (v1: the envelope's actor). */
export type DefinitionEdited = DomainEvent<'approvals.definition-edited', { definitionId: string; changed: string[]; editedBy: string } & ValueDefinition>;
/**
 * Starts a round: the first submission creates the approval (its id), each resubmission after
 * changes were requested the next round. v2 adds `submittedBy` (v1: the envelope's actor).
 */
export type Submitted = DomainEvent<'approvals.submitted', { definitionId: string; approvalId: string; round: number; segregationOfDuties: boolean; submittedBy: string }>;
/** v2 adds `decidedAt` (v1: the envelope's time, which is the same instant). */
export type StageApproved = DomainEvent<'approvals.stage-approved', { definitionId: string; approvalId: string; round: number; stage: Stage; decidedBy: Decider; comment: string | null; decidedAt: string }>;
export type ChangesRequested = DomainEvent<'approvals.changes-requested', { definitionId: string; approvalId: string; round: number; stage: Stage; decidedBy: Decider; reason: string }>;
export type Rejected = DomainEvent<'approvals.rejected', { definitionId: string; approvalId: string; round: number; stage: Stage; decidedBy: Decider; reason: string }>;
/**
 * ApprovalCompleted: appended with the Final stage's approval. v2 says what was approved — the
 * definition, its canonical hash (`sha256:` + hex of its RFC 8785 bytes), the round's deciders and
 * whether segregation of duties held. A v1 event said none of it: upcast, those fields are null
 * (the approval's own stream still tells, see GET /approvals/:id?asOf=).
 */
export type Completed = DomainEvent<
  'approvals.completed',
  {
    definitionId: string;
    approvalId: string;
    round: number;
    definitionHash: string | null;
    definition: ValueDefinition | null;
    deciders: StageDecider[] | null;
    segregationOfDuties: boolean | null;
  }
>;

export type ApprovalEvent = DefinitionDrafted | DefinitionEdited | Submitted | StageApproved | ChangesRequested | Rejected | Completed;

export const APPROVAL_SCHEMA_VERSIONS: Record<ApprovalEvent['type'], number> = {
  'approvals.definition-drafted': 2,
  'approvals.definition-edited': 2,
  'approvals.submitted': 2,
  'approvals.stage-approved': 2,
  'approvals.changes-requested': 1,
  'approvals.rejected': 1,
  'approvals.completed': 2,
};

export const APPROVAL_EVENT_TYPES = Object.keys(APPROVAL_SCHEMA_VERSIONS) as ReadonlyArray<ApprovalEvent['type']>;
