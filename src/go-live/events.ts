import type { UpcasterChain } from '../../contracts';
import type { DomainEvent } from '../commands/decider';
import type { DefinitionAccuracy } from '../value-calculations/decide-accuracy';

export const ALERT_SEVERITIES = ['critical', 'warning', 'info'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

/** The go-live rule: the recent measurement accuracy must be at least this (85.00 %). */
export const MIN_ACCURACY_BASIS_POINTS = 8500;

/** A read model the preflight relied on, and how far behind this tenant's events it was. */
export type ProjectionFact = {
  projector: string;
  /** The projector's stored position (commit/prepare) when the facts were gathered. */
  position: string;
  state: string;
  /** Events of this tenant it handles that lie after its position (0 when it has applied all of them). */
  pendingEvents: number;
  scanned: number;
  /** Whether the scan reached the end of the tenant's events (false: the projector is further behind than was read). */
  complete: boolean;
};

/**
 * The facts the preflight was decided on, gathered before `decide` and kept in the event: the ids
 * and stream versions it read, not counts, so an auditor can fold the same streams to the same
 * versions and see the same thing.
 */
export type PreflightFacts = {
  decidedAt: string;
  setup: { streamVersion: number | null; missingSteps: string[]; staleSteps: string[] };
  approvals: {
    completed: Array<{ definitionId: string; streamVersion: number | null }>;
    pending: Array<{ definitionId: string; streamVersion: number | null; status: 'in-review' | 'changes-requested' }>;
  };
  /** Per approved definition: its recent measured accuracy (null: no ended period with samples). */
  accuracy: Array<{ definitionId: string; calculationStreamVersion: number | null; measured: DefinitionAccuracy | null }>;
  /** The setup BASELINE value and each approved definition's baseline: they must agree. */
  baseline: { setup: number | null; definitions: Array<{ definitionId: string; baseline: number }> };
  projections: ProjectionFact[];
};

export const PREFLIGHT_CHECKS = ['projections-current', 'setup-complete', 'approvals-complete', 'baseline-matches', 'measurement-accuracy', 'no-critical-alert'] as const;
export type PreflightCheck = { check: (typeof PREFLIGHT_CHECKS)[number]; passed: boolean; message: string };

export type AlertRaised = DomainEvent<'go-live.alert-raised', { alertId: string; severity: AlertSeverity; message: string }>;
export type AlertResolved = DomainEvent<'go-live.alert-resolved', { alertId: string; resolution: string }>;
/** GoLiveActivated: value-based billing is on, with the checks that allowed it. */
export type GoLiveActivated = DomainEvent<'go-live.activated', { facts: PreflightFacts; checks: PreflightCheck[] }>;

/** The tenant's billing time zone (an IANA name): billing periods start and end at 00:00 there. UTC until set. */
export type BillingTimeZoneSet = DomainEvent<'go-live.billing-time-zone-set', { timeZone: string }>;
/** A critical alert was raised while live: value-based billing stops until every critical alert is resolved. */
export type BillingSuspended = DomainEvent<'go-live.billing-suspended', { alertIds: string[] }>;
/** The last open critical alert was resolved: value-based billing runs again. */
export type BillingResumed = DomainEvent<'go-live.billing-resumed', { alertId: string }>;

export type GoLiveEvent = AlertRaised | AlertResolved | GoLiveActivated | BillingTimeZoneSet | BillingSuspended | BillingResumed;

export const GO_LIVE_SCHEMA_VERSIONS: Record<GoLiveEvent['type'], number> = {
  'go-live.alert-raised': 1,
  'go-live.alert-resolved': 1,
  'go-live.activated': 2,
  'go-live.billing-time-zone-set': 1,
  'go-live.billing-suspended': 1,
  'go-live.billing-resumed': 1,
};
export const GO_LIVE_EVENT_TYPES = Object.keys(GO_LIVE_SCHEMA_VERSIONS) as ReadonlyArray<GoLiveEvent['type']>;

/**
 * Version 1 kept counts and a mean of typed-in accuracies as its facts. Nothing reads an old
 * activation's facts but auditors, who read them as recorded: the data is passed on unchanged.
 */
export const GO_LIVE_UPCASTERS: UpcasterChain = {
  'go-live.activated': [(data) => data],
};
