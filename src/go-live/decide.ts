import { rejected } from '../errors/proofline-error';
import { MIN_ACCURACY_BASIS_POINTS, type AlertSeverity, type GoLiveEvent, type PreflightCheck, type PreflightFacts } from './events';
import type { GoLiveState } from './state';

export type RaiseAlert = { readonly type: 'RaiseAlert'; readonly alertId: string; readonly severity: AlertSeverity; readonly message: string };
export type ResolveAlert = { readonly type: 'ResolveAlert'; readonly alertId: string; readonly resolution: string };
export type ActivateGoLive = { readonly type: 'ActivateGoLive'; readonly facts: PreflightFacts };

export type GoLiveCommand = RaiseAlert | ResolveAlert | ActivateGoLive;

export function decideGoLive(command: GoLiveCommand, state: GoLiveState): GoLiveEvent[] {
  switch (command.type) {
    case 'RaiseAlert':
      if (state.knownAlerts.includes(command.alertId)) throw rejected.conflict('ALERT.ALREADY_EXISTS', `alert ${command.alertId} already exists`, { alertId: command.alertId });
      return [{ type: 'go-live.alert-raised', data: { alertId: command.alertId, severity: command.severity, message: command.message } }];
    case 'ResolveAlert':
      if (!state.knownAlerts.includes(command.alertId)) throw rejected.notFound('ALERT.NOT_FOUND', `no alert ${command.alertId}`, { alertId: command.alertId });
      if (!Object.hasOwn(state.openAlerts, command.alertId)) return [];
      return [{ type: 'go-live.alert-resolved', data: { alertId: command.alertId, resolution: command.resolution } }];
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
  const critical = Object.entries(state.openAlerts).filter(([, severity]) => severity === 'critical').map(([id]) => id);
  const accuracy = facts.recentAccuracyBasisPoints;
  return [
    {
      check: 'setup-complete',
      passed: facts.setupMissingSteps.length === 0,
      message: facts.setupMissingSteps.length === 0 ? 'all five setup steps passed' : `setup steps not passed: ${facts.setupMissingSteps.join(', ')}`,
    },
    {
      check: 'approvals-complete',
      passed: facts.approvalsCompleted > 0 && facts.approvalsPending === 0,
      message:
        facts.approvalsCompleted === 0 ? 'no value definition has a completed approval' : facts.approvalsPending > 0 ? `${facts.approvalsPending} approval(s) still pending` : `${facts.approvalsCompleted} approval(s) completed, none pending`,
    },
    {
      check: 'measurement-accuracy',
      passed: accuracy !== null && accuracy >= MIN_ACCURACY_BASIS_POINTS,
      message:
        accuracy === null
          ? 'no value calculation has been recorded yet'
          : `recent measurement accuracy ${(accuracy / 100).toFixed(2)} % over ${facts.calculationsConsidered} calculation(s); at least ${MIN_ACCURACY_BASIS_POINTS / 100} % is required`,
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
