import type { DomainEvent } from '../commands/decider';

export const PLAN_TIERS = ['FREE', 'PLUS', 'PRO'] as const;
export type PlanTier = (typeof PLAN_TIERS)[number];

export type WorkspaceRegistered = DomainEvent<'workspaces.registered', { workspaceId: string; name: string; planTier: PlanTier }>;
export type WorkspaceRenamed = DomainEvent<'workspaces.renamed', { name: string; previousName: string }>;
export type WorkspacePlanChanged = DomainEvent<'workspaces.plan-changed', { planTier: PlanTier; previousPlanTier: PlanTier }>;
export type WorkspaceClosed = DomainEvent<'workspaces.closed', { reason: string }>;

export type WorkspaceEvent = WorkspaceRegistered | WorkspaceRenamed | WorkspacePlanChanged | WorkspaceClosed;

export const WORKSPACE_SCHEMA_VERSIONS: Record<WorkspaceEvent['type'], number> = {
  'workspaces.registered': 1,
  'workspaces.renamed': 1,
  'workspaces.plan-changed': 1,
  'workspaces.closed': 1,
};
