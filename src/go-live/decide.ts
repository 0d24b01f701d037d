import { rejected } from '../errors/proofline-error';
import { MIN_ACCURACY_BASIS_POINTS, type AlertSeverity, type GoLiveEvent, type PreflightCheck, type PreflightFacts } from './events';
import type { GoLiveState } from './state';

export type RaiseAlert = { readonly type: 'RaiseAlert'; readonly alertId: string; readonly severity: AlertSeverity; readonly message: string };
export type ResolveAlert = { readonly type: 'ResolveAlert'; readonly alertId: string; readonly resolution: string };
export type ActivateGoLive = { readonly type: 'ActivateGoLive'; readonly facts: PreflightFacts };

/** `timeZone` is a canonical IANA name (the handler checked and canonicalised it). */
export type SetBillingTimeZone = { readonly type: 'SetBillingTimeZone'; readonly timeZone: string };

export type GoLiveCommand = RaiseAlert | ResolveAlert | ActivateGoLive | SetBillingTimeZone;

export function decideGoLive(command: GoLiveCommand, state: GoLiveState): GoLiveEvent[] {
  switch (command.type) {
    case 'RaiseAlert':
      if (state.knownAlerts.includes(command.alertId)) throw rejected.conflict('ALERT.ALREADY_EXISTS', `alert ${command.alertId} already exists`, { alertId: command.alertId });
      return [
        { type: 'go-live.alert-raised', data: { alertId: command.alertId, severity: command.severity, message: command.message } },
        // Live billing rests on the preflight's "no critical alert": one raised since stops it.
        ...(state.live && !state.billingSuspended && command.severity === 'critical' ? [{ type: 'go-live.billing-suspended' as const, data: { alertIds: [command.alertId] } }] : []),
      ];
    case 'ResolveAlert':
      if (!state.knownAlerts.includes(command.alertId)) throw rejected.notFound('ALERT.NOT_FOUND', `no alert ${command.alertId}`, { alertId: command.alertId });
      if (!Object.hasOwn(state.openAlerts, command.alertId)) return [];
      return [
        { type: 'go-live.alert-resolved', data: { alertId: command.alertId, resolution: command.resolution } },
        ...(state.billingSuspended && criticalOpen(state).every((id) => id === command.alertId) ? [{ type: 'go-live.billing-resumed' as const, data: { alertId: command.alertId } }] : []),
      ];
    case 'SetBillingTimeZone':
      return command.timeZone === state.billingTimeZone ? [] : [{ type: 'go-live.billing-time-zone-set', data: { timeZone: command.timeZone } }];
    case 'ActivateGoLive':
      return activate(command, state);
    default: {
      const unknownCommand: never = command;
      return unknownCommand;
    }
  }
}

/** Every check runs; refusal lists every one that failed, not just the first. */
export function preflight(facts: PreflightFacts, state: GoLiveState): PreflightCheck[] {
  const critical = criticalOpen(state);
  const behind = facts.projections.filter((projection) => projection.state !== 'running' || projection.pendingEvents > 0 || !projection.complete);
  const { setup, approvals, baseline } = facts;
  const mismatched = baseline.definitions.filter((definition) => definition.baseline !== baseline.setup);
  const weak = facts.accuracy.filter((entry) => entry.measured === null || entry.measured.basisPoints < MIN_ACCURACY_BASIS_POINTS);
  const percent = (basisPoints: number) => `${(basisPoints / 100).toFixed(2)} %`;
  const describe = (entry: PreflightFacts['accuracy'][number]) =>
    entry.measured === null
      ? `${entry.definitionId}: no ended period with measurement samples`
      : `${entry.definitionId}: ${percent(entry.measured.basisPoints)} (${entry.measured.matchedSamples} of ${entry.measured.sampleSize} samples over ${entry.measured.calculationIds.length} period(s), weighted by quantity)`;
  return [
    {
      check: 'projections-current',
      passed: behind.length === 0,
      message:
        behind.length === 0
          ? 'the read models have applied every event of this workspace'
          : `read model(s) behind, try again shortly: ${behind.map((p) => `${p.projector} (${p.state}, ${p.complete ? p.pendingEvents : `over ${p.pendingEvents}`} event(s) not applied)`).join(', ')}`,
    },
    {
      check: 'setup-complete',
      passed: setup.missingSteps.length === 0,
      message:
        setup.missingSteps.length === 0
          ? 'all five setup steps passed'
          : `setup steps not passed: ${setup.missingSteps.join(', ')}${setup.staleSteps.length > 0 ? ` (stale since an earlier step was recorded again: ${setup.staleSteps.join(', ')})` : ''}`,
    },
    {
      check: 'approvals-complete',
      passed: approvals.completed.length > 0 && approvals.pending.length === 0,
      message:
        approvals.completed.length === 0
          ? 'no value definition has a completed approval'
          : approvals.pending.length > 0
            ? `${approvals.pending.length} approval(s) still pending: ${approvals.pending.map((p) => p.definitionId).join(', ')}`
            : `${approvals.completed.length} approval(s) completed, none pending`,
    },
    {
      check: 'baseline-matches',
      passed: baseline.setup !== null && mismatched.length === 0,
      message:
        baseline.setup === null
          ? 'no setup baseline has passed'
          : mismatched.length === 0
            ? `every approved definition has the setup baseline ${baseline.setup}`
            : `the setup baseline is ${baseline.setup}; definition(s) differ: ${mismatched.map((d) => `${d.definitionId} (${d.baseline})`).join(', ')}`,
    },
    {
      check: 'measurement-accuracy',
      passed: facts.accuracy.length > 0 && weak.length === 0,
      message:
        facts.accuracy.length === 0
          ? 'no approved definition to measure'
          : `${weak.length === 0 ? 'every approved definition is measured at' : 'below'} ${MIN_ACCURACY_BASIS_POINTS / 100} %${weak.length === 0 ? ' or more' : ''}: ${(weak.length === 0 ? facts.accuracy : weak).map(describe).join('; ')}`,
    },
    { check: 'no-critical-alert', passed: critical.length === 0, message: critical.length === 0 ? 'no critical alert is open' : `critical alert(s) open: ${critical.join(', ')}` },
  ];
}

function activate(command: ActivateGoLive, state: GoLiveState): GoLiveEvent[] {
  if (state.live) throw rejected.conflict('GO_LIVE.ALREADY_LIVE', 'this workspace is already live');
  const checks = preflight(command.facts, state);
  const failed = checks.filter((check) => !check.passed);
  if (failed.length > 0) {
    throw rejected.unprocessable('GO_LIVE.PREFLIGHT_FAILED', `go-live refused: ${failed.map((check) => check.message).join('; ')}`, { failedChecks: failed, checks });
  }
  return [{ type: 'go-live.activated', data: { facts: command.facts, checks } }];
}

function criticalOpen(state: GoLiveState): string[] {
  return Object.entries(state.openAlerts)
    .filter(([, severity]) => severity === 'critical')
    .map(([id]) => id);
}
