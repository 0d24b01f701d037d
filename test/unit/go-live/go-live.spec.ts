import fc from 'fast-check';
import { DomainError } from '../../../src/errors/proofline-error';
import { preflight, type GoLiveCommand } from '../../../src/go-live/decide';
import { ALERT_SEVERITIES, GO_LIVE_EVENT_TYPES, GO_LIVE_SCHEMA_VERSIONS, MIN_ACCURACY_BASIS_POINTS, type AlertSeverity, type GoLiveEvent, type PreflightCheck, type PreflightFacts } from '../../../src/go-live/events';
import { goLiveDecider } from '../../../src/go-live/go-live.decider';
import { initialGoLiveState, type GoLiveState } from '../../../src/go-live/state';
import { decide, givenWhenThen } from '../../support/given-when-then';
import { deepFreeze } from '../../support/deep-freeze';

const { given } = givenWhenThen(goLiveDecider);

/** Facts that pass every check. */
const GOOD: PreflightFacts = { setupMissingSteps: [], approvalsCompleted: 2, approvalsPending: 0, recentAccuracyBasisPoints: 9200, calculationsConsidered: 5 };
/** Facts that fail every check the facts decide (the fourth, no critical alert, comes from the state). */
const BAD: PreflightFacts = { setupMissingSteps: ['BASELINE', 'TESTING'], approvalsCompleted: 0, approvalsPending: 1, recentAccuracyBasisPoints: null, calculationsConsidered: 0 };

// The checks, written out: passing ones for GOOD, failing ones as each failure says it.
const SETUP_OK: PreflightCheck = { check: 'setup-complete', passed: true, message: 'all five setup steps passed' };
const APPROVALS_OK: PreflightCheck = { check: 'approvals-complete', passed: true, message: '2 approval(s) completed, none pending' };
const ACCURACY_OK: PreflightCheck = { check: 'measurement-accuracy', passed: true, message: 'recent measurement accuracy 92.00 % over 5 calculation(s); at least 85 % is required' };
const ALERTS_OK: PreflightCheck = { check: 'no-critical-alert', passed: true, message: 'no critical alert is open' };
const GOOD_CHECKS = [SETUP_OK, APPROVALS_OK, ACCURACY_OK, ALERTS_OK];
const setupFailed = (steps: string): PreflightCheck => ({ check: 'setup-complete', passed: false, message: `setup steps not passed: ${steps}` });
const approvalsFailed = (message: string): PreflightCheck => ({ check: 'approvals-complete', passed: false, message });
const accuracyFailed = (message: string): PreflightCheck => ({ check: 'measurement-accuracy', passed: false, message });
const alertsFailed = (ids: string): PreflightCheck => ({ check: 'no-critical-alert', passed: false, message: `critical alert(s) open: ${ids}` });

// Events
const raised = (alertId: string, severity: AlertSeverity = 'critical', message = `alert ${alertId}`): GoLiveEvent => ({ type: 'go-live.alert-raised', data: { alertId, severity, message } });
const resolved = (alertId: string, resolution = 'fixed'): GoLiveEvent => ({ type: 'go-live.alert-resolved', data: { alertId, resolution } });
const activated = (facts: PreflightFacts = GOOD, checks: PreflightCheck[] = GOOD_CHECKS): GoLiveEvent => ({ type: 'go-live.activated', data: { facts, checks } });

// Commands
const raise = (alertId: string, severity: AlertSeverity = 'critical', message = `alert ${alertId}`): GoLiveCommand => ({ type: 'RaiseAlert', alertId, severity, message });
const resolve = (alertId: string, resolution = 'fixed'): GoLiveCommand => ({ type: 'ResolveAlert', alertId, resolution });
const activate = (facts: PreflightFacts = GOOD): GoLiveCommand => ({ type: 'ActivateGoLive', facts });

const ALERT_EXISTS = { code: 'ALERT.ALREADY_EXISTS', status: 409 } as const;
const ALERT_NOT_FOUND = { code: 'ALERT.NOT_FOUND', status: 404 } as const;
const ALREADY_LIVE = { code: 'GO_LIVE.ALREADY_LIVE', status: 409 } as const;
const PREFLIGHT_FAILED = { code: 'GO_LIVE.PREFLIGHT_FAILED', status: 422 } as const;

const histories = {
  'not live, no alerts': [] as GoLiveEvent[],
  'not live, a critical alert open': [raised('a-crit', 'critical')],
  'not live, two critical alerts open': [raised('a-crit', 'critical'), raised('a-crit2', 'critical')],
  'not live, a warning and an info alert open': [raised('a-warn', 'warning'), raised('a-info', 'info')],
  'not live, a critical alert resolved': [raised('a-crit', 'critical'), resolved('a-crit')],
  live: [activated()],
  'live, a critical alert raised since': [activated(), raised('a-crit', 'critical')],
};
type History = keyof typeof histories;

type Refusal = { readonly code: string; readonly status: number; readonly failedChecks?: readonly PreflightCheck[]; readonly checks?: readonly PreflightCheck[] };
type Expected = readonly GoLiveEvent[] | Refusal;
interface Scenario {
  readonly given: History;
  readonly when: string;
  readonly command: GoLiveCommand;
  readonly then: Expected;
}
const scenario = (history: History, when: string, command: GoLiveCommand, then: Expected): Scenario => ({ given: history, when, command, then });
/** Refused with exactly these failed checks, out of these four. */
const refused = (checks: readonly PreflightCheck[]): Refusal => ({ ...PREFLIGHT_FAILED, failedChecks: checks.filter((c) => !c.passed), checks });

const HISTORIES = Object.keys(histories) as History[];
const NOT_LIVE = HISTORIES.filter((history) => !history.startsWith('live'));
const LIVE = HISTORIES.filter((history) => history.startsWith('live'));

const scenarios: Scenario[] = [
  // alerts, in every state (live or not)
  ...HISTORIES.flatMap((history) => [
    scenario(history, 'RaiseAlert (new, critical)', raise('a-new', 'critical', 'meter offline'), [raised('a-new', 'critical', 'meter offline')]),
    scenario(history, 'RaiseAlert (new, warning)', raise('a-new', 'warning'), [raised('a-new', 'warning')]),
    scenario(history, 'RaiseAlert (new, info)', raise('a-new', 'info'), [raised('a-new', 'info')]),
    scenario(history, 'ResolveAlert (unknown)', resolve('a-unknown'), ALERT_NOT_FOUND),
  ]),
  scenario('not live, a critical alert open', 'RaiseAlert (same id)', raise('a-crit'), ALERT_EXISTS),
  scenario('not live, a critical alert open', 'RaiseAlert (same id, other severity)', raise('a-crit', 'info'), ALERT_EXISTS),
  scenario('not live, a critical alert open', 'ResolveAlert', resolve('a-crit', 'restarted'), [resolved('a-crit', 'restarted')]),
  scenario('not live, two critical alerts open', 'ResolveAlert (one of two)', resolve('a-crit2'), [resolved('a-crit2')]),
  scenario('not live, a warning and an info alert open', 'ResolveAlert (warning)', resolve('a-warn'), [resolved('a-warn')]),
  scenario('not live, a warning and an info alert open', 'RaiseAlert (same id as the warning)', raise('a-warn', 'critical'), ALERT_EXISTS),
  scenario('not live, a critical alert resolved', 'ResolveAlert (again: no-op)', resolve('a-crit', 'again'), []),
  scenario('not live, a critical alert resolved', 'RaiseAlert (a resolved id is not reused)', raise('a-crit'), ALERT_EXISTS),
  scenario('live', 'RaiseAlert (the same id as a resolved one elsewhere is new here)', raise('a-crit'), [raised('a-crit')]),
  scenario('live, a critical alert raised since', 'ResolveAlert', resolve('a-crit'), [resolved('a-crit')]),
  scenario('live, a critical alert raised since', 'RaiseAlert (same id)', raise('a-crit'), ALERT_EXISTS),

  // go-live: all good
  scenario('not live, no alerts', 'ActivateGoLive (every check passes)', activate(GOOD), [activated(GOOD, GOOD_CHECKS)]),
  scenario('not live, a warning and an info alert open', 'ActivateGoLive (only critical alerts block)', activate(GOOD), [activated(GOOD, GOOD_CHECKS)]),
  scenario('not live, a critical alert resolved', 'ActivateGoLive (the critical alert was resolved)', activate(GOOD), [activated(GOOD, GOOD_CHECKS)]),
  scenario('not live, no alerts', 'ActivateGoLive (accuracy exactly 85.00 %, one calculation)', activate({ ...GOOD, recentAccuracyBasisPoints: 8500, calculationsConsidered: 1 }), [
    activated({ ...GOOD, recentAccuracyBasisPoints: 8500, calculationsConsidered: 1 }, [
      SETUP_OK,
      APPROVALS_OK,
      { check: 'measurement-accuracy', passed: true, message: 'recent measurement accuracy 85.00 % over 1 calculation(s); at least 85 % is required' },
      ALERTS_OK,
    ]),
  ]),

  // go-live: each failed check alone
  scenario('not live, no alerts', 'ActivateGoLive (setup incomplete)', activate({ ...GOOD, setupMissingSteps: ['TESTING'] }), refused([setupFailed('TESTING'), APPROVALS_OK, ACCURACY_OK, ALERTS_OK])),
  scenario('not live, no alerts', 'ActivateGoLive (setup: nothing passed)', activate({ ...GOOD, setupMissingSteps: ['API_INTEGRATION', 'DATA_SOURCE', 'METRICS_CONFIGURATION', 'BASELINE', 'TESTING'] }), refused([
    setupFailed('API_INTEGRATION, DATA_SOURCE, METRICS_CONFIGURATION, BASELINE, TESTING'),
    APPROVALS_OK,
    ACCURACY_OK,
    ALERTS_OK,
  ])),
  scenario('not live, no alerts', 'ActivateGoLive (no completed approval)', activate({ ...GOOD, approvalsCompleted: 0 }), refused([
    SETUP_OK,
    approvalsFailed('no value definition has a completed approval'),
    ACCURACY_OK,
    ALERTS_OK,
  ])),
  scenario('not live, no alerts', 'ActivateGoLive (an approval pending)', activate({ ...GOOD, approvalsPending: 3 }), refused([SETUP_OK, approvalsFailed('3 approval(s) still pending'), ACCURACY_OK, ALERTS_OK])),
  scenario('not live, no alerts', 'ActivateGoLive (none completed, some pending)', activate({ ...GOOD, approvalsCompleted: 0, approvalsPending: 1 }), refused([
    SETUP_OK,
    approvalsFailed('no value definition has a completed approval'),
    ACCURACY_OK,
    ALERTS_OK,
  ])),
  scenario('not live, no alerts', 'ActivateGoLive (no calculation yet)', activate({ ...GOOD, recentAccuracyBasisPoints: null, calculationsConsidered: 0 }), refused([
    SETUP_OK,
    APPROVALS_OK,
    accuracyFailed('no value calculation has been recorded yet'),
    ALERTS_OK,
  ])),
  scenario('not live, no alerts', 'ActivateGoLive (accuracy 84.99 %)', activate({ ...GOOD, recentAccuracyBasisPoints: 8499 }), refused([
    SETUP_OK,
    APPROVALS_OK,
    accuracyFailed('recent measurement accuracy 84.99 % over 5 calculation(s); at least 85 % is required'),
    ALERTS_OK,
  ])),
  scenario('not live, no alerts', 'ActivateGoLive (accuracy 0)', activate({ ...GOOD, recentAccuracyBasisPoints: 0 }), refused([
    SETUP_OK,
    APPROVALS_OK,
    accuracyFailed('recent measurement accuracy 0.00 % over 5 calculation(s); at least 85 % is required'),
    ALERTS_OK,
  ])),
  scenario('not live, a critical alert open', 'ActivateGoLive (a critical alert open)', activate(GOOD), refused([SETUP_OK, APPROVALS_OK, ACCURACY_OK, alertsFailed('a-crit')])),
  scenario('not live, two critical alerts open', 'ActivateGoLive (two critical alerts open)', activate(GOOD), refused([SETUP_OK, APPROVALS_OK, ACCURACY_OK, alertsFailed('a-crit, a-crit2')])),

  // go-live: everything wrong at once, every failure listed
  scenario('not live, a critical alert open', 'ActivateGoLive (all four checks fail)', activate(BAD), refused([
    setupFailed('BASELINE, TESTING'),
    approvalsFailed('no value definition has a completed approval'),
    accuracyFailed('no value calculation has been recorded yet'),
    alertsFailed('a-crit'),
  ])),
  scenario('not live, no alerts', 'ActivateGoLive (the three fact checks fail)', activate(BAD), refused([
    setupFailed('BASELINE, TESTING'),
    approvalsFailed('no value definition has a completed approval'),
    accuracyFailed('no value calculation has been recorded yet'),
    ALERTS_OK,
  ])),
  scenario('not live, a warning and an info alert open', 'ActivateGoLive (bad facts, no critical alert)', activate(BAD), refused([
    setupFailed('BASELINE, TESTING'),
    approvalsFailed('no value definition has a completed approval'),
    accuracyFailed('no value calculation has been recorded yet'),
    ALERTS_OK,
  ])),
  scenario('not live, a critical alert resolved', 'ActivateGoLive (bad facts)', activate(BAD), refused([
    setupFailed('BASELINE, TESTING'),
    approvalsFailed('no value definition has a completed approval'),
    accuracyFailed('no value calculation has been recorded yet'),
    ALERTS_OK,
  ])),

  // live: once is enough, whatever the facts
  ...LIVE.flatMap((history) => [
    scenario(history, 'ActivateGoLive (good facts)', activate(GOOD), ALREADY_LIVE),
    scenario(history, 'ActivateGoLive (bad facts: already live is checked first)', activate(BAD), ALREADY_LIVE),
  ]),
];

const describeThen = (then: Expected) => ('code' in then ? `${then.code} (${then.status})${then.failedChecks ? ` [${then.failedChecks.map((c) => c.check).join(', ')}]` : ''}` : `[${then.map((event) => event.type).join(', ')}]`);

describe('go-live aggregate: given events, when command, then events | error code', () => {
  it.each(scenarios.map((s) => [s.given, s.when, describeThen(s.then), s] as const))('given %s, when %s, then %s', (_given, _when, _then, s) => {
    const step = given(histories[s.given]).when(s.command);
    if ('code' in s.then) {
      const error = step.thenRejects(s.then.code, s.then.status);
      expect(error).toBeInstanceOf(DomainError);
      if (s.then.failedChecks) expect(error.details).toEqual({ failedChecks: s.then.failedChecks, checks: s.then.checks });
    } else step.then(s.then);
  });

  it('covers every state × every command', () => {
    const commandTypes = new Set<GoLiveCommand['type']>(['RaiseAlert', 'ResolveAlert', 'ActivateGoLive']);
    for (const history of HISTORIES) expect({ history, commands: new Set(scenarios.filter((s) => s.given === history).map((s) => s.command.type)) }).toEqual({ history, commands: commandTypes });
    expect(NOT_LIVE.length + LIVE.length).toBe(HISTORIES.length);
  });

  it('covers each failed check alone, and all four together', () => {
    const failedSets = scenarios.flatMap((s) => ('code' in s.then && s.then.failedChecks ? [s.then.failedChecks.map((c) => c.check).join(',')] : []));
    for (const alone of ['setup-complete', 'approvals-complete', 'measurement-accuracy', 'no-critical-alert']) expect(failedSets).toContain(alone);
    expect(failedSets).toContain('setup-complete,approvals-complete,measurement-accuracy,no-critical-alert');
  });

  describe('error details', () => {
    it('PREFLIGHT_FAILED says every failure in its message, in check order', () => {
      const error = given(histories['not live, a critical alert open']).when(activate(BAD)).thenRejects(PREFLIGHT_FAILED.code, 422);
      expect(error.message).toBe(
        'go-live refused: setup steps not passed: BASELINE, TESTING; no value definition has a completed approval; no value calculation has been recorded yet; critical alert(s) open: a-crit',
      );
    });

    it('ALERT.ALREADY_EXISTS and ALERT.NOT_FOUND name the alert; ALREADY_LIVE carries no details', () => {
      expect(given(histories['not live, a critical alert open']).when(raise('a-crit')).thenRejects(ALERT_EXISTS.code, 409).details).toEqual({ alertId: 'a-crit' });
      expect(given([]).when(resolve('a-9')).thenRejects(ALERT_NOT_FOUND.code, 404).details).toEqual({ alertId: 'a-9' });
      expect(given(histories.live).when(activate()).thenRejects(ALREADY_LIVE.code, 409).details).toEqual({});
    });

    it(`the accuracy minimum is ${MIN_ACCURACY_BASIS_POINTS / 100} %`, () => {
      expect(MIN_ACCURACY_BASIS_POINTS).toBe(8500);
    });
  });

  describe('alert ids that are also names of object properties', () => {
    it.each(['constructor', 'toString', '__proto__'])('resolving the resolved alert "%s" again is a no-op', (alertId) => {
      given([raised(alertId), resolved(alertId)]).when(resolve(alertId)).then([]);
    });
  });

  describe('state', () => {
    it('folds alerts: open ones by id with their severity, every id ever raised; live after activation', () => {
      expect(given([raised('a-1', 'critical'), raised('a-2', 'warning'), resolved('a-1'), activated(), raised('a-3', 'info')]).state).toEqual({
        live: true,
        openAlerts: { 'a-2': 'warning', 'a-3': 'info' },
        knownAlerts: ['a-1', 'a-2', 'a-3'],
      });
      expect(given([]).state).toEqual(initialGoLiveState);
    });

    it('preflight runs every check, in order, passed or not', () => {
      expect(preflight(GOOD, initialGoLiveState).map((c) => c.check)).toEqual(['setup-complete', 'approvals-complete', 'measurement-accuracy', 'no-critical-alert']);
      expect(preflight(BAD, given(histories['not live, a critical alert open']).state).every((c) => !c.passed)).toBe(true);
    });

    it('decide does not mutate the state it is given', () => {
      for (const history of HISTORIES) {
        const state = deepFreeze(given(histories[history]).state);
        const before = JSON.stringify(state);
        for (const s of scenarios) expect(() => decide(goLiveDecider, s.command, state)).not.toThrow();
        expect(JSON.stringify(state)).toBe(before);
      }
    });

    it('is the golive stream, every event at schema version 1', () => {
      expect(goLiveDecider.category).toBe('golive');
      expect(GO_LIVE_EVENT_TYPES).toEqual(['go-live.alert-raised', 'go-live.alert-resolved', 'go-live.activated']);
      expect(Object.values(GO_LIVE_SCHEMA_VERSIONS)).toEqual([1, 1, 1]);
      expect(goLiveDecider.upcasters).toEqual({});
    });
  });
});

describe('go-live aggregate: properties', () => {
  const alertId = fc.constantFrom('a-1', 'a-2', 'a-3', 'a-4');
  const facts: fc.Arbitrary<PreflightFacts> = fc.record({
    setupMissingSteps: fc.subarray(['API_INTEGRATION', 'DATA_SOURCE', 'METRICS_CONFIGURATION', 'BASELINE', 'TESTING']),
    approvalsCompleted: fc.integer({ min: 0, max: 3 }),
    approvalsPending: fc.integer({ min: 0, max: 2 }),
    recentAccuracyBasisPoints: fc.option(fc.integer({ min: 8000, max: 10000 })),
    calculationsConsidered: fc.integer({ min: 0, max: 5 }),
  });
  const command: fc.Arbitrary<GoLiveCommand> = fc.oneof(
    fc.record({ type: fc.constant('RaiseAlert' as const), alertId, severity: fc.constantFrom(...ALERT_SEVERITIES), message: fc.constant('m') }),
    fc.record({ type: fc.constant('ResolveAlert' as const), alertId, resolution: fc.constant('r') }),
    fc.record({ type: fc.constant('ActivateGoLive' as const), facts }),
  );

  it('goes live only when every check passes and only once; refusals list exactly the failed checks; replay = live', () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 30 }), (commands) => {
        let live: GoLiveState = goLiveDecider.initialState;
        const emitted: GoLiveEvent[] = [];
        // an independent model of the alerts
        const open = new Map<string, AlertSeverity>();
        const known = new Set<string>();
        let isLive = false;
        for (const next of commands) {
          const outcome = decide(goLiveDecider, next, live);
          if (next.type === 'ActivateGoLive') {
            const failed = [
              next.facts.setupMissingSteps.length > 0 && 'setup-complete',
              !(next.facts.approvalsCompleted > 0 && next.facts.approvalsPending === 0) && 'approvals-complete',
              !(next.facts.recentAccuracyBasisPoints !== null && next.facts.recentAccuracyBasisPoints >= 8500) && 'measurement-accuracy',
              [...open.values()].includes('critical') && 'no-critical-alert',
            ].filter((check): check is string => check !== false);
            if (isLive) expect('rejected' in outcome && outcome.rejected.code).toBe(ALREADY_LIVE.code);
            else if (failed.length > 0) {
              if (!('rejected' in outcome)) throw new Error(`went live despite ${failed.join(', ')}`);
              expect(outcome.rejected.code).toBe(PREFLIGHT_FAILED.code);
              expect((outcome.rejected.details.failedChecks as PreflightCheck[]).map((c) => c.check)).toEqual(failed);
            } else {
              expect(outcome).toEqual({ events: [{ type: 'go-live.activated', data: { facts: next.facts, checks: expect.any(Array) } }] });
              isLive = true;
            }
          }
          if (next.type === 'RaiseAlert') {
            expect('rejected' in outcome ? outcome.rejected.code : null).toBe(known.has(next.alertId) ? ALERT_EXISTS.code : null);
            if (!known.has(next.alertId)) open.set(next.alertId, next.severity);
            known.add(next.alertId);
          }
          if (next.type === 'ResolveAlert') {
            if (!known.has(next.alertId)) expect('rejected' in outcome && outcome.rejected.code).toBe(ALERT_NOT_FOUND.code);
            else expect(outcome).toEqual({ events: open.has(next.alertId) ? [resolved(next.alertId, 'r')] : [] });
            open.delete(next.alertId);
          }
          if ('rejected' in outcome) continue;
          live = outcome.events.reduce(goLiveDecider.evolve, live);
          emitted.push(...outcome.events);
        }
        expect(live).toEqual({ live: isLive, openAlerts: Object.fromEntries(open), knownAlerts: expect.any(Array) });
        expect(new Set(live.knownAlerts)).toEqual(known);
        expect(emitted.filter((event) => event.type === 'go-live.activated').length).toBe(isLive ? 1 : 0);
        expect(emitted.reduce(goLiveDecider.evolve, goLiveDecider.initialState)).toEqual(live);
      }),
      { numRuns: 300 },
    );
  });
});
