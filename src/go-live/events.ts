import type { DomainEvent } from '../commands/decider';

export const ALERT_SEVERITIES = ['critical', 'warning', 'info'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

/** The go-live rule: the recent measurement accuracy must be at least this (85.00 %). */
export const MIN_ACCURACY_BASIS_POINTS = 8500;

/** The facts the preflight was decided on, gathered before `decide` and kept in the event. */
export type PreflightFacts = {
  setupMissingSteps: string[];
  approvalsCompleted: number;
  approvalsPending: number;
  /** Mean accuracy of the recent value calculations, or null when there is none. */
  recentAccuracyBasisPoints: number | null;
  calculationsConsidered: number;
};

export type PreflightCheck = { check: 'setup-complete' | 'approvals-complete' | 'measurement-accuracy' | 'no-critical-alert'; passed: boolean; message: string };

export type AlertRaised = DomainEvent<'go-live.alert-raised', { alertId: string; severity: AlertSeverity; message: string }>;
export type AlertResolved = DomainEvent<'go-live.alert-resolved', { alertId: string; resolution: string }>;
/** GoLiveActivated: value-based billing is on, with the checks that allowed it. */
export type GoLiveActivated = DomainEvent<'go-live.activated', { facts: PreflightFacts; checks: PreflightCheck[] }>;

export type GoLiveEvent = AlertRaised | AlertResolved | GoLiveActivated;

export const GO_LIVE_SCHEMA_VERSIONS: Record<GoLiveEvent['type'], number> = {
  'go-live.alert-raised': 1,
  'go-live.alert-resolved': 1,
  'go-live.activated': 1,
};
export const GO_LIVE_EVENT_TYPES = Object.keys(GO_LIVE_SCHEMA_VERSIONS) as ReadonlyArray<GoLiveEvent['type']>;
