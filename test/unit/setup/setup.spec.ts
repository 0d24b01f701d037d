import fc from 'fast-check';
import type { JsonObject } from '../../../contracts';
import { TESTING_MIN_ACCURACY, TESTING_MIN_SAMPLES, type SetupCommand } from '../../../src/setup/decide';
import { SETUP_EVENT_TYPES, SETUP_SCHEMA_VERSIONS, SETUP_STEPS, type SetupCheck, type SetupEvent, type SetupStep } from '../../../src/setup/events';
import { setupDecider } from '../../../src/setup/setup.decider';
import { initialSetupState, stepDone, type SetupState } from '../../../src/setup/state';
import { DomainError } from '../../../src/errors/proofline-error';
import { decide, givenWhenThen } from '../../support/given-when-then';
import { deepFreeze } from '../../support/deep-freeze';

const { given } = givenWhenThen(setupDecider);

/** Each check and the rule its message states. */
const RULES = {
  'endpoint-https': 'endpointUrl is an https:// URL',
  'auth-type': 'authType is api-key or oauth2',
  kind: 'kind is postgres, bigquery, s3 or api',
  'connection-name': 'connectionName names the connection',
  'field-mappings': 'fieldMappings lists at least one {source, metric}',
  period: 'periodStart is before periodEnd (ISO-8601 dates)',
  value: 'value is a whole number ≥ 0',
  sample: 'sampleSize ≥ 100 and 0 ≤ matchedSamples ≤ sampleSize',
  accuracy: 'matchedSamples / sampleSize is at least 85 %',
} as const;
type CheckName = keyof typeof RULES;

/** The checks of each step, in the order they are recorded. */
const CHECKS_OF: Record<SetupStep, readonly CheckName[]> = {
  API_INTEGRATION: ['endpoint-https', 'auth-type'],
  DATA_SOURCE: ['kind', 'connection-name'],
  METRICS_CONFIGURATION: ['field-mappings'],
  BASELINE: ['period', 'value'],
  TESTING: ['sample', 'accuracy'],
};

const check = (name: CheckName, passed: boolean): SetupCheck => ({ check: name, passed, message: `${passed ? 'ok' : 'failed'}: ${RULES[name]}` });

/** The event for a step recorded with this configuration, its checks passing or failing as listed (in CHECKS_OF order). */
const recorded = (step: SetupStep, configuration: JsonObject, passes: readonly boolean[] = CHECKS_OF[step].map(() => true)): SetupEvent => {
  const checks = CHECKS_OF[step].map((name, i) => check(name, passes[i]));
  return { type: 'setup.step-recorded', data: { step, configuration, passed: checks.every((c) => c.passed), checks } };
};
const record = (step: SetupStep, configuration: JsonObject): SetupCommand => ({ type: 'RecordSetupStep', step, configuration });

const PASSING: Record<SetupStep, JsonObject> = {
  API_INTEGRATION: { endpointUrl: 'https://api.acme.test/v1', authType: 'api-key' },
  DATA_SOURCE: { kind: 'postgres', connectionName: 'warehouse' },
  METRICS_CONFIGURATION: { fieldMappings: [{ source: 'kwh_total', metric: 'energy' }] },
  BASELINE: { periodStart: '2025-01-01', periodEnd: '2025-12-31', value: 120000 },
  TESTING: { sampleSize: 100, matchedSamples: 92 },
};
const FAILING: Record<SetupStep, JsonObject> = {
  API_INTEGRATION: { endpointUrl: 'http://api.acme.test', authType: 'basic' },
  DATA_SOURCE: { kind: 'mysql', connectionName: '' },
  METRICS_CONFIGURATION: { fieldMappings: [] },
  BASELINE: { periodStart: '2025-12-31', periodEnd: '2025-01-01', value: -1 },
  TESTING: { sampleSize: 100, matchedSamples: 50 },
};
const passed = (step: SetupStep) => recorded(step, PASSING[step]);
/** How FAILING's configurations fare, check by check. */
const FAILING_PASSES: Record<SetupStep, readonly boolean[]> = {
  API_INTEGRATION: [false, false],
  DATA_SOURCE: [false, false],
  METRICS_CONFIGURATION: [false],
  BASELINE: [false, false],
  TESTING: [true, false],
};
const failedAttempt = (step: SetupStep) => recorded(step, FAILING[step], FAILING_PASSES[step]);
function allPassedState(): SetupState {
  return { steps: Object.fromEntries(SETUP_STEPS.map((step) => [step, { passed: true, stale: false }])), baseline: { value: 120000, periodStart: '2025-01-01', periodEnd: '2025-12-31' } };
}
const upTo = (last: SetupStep) => SETUP_STEPS.slice(0, SETUP_STEPS.indexOf(last) + 1).map(passed);

const OUT_OF_ORDER = { code: 'SETUP.STEP_OUT_OF_ORDER', status: 409 } as const;

/** Each history with the steps that are done (latest attempt passed, no earlier step recorded since), written out by hand. */
const histories: Record<string, { readonly events: readonly SetupEvent[]; readonly passed: readonly SetupStep[] }> = {
  'nothing recorded': { events: [], passed: [] },
  'API_INTEGRATION failed': { events: [failedAttempt('API_INTEGRATION')], passed: [] },
  'API_INTEGRATION passed': { events: upTo('API_INTEGRATION'), passed: ['API_INTEGRATION'] },
  'API_INTEGRATION failed, then passed': { events: [failedAttempt('API_INTEGRATION'), passed('API_INTEGRATION')], passed: ['API_INTEGRATION'] },
  'up to DATA_SOURCE passed': { events: upTo('DATA_SOURCE'), passed: ['API_INTEGRATION', 'DATA_SOURCE'] },
  'up to DATA_SOURCE passed, METRICS_CONFIGURATION failed': {
    events: [...upTo('DATA_SOURCE'), failedAttempt('METRICS_CONFIGURATION')],
    passed: ['API_INTEGRATION', 'DATA_SOURCE'],
  },
  'up to METRICS_CONFIGURATION passed': { events: upTo('METRICS_CONFIGURATION'), passed: ['API_INTEGRATION', 'DATA_SOURCE', 'METRICS_CONFIGURATION'] },
  'up to BASELINE passed': { events: upTo('BASELINE'), passed: ['API_INTEGRATION', 'DATA_SOURCE', 'METRICS_CONFIGURATION', 'BASELINE'] },
  'up to BASELINE passed, TESTING failed': { events: [...upTo('BASELINE'), failedAttempt('TESTING')], passed: ['API_INTEGRATION', 'DATA_SOURCE', 'METRICS_CONFIGURATION', 'BASELINE'] },
  'all five passed': { events: upTo('TESTING'), passed: [...SETUP_STEPS] },
  // the later steps were checked against the old data source: they went stale
  'all five passed, then DATA_SOURCE re-recorded and failed': { events: [...upTo('TESTING'), failedAttempt('DATA_SOURCE')], passed: ['API_INTEGRATION'] },
  'all five passed, then DATA_SOURCE re-recorded and passed': { events: [...upTo('TESTING'), passed('DATA_SOURCE')], passed: ['API_INTEGRATION', 'DATA_SOURCE'] },
  'all five passed, then TESTING re-recorded and passed': { events: [...upTo('TESTING'), passed('TESTING')], passed: [...SETUP_STEPS] },
};
type History = keyof typeof histories;

type Expected = readonly SetupEvent[] | { readonly code: string; readonly status: number };
interface Scenario {
  readonly given: History;
  readonly when: string;
  readonly command: SetupCommand;
  readonly then: Expected;
  readonly missingSteps?: readonly SetupStep[];
}

/** In every history, each step: recorded (with its passing configuration) when the steps before it passed, refused otherwise. */
const orderScenarios: Scenario[] = Object.entries(histories).flatMap(([history, { passed: ok }]) =>
  SETUP_STEPS.map((step): Scenario => {
    const missingSteps = SETUP_STEPS.slice(0, SETUP_STEPS.indexOf(step)).filter((earlier) => !ok.includes(earlier));
    return missingSteps.length === 0
      ? { given: history, when: `${step} (passing)`, command: record(step, PASSING[step]), then: [passed(step)] }
      : { given: history, when: `${step} (passing, but ${missingSteps.join(', ')} not passed)`, command: record(step, PASSING[step]), then: OUT_OF_ORDER, missingSteps };
  }),
);

/** Each step's configurations, recorded right after the steps before it passed: whether each check (in CHECKS_OF order) passes. */
const configurations: Record<SetupStep, ReadonlyArray<readonly [string, JsonObject, readonly boolean[]]>> = {
  API_INTEGRATION: [
    ['api-key over https', { endpointUrl: 'https://api.acme.test/v1', authType: 'api-key' }, [true, true]],
    ['oauth2 over https, host only', { endpointUrl: 'https://api.acme.test', authType: 'oauth2' }, [true, true]],
    ['http endpoint', { endpointUrl: 'http://api.acme.test', authType: 'api-key' }, [false, true]],
    ['https:// with no host', { endpointUrl: 'https://', authType: 'api-key' }, [false, true]],
    ['https:/// (empty host)', { endpointUrl: 'https:///v1', authType: 'oauth2' }, [false, true]],
    ['endpointUrl not a string', { endpointUrl: 443, authType: 'api-key' }, [false, true]],
    ['basic auth', { endpointUrl: 'https://api.acme.test', authType: 'basic' }, [true, false]],
    ['authType in capitals', { endpointUrl: 'https://api.acme.test', authType: 'API-KEY' }, [true, false]],
    ['nothing configured', {}, [false, false]],
  ],
  DATA_SOURCE: [
    ['postgres', { kind: 'postgres', connectionName: 'warehouse' }, [true, true]],
    ['bigquery', { kind: 'bigquery', connectionName: 'bq' }, [true, true]],
    ['s3', { kind: 's3', connectionName: 'exports' }, [true, true]],
    ['api', { kind: 'api', connectionName: 'meter api' }, [true, true]],
    ['unknown kind', { kind: 'mysql', connectionName: 'db' }, [false, true]],
    ['kind in capitals', { kind: 'Postgres', connectionName: 'db' }, [false, true]],
    ['no kind', { connectionName: 'db' }, [false, true]],
    ['blank connection name', { kind: 's3', connectionName: '   ' }, [true, false]],
    ['connection name not a string', { kind: 's3', connectionName: 42 }, [true, false]],
    ['nothing configured', {}, [false, false]],
  ],
  METRICS_CONFIGURATION: [
    ['one mapping', { fieldMappings: [{ source: 'kwh_total', metric: 'energy' }] }, [true]],
    ['two mappings, extra fields', { fieldMappings: [{ source: 'a', metric: 'x', unit: 'kWh' }, { source: 'b', metric: 'y' }] }, [true]],
    ['no mappings', { fieldMappings: [] }, [false]],
    ['fieldMappings missing', {}, [false]],
    ['fieldMappings not a list', { fieldMappings: { source: 'a', metric: 'x' } }, [false]],
    ['a mapping without metric', { fieldMappings: [{ source: 'a' }] }, [false]],
    ['a mapping whose metric is a number', { fieldMappings: [{ source: 'a', metric: 1 }] }, [false]],
    ['a mapping that is a string', { fieldMappings: ['a'] }, [false]],
    ['a mapping that is null', { fieldMappings: [null] }, [false]],
    ['a mapping that is a list', { fieldMappings: [['a', 'x']] }, [false]],
    ['one good and one bad mapping', { fieldMappings: [{ source: 'a', metric: 'x' }, { metric: 'y' }] }, [false]],
  ],
  BASELINE: [
    ['a year', { periodStart: '2025-01-01', periodEnd: '2025-12-31', value: 120000 }, [true, true]],
    ['date-times a day apart, value 0', { periodStart: '2025-01-01T00:00:00Z', periodEnd: '2025-01-02T00:00:00Z', value: 0 }, [true, true]],
    ['empty period', { periodStart: '2025-01-01', periodEnd: '2025-01-01', value: 1 }, [false, true]],
    ['reversed period', { periodStart: '2025-12-31', periodEnd: '2025-01-01', value: 1 }, [false, true]],
    ['not a date', { periodStart: 'yesterday', periodEnd: '2025-01-01', value: 1 }, [false, true]],
    ['month 13', { periodStart: '2025-01-01', periodEnd: '2025-13-01', value: 1 }, [false, true]],
    ['period end missing', { periodStart: '2025-01-01', value: 1 }, [false, true]],
    ['dates as numbers', { periodStart: 20250101, periodEnd: 20251231, value: 1 }, [false, true]],
    ['negative value', { periodStart: '2025-01-01', periodEnd: '2025-12-31', value: -1 }, [true, false]],
    ['fractional value', { periodStart: '2025-01-01', periodEnd: '2025-12-31', value: 1.5 }, [true, false]],
    ['value as a string', { periodStart: '2025-01-01', periodEnd: '2025-12-31', value: '120000' }, [true, false]],
    ['nothing configured', {}, [false, false]],
  ],
  TESTING: [
    ['92 of 100', { sampleSize: 100, matchedSamples: 92 }, [true, true]],
    ['85 of 100 (exactly the minimum)', { sampleSize: 100, matchedSamples: 85 }, [true, true]],
    ['17 of 20 (85 %, but too few samples)', { sampleSize: 20, matchedSamples: 17 }, [false, false]],
    ['1 of 1 (the issue: one sample is not 100 % accuracy)', { sampleSize: 1, matchedSamples: 1 }, [false, false]],
    ['99 of 99 (one sample short)', { sampleSize: 99, matchedSamples: 99 }, [false, false]],
    ['84 of 100', { sampleSize: 100, matchedSamples: 84 }, [true, false]],
    ['0 of 100', { sampleSize: 100, matchedSamples: 0 }, [true, false]],
    ['more matched than sampled', { sampleSize: 10, matchedSamples: 11 }, [false, false]],
    ['no samples', { sampleSize: 0, matchedSamples: 0 }, [false, false]],
    ['fractional sample size', { sampleSize: 10.5, matchedSamples: 10 }, [false, false]],
    ['negative matches', { sampleSize: 10, matchedSamples: -1 }, [false, false]],
    ['numbers as strings', { sampleSize: '100', matchedSamples: '92' }, [false, false]],
    ['nothing configured', {}, [false, false]],
  ],
};
const previousPassed: Record<SetupStep, History> = {
  API_INTEGRATION: 'nothing recorded',
  DATA_SOURCE: 'API_INTEGRATION passed',
  METRICS_CONFIGURATION: 'up to DATA_SOURCE passed',
  BASELINE: 'up to METRICS_CONFIGURATION passed',
  TESTING: 'up to BASELINE passed',
};
const configurationScenarios: Scenario[] = SETUP_STEPS.flatMap((step) =>
  configurations[step].map(([what, configuration, passes]): Scenario => ({
    given: previousPassed[step],
    when: `${step}: ${what}`,
    command: record(step, configuration),
    then: [recorded(step, configuration, passes)],
  })),
);

const scenarios: Scenario[] = [
  ...orderScenarios,
  ...configurationScenarios,
  // a failing attempt is recorded, whatever came before
  { given: 'nothing recorded', when: 'API_INTEGRATION (failing)', command: record('API_INTEGRATION', FAILING.API_INTEGRATION), then: [failedAttempt('API_INTEGRATION')] },
  { given: 'API_INTEGRATION failed', when: 'API_INTEGRATION (failing again)', command: record('API_INTEGRATION', FAILING.API_INTEGRATION), then: [failedAttempt('API_INTEGRATION')] },
  { given: 'up to DATA_SOURCE passed, METRICS_CONFIGURATION failed', when: 'METRICS_CONFIGURATION (failing again)', command: record('METRICS_CONFIGURATION', FAILING.METRICS_CONFIGURATION), then: [failedAttempt('METRICS_CONFIGURATION')] },
  // re-recording a passed step: recorded again, passing or not
  { given: 'all five passed', when: 'API_INTEGRATION re-recorded (another passing configuration)', command: record('API_INTEGRATION', { endpointUrl: 'https://v2.acme.test', authType: 'oauth2' }), then: [recorded('API_INTEGRATION', { endpointUrl: 'https://v2.acme.test', authType: 'oauth2' })] },
  { given: 'all five passed', when: 'BASELINE re-recorded (the same configuration)', command: record('BASELINE', PASSING.BASELINE), then: [passed('BASELINE')] },
  { given: 'all five passed', when: 'TESTING re-recorded (failing)', command: record('TESTING', FAILING.TESTING), then: [failedAttempt('TESTING')] },
  { given: 'all five passed', when: 'DATA_SOURCE re-recorded (failing)', command: record('DATA_SOURCE', FAILING.DATA_SOURCE), then: [failedAttempt('DATA_SOURCE')] },
  { given: 'up to BASELINE passed, TESTING failed', when: 'TESTING (failing again)', command: record('TESTING', FAILING.TESTING), then: [failedAttempt('TESTING')] },
];

const describeThen = (then: Expected) => ('code' in then ? `${then.code} (${then.status})` : `[${then.map((event) => `${event.type} ${event.data.passed ? 'passed' : 'failed'}`).join(', ')}]`);

describe('setup aggregate: given events, when command, then events | error code', () => {
  it.each(scenarios.map((s) => [s.given, s.when, describeThen(s.then), s] as const))('given %s, when %s, then %s', (_given, _when, _then, s) => {
    const step = given(histories[s.given].events).when(s.command);
    if ('code' in s.then) {
      const error = step.thenRejects(s.then.code, s.then.status);
      expect(error.details).toEqual({ step: (s.command as SetupCommand).step, missingSteps: s.missingSteps });
    } else step.then(s.then);
  });

  it('covers every history × every step, and every check of every step passing and failing', () => {
    for (const history of Object.keys(histories)) {
      expect(new Set(scenarios.filter((s) => s.given === history).map((s) => s.command.step))).toEqual(new Set(SETUP_STEPS));
    }
    for (const step of SETUP_STEPS) {
      const outcomes = new Set(configurations[step].flatMap(([, , passes]) => CHECKS_OF[step].map((name, i) => `${name} ${passes[i]}`)));
      expect(outcomes).toEqual(new Set(CHECKS_OF[step].flatMap((name) => [`${name} true`, `${name} false`])));
    }
  });

  it('the histories are what they say: a step is done when its latest attempt passed and no earlier step was recorded since', () => {
    for (const [history, { events, passed: ok }] of Object.entries(histories)) {
      const state = given(events).state;
      expect({ history, passed: SETUP_STEPS.filter((step) => stepDone(state, step)) }).toEqual({ history, passed: SETUP_STEPS.filter((step) => ok.includes(step)) });
    }
  });

  describe('order', () => {
    it('refuses a later step while an earlier one has not passed, naming every missing step', () => {
      const error = given([]).when(record('TESTING', PASSING.TESTING)).thenRejects(OUT_OF_ORDER.code, 409);
      expect(error).toBeInstanceOf(DomainError);
      expect(error.details).toEqual({ step: 'TESTING', missingSteps: ['API_INTEGRATION', 'DATA_SOURCE', 'METRICS_CONFIGURATION', 'BASELINE'] });
      expect(error.message).toBe('TESTING comes after API_INTEGRATION, DATA_SOURCE, METRICS_CONFIGURATION, BASELINE, which have not passed yet (or went stale)');
    });

    it('one missing step: "has"', () => {
      expect(given(histories['API_INTEGRATION failed'].events).when(record('DATA_SOURCE', PASSING.DATA_SOURCE)).thenRejects(OUT_OF_ORDER.code, 409).message).toBe(
        'DATA_SOURCE comes after API_INTEGRATION, which has not passed yet (or went stale)',
      );
    });

    it('given all five passed, when DATA_SOURCE is recorded again, then every later step is stale and must be recorded again, in order', () => {
      const history = histories['all five passed, then DATA_SOURCE re-recorded and failed'].events;
      expect(given(history).when(record('TESTING', PASSING.TESTING)).thenRejects(OUT_OF_ORDER.code, 409).details).toEqual({ step: 'TESTING', missingSteps: ['DATA_SOURCE', 'METRICS_CONFIGURATION', 'BASELINE'] });
      const again = [...history, passed('DATA_SOURCE')];
      expect(given(again).state.steps).toEqual({
        API_INTEGRATION: { passed: true, stale: false },
        DATA_SOURCE: { passed: true, stale: false },
        METRICS_CONFIGURATION: { passed: true, stale: true },
        BASELINE: { passed: true, stale: true },
        TESTING: { passed: true, stale: true },
      });
      expect(given(again).when(record('TESTING', PASSING.TESTING)).thenRejects(OUT_OF_ORDER.code, 409).details).toEqual({ step: 'TESTING', missingSteps: ['METRICS_CONFIGURATION', 'BASELINE'] });
      const redone = [...again, passed('METRICS_CONFIGURATION'), passed('BASELINE')];
      expect(given(redone).when(record('TESTING', PASSING.TESTING)).outcome).toEqual({ events: [passed('TESTING')] });
      expect(SETUP_STEPS.every((step) => stepDone(given([...redone, passed('TESTING')]).state, step))).toBe(true);
    });
  });

  describe('checks', () => {
    it('messages state the rule, prefixed ok: or failed:', () => {
      const outcome = given([]).when(record('API_INTEGRATION', { endpointUrl: 'https://a.test', authType: 'none' })).outcome;
      expect(outcome).toEqual({
        events: [
          {
            type: 'setup.step-recorded',
            data: {
              step: 'API_INTEGRATION',
              configuration: { endpointUrl: 'https://a.test', authType: 'none' },
              passed: false,
              checks: [
                { check: 'endpoint-https', passed: true, message: 'ok: endpointUrl is an https:// URL' },
                { check: 'auth-type', passed: false, message: 'failed: authType is api-key or oauth2' },
              ],
            },
          },
        ],
      });
    });

    it(`the testing minimum is ${TESTING_MIN_ACCURACY * 100} %`, () => {
      expect(TESTING_MIN_ACCURACY).toBe(0.85);
    });

    it(`TESTING: fewer than ${TESTING_MIN_SAMPLES} samples never pass`, () => {
      expect(TESTING_MIN_SAMPLES).toBe(100);
      fc.assert(
        fc.property(fc.integer({ min: 1, max: TESTING_MIN_SAMPLES - 1 }), (sampleSize) => {
          const outcome = decide(setupDecider, record('TESTING', { sampleSize, matchedSamples: sampleSize }), allPassedState());
          if ('rejected' in outcome) throw outcome.rejected;
          expect(outcome.events[0].data.passed).toBe(false);
        }),
      );
    });

    it('TESTING: accuracy passes exactly when matched / sample ≥ 0.85 (any sample size from the minimum up)', () => {
      fc.assert(
        fc.property(fc.integer({ min: TESTING_MIN_SAMPLES, max: 10_000 }), fc.double({ min: 0, max: 1, noNaN: true }), (sampleSize, share) => {
          const matchedSamples = Math.floor(sampleSize * share);
          const outcome = decide(setupDecider, record('TESTING', { sampleSize, matchedSamples }), allPassedState());
          if ('rejected' in outcome) throw outcome.rejected;
          const accuracy = outcome.events[0].data.checks.find((c) => c.check === 'accuracy');
          expect(accuracy?.passed).toBe(matchedSamples * 100 >= sampleSize * 85);
        }),
      );
    });
  });

  describe('configurations that only look right', () => {
    it('DATA_SOURCE: kind ["postgres"] (a list, not a kind) fails the kind check', () => {
      given(histories['API_INTEGRATION passed'].events)
        .when(record('DATA_SOURCE', { kind: ['postgres'], connectionName: 'db' }))
        .then([recorded('DATA_SOURCE', { kind: ['postgres'], connectionName: 'db' }, [false, true])]);
    });

    it('BASELINE: periodEnd 2025-02-30 (no such day) fails the period check', () => {
      const configuration = { periodStart: '2025-01-01', periodEnd: '2025-02-30', value: 1 };
      given(histories['up to METRICS_CONFIGURATION passed'].events).when(record('BASELINE', configuration)).then([recorded('BASELINE', configuration, [false, true])]);
    });
  });

  describe('state', () => {
    it('folds the latest attempt of each step, the later ones stale, and the baseline that passed', () => {
      expect(given(histories['all five passed, then DATA_SOURCE re-recorded and failed'].events).state).toEqual({
        steps: {
          API_INTEGRATION: { passed: true, stale: false },
          DATA_SOURCE: { passed: false, stale: false },
          METRICS_CONFIGURATION: { passed: true, stale: true },
          BASELINE: { passed: true, stale: true },
          TESTING: { passed: true, stale: true },
        },
        baseline: { value: 120000, periodStart: '2025-01-01', periodEnd: '2025-12-31' },
      });
      expect(given([]).state).toEqual(initialSetupState);
    });

    it('decide does not mutate the state it is given', () => {
      const state = deepFreeze(given(histories['up to DATA_SOURCE passed'].events).state);
      for (const s of scenarios) expect(() => decide(setupDecider, s.command, state)).not.toThrow();
      expect(state).toEqual({ steps: { API_INTEGRATION: { passed: true, stale: false }, DATA_SOURCE: { passed: true, stale: false } }, baseline: null });
    });

    it('is the setup stream, its one event at schema version 1', () => {
      expect(setupDecider.category).toBe('setup');
      expect(SETUP_EVENT_TYPES).toEqual(['setup.step-recorded']);
      expect(SETUP_SCHEMA_VERSIONS).toEqual({ 'setup.step-recorded': 1 });
      expect(setupDecider.upcasters).toEqual({});
    });
  });
});

describe('setup aggregate: properties', () => {
  const step = fc.constantFrom(...SETUP_STEPS);
  const command: fc.Arbitrary<SetupCommand> = fc.tuple(step, fc.boolean()).map(([s, ok]) => record(s, ok ? PASSING[s] : FAILING[s]));

  it('replay = live; a step is recorded only when every earlier step passed its latest attempt; passed = every check passed; only DomainErrors', () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 40 }), (commands) => {
        let live: SetupState = setupDecider.initialState;
        const emitted: SetupEvent[] = [];
        for (const next of commands) {
          const outcome = decide(setupDecider, next, live);
          const earlierPassed = SETUP_STEPS.slice(0, SETUP_STEPS.indexOf(next.step)).every((earlier) => stepDone(live, earlier));
          if ('rejected' in outcome) {
            expect(outcome.rejected.code).toBe(OUT_OF_ORDER.code);
            expect(earlierPassed).toBe(false);
            continue;
          }
          expect(earlierPassed).toBe(true);
          expect(outcome.events).toHaveLength(1);
          const [event] = outcome.events;
          expect(event.data.step).toBe(next.step);
          expect(event.data.configuration).toEqual(next.configuration);
          expect(event.data.passed).toBe(event.data.checks.every((c) => c.passed));
          expect(event.data.checks.map((c) => c.check)).toEqual(CHECKS_OF[next.step]);
          live = setupDecider.evolve(live, event);
          emitted.push(event);
        }
        expect(emitted.reduce(setupDecider.evolve, setupDecider.initialState)).toEqual(live);
        expect(JSON.parse(JSON.stringify(live))).toEqual(live);
      }),
      { numRuns: 300 },
    );
  });
});
