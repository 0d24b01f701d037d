import type { DomainEvent } from '../commands/decider';

export const PLAN_TIERS = ['FREE', 'PLUS', 'PRO'] as const;
export type PlanTier = (typeof PLAN_TIERS)[number];

/**
 * A member's role in a workspace. ADMIN is Proofline's own operator and is granted only by an
 * ADMIN; CUSTOMER_ADMIN runs the customer's workspace; the others do one job each
 * (docs/security.md has the full matrix).
 */
export const ROLES = ['ADMIN', 'CUSTOMER_ADMIN', 'FINANCE', 'TECHNICAL', 'AUDITOR'] as const;
export type Role = (typeof ROLES)[number];

/** Roles that can manage members and API keys; a workspace always keeps at least one of them. */
export const ADMINISTRATIVE_ROLES: readonly Role[] = ['ADMIN', 'CUSTOMER_ADMIN'];

export type WorkspaceOwner = { userId: string; email: string; role: Role };
/**
 * Version 2 names the owner, the first member, in the registration itself: a workspace never
 * exists without an administrator. Version 1 events (before identity) read as `owner: null`.
 */
export type WorkspaceRegistered = DomainEvent<'workspaces.registered', { workspaceId: string; name: string; planTier: PlanTier; owner: WorkspaceOwner | null }>;
export type WorkspaceRenamed = DomainEvent<'workspaces.renamed', { name: string; previousName: string }>;
export type WorkspacePlanChanged = DomainEvent<'workspaces.plan-changed', { planTier: PlanTier; previousPlanTier: PlanTier }>;
export type WorkspaceClosed = DomainEvent<'workspaces.closed', { reason: string }>;

/**
 * Version 2 records when the membership began (`since`): a session started before it — from an
 * earlier membership that was removed — carries no authority in this one.
 */
export type MemberAdded = DomainEvent<'workspaces.member-added', { userId: string; email: string; role: Role; since: string }>;
export type MemberRoleChanged = DomainEvent<'workspaces.member-role-changed', { userId: string; role: Role; previousRole: Role }>;
export type MemberRemoved = DomainEvent<'workspaces.member-removed', { userId: string; previousRole: Role }>;
/**
 * Only the SHA-256 of the key's secret is recorded: the secret itself is shown once and never stored.
 * Version 2 names the actor that created it (a key lives only while its creator could create it);
 * version 1 keys read as `createdBy: null` and are tied to no creator.
 */
export type ApiKeyCreated = DomainEvent<'workspaces.api-key-created', { keyId: string; name: string; roles: Role[]; secretSha256: string; createdBy: string | null }>;
export type ApiKeyRevoked = DomainEvent<'workspaces.api-key-revoked', { keyId: string; reason: string }>;

/**
 * An address asked to join with a role. Nothing is granted until the holder of the invitation
 * token accepts it (docs/security.md, "Invitations"); only the token secret's SHA-256 is kept.
 */
export type MemberInvited = DomainEvent<'workspaces.member-invited', { invitationId: string; email: string; role: Role; secretSha256: string; expiresAt: string; invitedBy: string }>;
export type InvitationAccepted = DomainEvent<'workspaces.invitation-accepted', { invitationId: string; userId: string }>;
export type InvitationRevoked = DomainEvent<'workspaces.invitation-revoked', { invitationId: string; reason: string }>;

/**
 * The tenant's approval rules; segregation of duties is on until an ADMIN turns it off. v2 adds
 * why (`reason`; null for v1) and who (`changedBy`; v1: the envelope's actor).
 */
export type ApprovalPolicySet = DomainEvent<'workspaces.approval-policy-set', { segregationOfDuties: boolean; reason: string | null; changedBy: { userId: string; role: string } }>;

export type MembershipEvent = MemberAdded | MemberRoleChanged | MemberRemoved | ApiKeyCreated | ApiKeyRevoked | MemberInvited | InvitationAccepted | InvitationRevoked;
export type WorkspaceEvent = WorkspaceRegistered | WorkspaceRenamed | WorkspacePlanChanged | WorkspaceClosed | ApprovalPolicySet | MembershipEvent;

export const WORKSPACE_SCHEMA_VERSIONS: Record<WorkspaceEvent['type'], number> = {
  'workspaces.registered': 2,
  'workspaces.renamed': 1,
  'workspaces.plan-changed': 1,
  'workspaces.closed': 1,
  'workspaces.approval-policy-set': 2,
  'workspaces.member-added': 2,
  'workspaces.member-role-changed': 1,
  'workspaces.member-removed': 1,
  'workspaces.api-key-created': 2,
  'workspaces.api-key-revoked': 1,
  'workspaces.member-invited': 1,
  'workspaces.invitation-accepted': 1,
  'workspaces.invitation-revoked': 1,
};

export const WORKSPACE_EVENT_TYPES = Object.keys(WORKSPACE_SCHEMA_VERSIONS) as ReadonlyArray<WorkspaceEvent['type']>;
