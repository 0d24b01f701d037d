import fc from 'fast-check';
import { DomainError } from '../../../src/errors/proofline-error';
import { preflight, type GoLiveCommand } from '../../../src/go-live/decide';
import {
  ALERT_SEVERITIES,
  GO_LIVE_EVENT_TYPES,
  GO_LIVE_SCHEMA_VERSIONS,
  MIN_ACCURACY_BASIS_POINTS,
  PREFLIGHT_CHECKS,
  type AlertSeverity,
  type GoLiveEvent,
  type PreflightCheck,
  type PreflightFacts,
} from '../../../src/go-live/events';
import { goLiveDecider } from '../../../src/go-live/go-live.decider';
import { initialGoLiveState, type GoLiveState } from '../../../src/go-live/state';
import { decide, givenWhenThen } from '../../support/given-when-then';
import { deepFreeze } from '../../support/deep-freeze';

const { given } = givenWhenThen(goLiveDecider);

const measured = (definitionId: string, basisPoints: number) => ({
  definitionId,
  calculationStreamVersion: 2,
  measured: { definitionId, basisPoints, calculationIds: [`${definitionId}-oct`, `${definitionId}-nov`], quantity: 2000, sampleSize: 400, matchedSamples: Math.floor((basisPoints * 400) / 10_000) },
});
const CURRENT = { projector: 'approvals_current_v2', position: '120/120', state: 'running', pendingEvents: 0, scanned: 0, complete: true };

/** Facts that pass every check: two approved definitions measured at 92 % and 90 %, baselines agreeing. */
const GOOD: PreflightFacts = {
  decidedAt: '2026-12-05T03:00:00.000Z',
  setup: { streamVersion: 4, missingSteps: [], staleSteps: [] },
  approvals: {
    completed: [
      { definitionId: 'def-1', streamVersion: 5 },
      { definitionId: 'def-2', streamVersion: 5 },
    ],
    pending: [],
  },
  accuracy: [measured('def-1', 9200), measured('def-2', 9000)],
  baseline: {
    setup: 120000,
    definitions: [
      { definitionId: 'def-1', baseline: 120000 },
      { definitionId: 'def-2', baseline: 120000 },
    ],
  },
  projections: [CURRENT],
};
const with_ = (overrides: Partial<PreflightFacts>): PreflightFacts => ({ ...GOOD, ...overrides });
/** Facts that fail every check the facts decide (no-critical-alert comes from the state). */
const BAD: PreflightFacts = {
  decidedAt: GOOD.decidedAt,
  setup: { streamVersion: 6, missingSteps: ['BASELINE', 'TESTING'], staleSteps: ['TESTING'] },
  approvals: { completed: [], pending: [{ definitionId: 'def-3', streamVersion: 2, status: 'in-review' }] },
  accuracy: [],
  baseline: { setup: null, definitions: [] },
  projections: [{ ...CURRENT, pendingEvents: 3 }],
};

// The checks, written out: passing ones for GOOD, failing ones as each failure says it.
const PROJECTIONS_OK: PreflightCheck = { check: 'projections-current', passed: true, message: 'the read models have applied every event of this workspace' };
const SETUP_OK: PreflightCheck = { check: 'setup-complete', passed: true, message: 'all five setup steps passed' };
const APPROVALS_OK: PreflightCheck = { check: 'approvals-complete', passed: true, message: '2 approval(s) completed, none pending' };
const BASELINE_OK: PreflightCheck = { check: 'baseline-matches', passed: true, message: 'every approved definition has the setup baseline 120000' };
const ACCURACY_OK: PreflightCheck = {
  check: 'measurement-accuracy',
  passed: true,
  message:
    'every approved definition is measured at 85 % or more: def-1: 92.00 % (368 of 400 samples over 2 period(s), weighted by quantity); def-2: 90.00 % (360 of 400 samples over 2 period(s), weighted by quantity)',
};
const ALERTS_OK: PreflightCheck = { check: 'no-critical-alert', passed: true, message: 'no critical alert is open' };
const GOOD_CHECKS = [PROJECTIONS_OK, SETUP_OK, APPROVALS_OK, BASELINE_OK, ACCURACY_OK, ALERTS_OK];
const failed = (check: PreflightCheck['check'], message: string): PreflightCheck => ({ check, passed: false, message });
const replace = (checks: PreflightCheck[], ...others: PreflightCheck[]) => checks.map((c) => others.find((o) => o.check === c.check) ?? c);

// Events
const raised = (alertId: string, severity: AlertSeverity = 'critical', message = `alert ${alertId}`): GoLiveEvent => ({ type: 'go-live.alert-raised', data: { alertId, severity, message } });
const resolved = (alertId: string, resolution = 'fixed'): GoLiveEvent => ({ type: 'go-live.alert-resolved', data: { alertId, resolution } });
const activated = (facts: PreflightFacts = GOOD, checks: PreflightCheck[] = GOOD_CHECKS): GoLiveEvent => ({ type: 'go-live.activated', data: { facts, checks } });
const suspended = (alertId: string): GoLiveEvent => ({ type: 'go-live.billing-suspended', data: { alertIds: [alertId] } });
const resumed = (alertId: string): GoLiveEvent => ({ type: 'go-live.billing-resumed', data: { alertId } });

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
  'live, billing suspended by a critical alert': [activated(), raised('a-crit', 'critical'), suspended('a-crit')],
  'live, billing suspended by two critical alerts': [activated(), raised('a-crit', 'critical'), suspended('a-crit'), raised('a-crit2', 'critical')],
  'live, a warning open': [activated(), raised('a-warn', 'warning')],
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
const refused = (checks: readonly PreflightCheck[]): Refusal => ({ ...PREFLIGHT_FAILED, failedChecks: checks.filter((c) => !c.passed), checks });

const HISTORIES = Object.keys(histories) as History[];
const NOT_LIVE = HISTORIES.filter((history) => !history.startsWith('live'));
const LIVE = HISTORIES.filter((history) => history.startsWith('live'));

const NO_APPROVAL = failed('approvals-complete', 'no value definition has a completed approval');
const BAD_CHECKS = [
  failed('projections-current', 'read model(s) behind, try again shortly: approvals_current_v2 (running, 3 event(s) not applied)'),
  failed('setup-complete', 'setup steps not passed: BASELINE, TESTING (stale since an earlier step was recorded again: TESTING)'),
  NO_APPROVAL,
  failed('baseline-matches', 'no setup baseline has passed'),
  failed('measurement-accuracy', 'no approved definition to measure'),
];

const scenarios: Scenario[] = [
  // alerts, in every state
  ...HISTORIES.flatMap((history) => [
    scenario(history, 'RaiseAlert (new, warning)', raise('a-new', 'warning'), [raised('a-new', 'warning')]),
    scenario(history, 'RaiseAlert (new, info)', raise('a-new', 'info'), [raised('a-new', 'info')]),
    scenario(history, 'ResolveAlert (unknown)', resolve('a-unknown'), ALERT_NOT_FOUND),
  ]),
  ...NOT_LIVE.map((history) => scenario(history, 'RaiseAlert (new, critical: not live, nothing to suspend)', raise('a-new', 'critical', 'meter offline'), [raised('a-new', 'critical', 'meter offline')])),
  scenario('not live, a critical alert open', 'RaiseAlert (same id)', raise('a-crit'), ALERT_EXISTS),
  scenario('not live, a critical alert open', 'ResolveAlert', resolve('a-crit', 'restarted'), [resolved('a-crit', 'restarted')]),
  scenario('not live, two critical alerts open', 'ResolveAlert (one of two)', resolve('a-crit2'), [resolved('a-crit2')]),
  scenario('not live, a critical alert resolved', 'ResolveAlert (again: no-op)', resolve('a-crit', 'again'), []),
  scenario('not live, a critical alert resolved', 'RaiseAlert (a resolved id is not reused)', raise('a-crit'), ALERT_EXISTS),

  // live: a critical alert suspends billing (an event) until every critical alert is resolved
  scenario('live', 'RaiseAlert (critical)', raise('a-crit'), [raised('a-crit'), suspended('a-crit')]),
  scenario('live, a warning open', 'RaiseAlert (critical)', raise('a-crit'), [raised('a-crit'), suspended('a-crit')]),
  scenario('live, a warning open', 'ResolveAlert (the warning: billing was never suspended)', resolve('a-warn'), [resolved('a-warn')]),
  scenario('live, billing suspended by a critical alert', 'RaiseAlert (another critical: already suspended)', raise('a-crit2'), [raised('a-crit2')]),
  scenario('live, billing suspended by a critical alert', 'ResolveAlert (the critical one: billing resumes)', resolve('a-crit'), [resolved('a-crit'), resumed('a-crit')]),
  scenario('live, billing suspended by two critical alerts', 'ResolveAlert (one of two: still suspended)', resolve('a-crit'), [resolved('a-crit')]),
  scenario('live, billing suspended by a critical alert', 'RaiseAlert (same id)', raise('a-crit'), ALERT_EXISTS),

  // go-live: all good
  scenario('not live, no alerts', 'ActivateGoLive (every check passes)', activate(GOOD), [activated(GOOD, GOOD_CHECKS)]),
  scenario('not live, a warning and an info alert open', 'ActivateGoLive (only critical alerts block)', activate(GOOD), [activated(GOOD, GOOD_CHECKS)]),
  scenario('not live, a critical alert resolved', 'ActivateGoLive (the critical alert was resolved)', activate(GOOD), [activated(GOOD, GOOD_CHECKS)]),

  // go-live: each failed check alone
  scenario('not live, no alerts', 'ActivateGoLive (a read model is behind)', activate(with_({ projections: [{ ...CURRENT, pendingEvents: 2 }] })), refused(replace(GOOD_CHECKS, failed('projections-current', 'read model(s) behind, try again shortly: approvals_current_v2 (running, 2 event(s) not applied)')))),
  scenario('not live, no alerts', 'ActivateGoLive (a read model stopped)', activate(with_({ projections: [{ ...CURRENT, state: 'stopped' }] })), refused(replace(GOOD_CHECKS, failed('projections-current', 'read model(s) behind, try again shortly: approvals_current_v2 (stopped, 0 event(s) not applied)')))),
  scenario('not live, no alerts', 'ActivateGoLive (a read model further behind than scanned)', activate(with_({ projections: [{ ...CURRENT, pendingEvents: 1000, scanned: 1000, complete: false }] })), refused(replace(GOOD_CHECKS, failed('projections-current', 'read model(s) behind, try again shortly: approvals_current_v2 (running, over 1000 event(s) not applied)')))),
  scenario('not live, no alerts', 'ActivateGoLive (setup incomplete)', activate(with_({ setup: { streamVersion: 4, missingSteps: ['TESTING'], staleSteps: [] } })), refused(replace(GOOD_CHECKS, failed('setup-complete', 'setup steps not passed: TESTING')))),
  scenario('not live, no alerts', 'ActivateGoLive (setup: later steps stale)', activate(with_({ setup: { streamVersion: 6, missingSteps: ['BASELINE', 'TESTING'], staleSteps: ['BASELINE', 'TESTING'] } })), refused(replace(GOOD_CHECKS, failed('setup-complete', 'setup steps not passed: BASELINE, TESTING (stale since an earlier step was recorded again: BASELINE, TESTING)')))),
  scenario('not live, no alerts', 'ActivateGoLive (an approval pending)', activate(with_({ approvals: { ...GOOD.approvals, pending: [{ definitionId: 'def-3', streamVersion: 3, status: 'changes-requested' }] } })), refused(replace(GOOD_CHECKS, failed('approvals-complete', '1 approval(s) still pending: def-3')))),
  scenario('not live, no alerts', 'ActivateGoLive (a definition baseline differs from setup)', activate(with_({ baseline: { setup: 120000, definitions: [{ definitionId: 'def-1', baseline: 120000 }, { definitionId: 'def-2', baseline: 90000 }] } })), refused(replace(GOOD_CHECKS, failed('baseline-matches', 'the setup baseline is 120000; definition(s) differ: def-2 (90000)')))),
  scenario('not live, no alerts', 'ActivateGoLive (accuracy 84.99 % for one definition: per definition, not a mean)', activate(with_({ accuracy: [measured('def-1', 10000), measured('def-2', 8499)] })), refused(replace(GOOD_CHECKS, failed('measurement-accuracy', 'below 85 %: def-2: 84.99 % (339 of 400 samples over 2 period(s), weighted by quantity)')))),
  scenario('not live, no alerts', 'ActivateGoLive (a definition never measured)', activate(with_({ accuracy: [measured('def-1', 9500), { definitionId: 'def-2', calculationStreamVersion: null, measured: null }] })), refused(replace(GOOD_CHECKS, failed('measurement-accuracy', 'below 85 %: def-2: no ended period with measurement samples')))),
  scenario('not live, a critical alert open', 'ActivateGoLive (a critical alert open)', activate(GOOD), refused(replace(GOOD_CHECKS, failed('no-critical-alert', 'critical alert(s) open: a-crit')))),
  scenario('not live, two critical alerts open', 'ActivateGoLive (two critical alerts open)', activate(GOOD), refused(replace(GOOD_CHECKS, failed('no-critical-alert', 'critical alert(s) open: a-crit, a-crit2')))),
  scenario('not live, no alerts', 'ActivateGoLive (accuracy exactly 85.00 %)', activate(with_({ accuracy: [measured('def-1', 8500), measured('def-2', 8500)] })), [
    activated(with_({ accuracy: [measured('def-1', 8500), measured('def-2', 8500)] }), replace(GOOD_CHECKS, {
      check: 'measurement-accuracy',
      passed: true,
      message: 'every approved definition is measured at 85 % or more: def-1: 85.00 % (340 of 400 samples over 2 period(s), weighted by quantity); def-2: 85.00 % (340 of 400 samples over 2 period(s), weighted by quantity)',
    })),
  ]),

  // go-live: everything wrong at once, every failure listed
  scenario('not live, a critical alert open', 'ActivateGoLive (every check fails)', activate(BAD), refused([...BAD_CHECKS, failed('no-critical-alert', 'critical alert(s) open: a-crit')])),
  scenario('not live, no alerts', 'ActivateGoLive (the fact checks fail)', activate(BAD), refused([...BAD_CHECKS, ALERTS_OK])),

  // live: once is enough, whatever the facts
  ...LIVE.flatMap((history) => [scenario(history, 'ActivateGoLive (good facts)', activate(GOOD), ALREADY_LIVE), scenario(history, 'ActivateGoLive (bad facts: already live is checked first)', activate(BAD), ALREADY_LIVE)]),
  // billing time zone
  scenario('not live, no alerts', 'SetBillingTimeZone (Europe/Berlin)', { type: 'SetBillingTimeZone', timeZone: 'Europe/Berlin' }, [{ type: 'go-live.billing-time-zone-set', data: { timeZone: 'Europe/Berlin' } }]),
  scenario('live', 'SetBillingTimeZone (UTC, as already: no-op)', { type: 'SetBillingTimeZone', timeZone: 'UTC' }, []),
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

  it('covers each failed check alone, and all of them together', () => {
    const failedSets = scenarios.flatMap((s) => ('code' in s.then && s.then.failedChecks ? [s.then.failedChecks.map((c) => c.check).join(',')] : []));
    for (const alone of PREFLIGHT_CHECKS) expect(failedSets).toContain(alone);
    expect(failedSets).toContain(PREFLIGHT_CHECKS.join(','));
  });

  it('PREFLIGHT_FAILED says every failure in its message, in check order', () => {
    const error = given(histories['not live, a critical alert open']).when(activate(BAD)).thenRejects(PREFLIGHT_FAILED.code, 422);
    expect(error.message).toBe(`go-live refused: ${[...BAD_CHECKS.map((c) => c.message), 'critical alert(s) open: a-crit'].join('; ')}`);
  });

  it(`the accuracy minimum is ${MIN_ACCURACY_BASIS_POINTS / 100} %`, () => {
    expect(MIN_ACCURACY_BASIS_POINTS).toBe(8500);
  });

  describe('state', () => {
    it('folds alerts, the billing time zone, live and suspended billing', () => {
      expect(given([raised('a-1', 'critical'), raised('a-2', 'warning'), resolved('a-1'), activated(), raised('a-3', 'critical'), suspended('a-3')]).state).toEqual({
        live: true,
        openAlerts: { 'a-2': 'warning', 'a-3': 'critical' },
        knownAlerts: ['a-1', 'a-2', 'a-3'],
        billingSuspended: true,
        billingTimeZone: 'UTC',
      });
      expect(given([...histories['live, billing suspended by a critical alert'], resolved('a-crit'), resumed('a-crit')]).state.billingSuspended).toBe(false);
      expect(given([]).state).toEqual(initialGoLiveState);
    });

    it('preflight runs every check, in order, passed or not', () => {
      expect(preflight(GOOD, initialGoLiveState).map((c) => c.check)).toEqual([...PREFLIGHT_CHECKS]);
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

    it('is the golive stream; go-live.activated at schema version 2 (ids and positions), its version-1 facts read as recorded', () => {
      expect(goLiveDecider.category).toBe('golive');
      expect(GO_LIVE_EVENT_TYPES).toEqual(['go-live.alert-raised', 'go-live.alert-resolved', 'go-live.activated', 'go-live.billing-time-zone-set', 'go-live.billing-suspended', 'go-live.billing-resumed']);
      expect(GO_LIVE_SCHEMA_VERSIONS['go-live.activated']).toBe(2);
      const old = { facts: { setupMissingSteps: [], approvalsCompleted: 1 }, checks: [] };
      expect(goLiveDecider.upcasters['go-live.activated'][0](old)).toEqual(old);
    });
  });
});

describe('go-live aggregate: properties', () => {
  const alertId = fc.constantFrom('a-1', 'a-2', 'a-3', 'a-4');
  const facts: fc.Arbitrary<PreflightFacts> = fc.constantFrom(GOOD, BAD, with_({ accuracy: [measured('def-1', 8000)] }));
  const command: fc.Arbitrary<GoLiveCommand> = fc.oneof(
    fc.record({ type: fc.constant('RaiseAlert' as const), alertId, severity: fc.constantFrom(...ALERT_SEVERITIES), message: fc.constant('m') }),
    fc.record({ type: fc.constant('ResolveAlert' as const), alertId, resolution: fc.constant('r') }),
    fc.record({ type: fc.constant('ActivateGoLive' as const), facts }),
  );

  it('live billing is suspended exactly while a critical alert is open; goes live once, only when every check passes; replay = live', () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 30 }), (commands) => {
        let live: GoLiveState = goLiveDecider.initialState;
        const emitted: GoLiveEvent[] = [];
        for (const next of commands) {
          const outcome = decide(goLiveDecider, next, live);
          if (next.type === 'ActivateGoLive' && !live.live && !('rejected' in outcome)) expect(preflight(next.facts, live).every((c) => c.passed)).toBe(true);
          if ('rejected' in outcome) continue;
          live = outcome.events.reduce(goLiveDecider.evolve, live);
          emitted.push(...outcome.events);
          const criticalOpen = Object.values(live.openAlerts).includes('critical');
          expect(live.billingSuspended).toBe(live.live && criticalOpen);
        }
        expect(emitted.filter((event) => event.type === 'go-live.activated').length).toBe(live.live ? 1 : 0);
        expect(emitted.reduce(goLiveDecider.evolve, goLiveDecider.initialState)).toEqual(live);
      }),
      { numRuns: 300 },
    );
  });
});
