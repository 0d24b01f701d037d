import fc from 'fast-check';
import { DomainError } from '../../../src/errors/proofline-error';
import type { RecordValueCalculation, ValueCalculationCommand } from '../../../src/value-calculations/decide';
import { VALUE_CALCULATION_EVENT_TYPES, VALUE_CALCULATION_SCHEMA_VERSIONS, type ValueCalculationEvent, type ValueCalculationRecorded } from '../../../src/value-calculations/events';
import { initialValueCalculationState, type ValueCalculationState } from '../../../src/value-calculations/state';
import { valueCalculationDecider } from '../../../src/value-calculations/value-calculation.decider';
import { decide, givenWhenThen } from '../../support/given-when-then';
import { deepFreeze } from '../../support/deep-freeze';

const { given } = givenWhenThen(valueCalculationDecider);

const PRICE = 1250;
type Definition = RecordValueCalculation['definition'];
/** Approved before every period below; `NOW` after all of them. */
const APPROVED_AT = '2025-11-01T00:00:00.000Z';
const NOW = '2027-01-01T00:00:00.000Z';
const APPROVED: Definition = { definitionId: 'def-1', status: 'approved', unitPriceMinor: PRICE, currency: 'EUR', approvedAt: APPROVED_AT };
const withStatus = (status: string): Definition => ({ ...APPROVED, status });

/** Periods as the controller passes them: normalised UTC instants (toISOString). */
const at = (date: string) => new Date(`${date}T00:00:00Z`).toISOString();
type Period = readonly [start: string, end: string];
const DEC: Period = [at('2025-12-01'), at('2026-01-01')];
const JAN: Period = [at('2026-01-01'), at('2026-02-01')];
const FEB: Period = [at('2026-02-01'), at('2026-03-01')];
const MAR: Period = [at('2026-03-01'), at('2026-04-01')];
const APR: Period = [at('2026-04-01'), at('2026-05-01')];

interface Calculation {
  readonly calculationId?: string;
  readonly period: Period;
  readonly quantity?: number;
  readonly amountMinor?: number;
  readonly definition?: Definition;
}

// Commands and events
const calculate = ({ calculationId = 'calc-new', period, quantity = 5400, amountMinor = quantity * PRICE, definition = APPROVED }: Calculation): ValueCalculationCommand => ({
  type: 'RecordValueCalculation',
  calculationId,
  definition,
  periodStart: period[0],
  periodEnd: period[1],
  quantity,
  amountMinor,
  sampleSize: 200,
  matchedSamples: 185,
  source: 'smart-meter export',
  billingTimeZone: 'UTC',
  now: NOW,
});
const recorded = ({ calculationId = 'calc-new', period, quantity = 5400, amountMinor = quantity * PRICE, definition = APPROVED }: Calculation): ValueCalculationEvent => ({
  type: 'value-calculations.recorded',
  data: {
    calculationId,
    definitionId: definition.definitionId,
    periodStart: period[0],
    periodEnd: period[1],
    quantity,
    amountMinor,
    currency: definition.currency,
    sampleSize: 200,
    matchedSamples: 185,
    accuracyBasisPoints: 9250,
    source: 'smart-meter export',
  },
});

const NOT_APPROVED = { code: 'VALUE_CALCULATION.DEFINITION_NOT_APPROVED', status: 409 } as const;
const EMPTY_PERIOD = { code: 'VALUE_CALCULATION.EMPTY_PERIOD', status: 422 } as const;
const OVERLAP = { code: 'VALUE_CALCULATION.PERIOD_OVERLAP', status: 409 } as const;
const AMOUNT_MISMATCH = { code: 'VALUE_CALCULATION.AMOUNT_MISMATCH', status: 422 } as const;

const histories = {
  'no calculations': [] as ValueCalculationEvent[],
  'January measured': [recorded({ calculationId: 'calc-jan', period: JAN })],
  'January and March measured': [recorded({ calculationId: 'calc-jan', period: JAN }), recorded({ calculationId: 'calc-mar', period: MAR, quantity: 10 })],
};
type History = keyof typeof histories;

type Expected = readonly ValueCalculationEvent[] | { readonly code: string; readonly status: number; readonly details?: Record<string, unknown> };
interface Scenario {
  readonly given: History;
  readonly when: string;
  readonly command: ValueCalculationCommand;
  readonly then: Expected;
}
const scenario = (history: History, when: string, calculation: Calculation, then: Expected): Scenario => ({ given: history, when, command: calculate(calculation), then });
const ok = (history: History, when: string, calculation: Calculation): Scenario => scenario(history, when, calculation, [recorded(calculation)]);

const HISTORIES = Object.keys(histories) as History[];
const days = (from: string, to: string): Period => [at(from), at(to)];

const scenarios: Scenario[] = [
  // in every history: an approved definition, a fresh period, the right amount
  ...HISTORIES.flatMap((history) => [
    ok(history, 'April (after everything)', { period: APR }),
    ok(history, 'December, ending where January starts', { period: DEC }),
    ok(history, 'April, nothing measured (quantity and amount 0)', { period: APR, quantity: 0, amountMinor: 0 }),
    ok(history, 'April, for a USD definition priced 999', {
      period: APR,
      quantity: 3,
      amountMinor: 2997,
      definition: { definitionId: 'def-1', status: 'approved', unitPriceMinor: 999, currency: 'USD', approvedAt: APPROVED_AT },
    }),
    ok(history, 'a one-day period', { period: [APR[0], at('2026-04-02')] }),
    // only approved definitions are measured, whatever else is wrong with the command
    ...['draft', 'in-review', 'changes-requested', 'rejected', 'none'].map((status) =>
      scenario(history, `April, definition ${status}`, { period: APR, definition: withStatus(status) }, { ...NOT_APPROVED, details: { status } }),
    ),
    scenario(history, 'an empty, overlapping, mispriced period for a draft (approval is checked first)', { period: [JAN[0], JAN[0]], amountMinor: 1, definition: withStatus('draft') }, NOT_APPROVED),
    // empty periods
    scenario(history, 'April, start = end', { period: [APR[0], APR[0]] }, { ...EMPTY_PERIOD, details: { field: 'periodEnd' } }),
    scenario(history, 'April, reversed', { period: [APR[1], APR[0]] }, { ...EMPTY_PERIOD, details: { field: 'periodEnd' } }),
    scenario(history, 'April reversed and mispriced (the period is checked first)', { period: [APR[1], APR[0]], amountMinor: 1 }, EMPTY_PERIOD),
    // amounts: quantity × unit price, exactly
    scenario(history, 'April, amount one too many', { period: APR, quantity: 5400, amountMinor: 5400 * PRICE + 1 }, { ...AMOUNT_MISMATCH, details: { field: 'amountMinor', expected: 5400 * PRICE } }),
    scenario(history, 'April, amount one too few', { period: APR, quantity: 5400, amountMinor: 5400 * PRICE - 1 }, { ...AMOUNT_MISMATCH, details: { field: 'amountMinor', expected: 5400 * PRICE } }),
    scenario(history, 'April, amount at another price', { period: APR, quantity: 10, amountMinor: 10 * 1000 }, { ...AMOUNT_MISMATCH, details: { field: 'amountMinor', expected: 10 * PRICE } }),
    scenario(history, 'April, the quantity as the amount', { period: APR, quantity: 10, amountMinor: 10 }, AMOUNT_MISMATCH),
    scenario(history, 'April, nothing measured but an amount', { period: APR, quantity: 0, amountMinor: PRICE }, { ...AMOUNT_MISMATCH, details: { field: 'amountMinor', expected: 0 } }),
  ]),

  // January measured: overlaps are refused, touching periods are not
  scenario('January measured', 'January again', { period: JAN }, { ...OVERLAP, details: { calculationId: 'calc-jan' } }),
  scenario('January measured', 'a week inside January', { period: days('2026-01-10', '2026-01-17') }, OVERLAP),
  scenario('January measured', 'December to February, around January', { period: days('2025-12-01', '2026-03-01') }, OVERLAP),
  scenario('January measured', 'mid-December to mid-January', { period: days('2025-12-15', '2026-01-15') }, OVERLAP),
  scenario('January measured', 'mid-January to mid-February', { period: days('2026-01-15', '2026-02-15') }, OVERLAP),
  scenario('January measured', 'the last day of January', { period: [at('2026-01-31'), JAN[1]] }, OVERLAP),
  scenario('January measured', 'January again, mispriced (overlap is checked first)', { period: JAN, amountMinor: 1 }, OVERLAP),
  ok('January measured', 'February, starting where January ends', { period: FEB }),

  // January and March measured: February fills the gap exactly
  ok('January and March measured', 'February, touching January and March', { period: FEB }),
  scenario('January and March measured', 'February and one day of March', { period: days('2026-02-01', '2026-03-02') }, { ...OVERLAP, details: { calculationId: 'calc-mar' } }),
  scenario('January and March measured', 'the last day of January and February', { period: days('2026-01-31', '2026-03-01') }, { ...OVERLAP, details: { calculationId: 'calc-jan' } }),
  scenario('January and March measured', 'January to April, overlapping both (names the first)', { period: days('2026-01-01', '2026-04-01') }, { ...OVERLAP, details: { calculationId: 'calc-jan' } }),
  scenario('January and March measured', 'March again', { period: MAR }, { ...OVERLAP, details: { calculationId: 'calc-mar' } }),
];

const describeThen = (then: Expected) => ('code' in then ? `${then.code} (${then.status})` : `[${then.map((event) => event.type).join(', ')}]`);

describe('value calculation aggregate: given events, when command, then events | error code', () => {
  it.each(scenarios.map((s) => [s.given, s.when, describeThen(s.then), s] as const))('given %s, when %s, then %s', (_given, _when, _then, s) => {
    const step = given(histories[s.given]).when(s.command);
    if ('code' in s.then) {
      const error = step.thenRejects(s.then.code, s.then.status);
      expect(error).toBeInstanceOf(DomainError);
      if (s.then.details) expect(error.details).toEqual(s.then.details);
    } else step.then(s.then);
  });

  it('covers every history × every outcome of RecordValueCalculation', () => {
    const outcomesOf = (history: History) => new Set(scenarios.filter((s) => s.given === history).map((s) => ('code' in s.then ? s.then.code : 'recorded')));
    const every = ['recorded', NOT_APPROVED.code, EMPTY_PERIOD.code, AMOUNT_MISMATCH.code];
    expect(outcomesOf('no calculations')).toEqual(new Set(every)); // nothing to overlap yet
    expect(outcomesOf('January measured')).toEqual(new Set([...every, OVERLAP.code]));
    expect(outcomesOf('January and March measured')).toEqual(new Set([...every, OVERLAP.code]));
  });

  describe('error messages', () => {
    it('AMOUNT_MISMATCH shows the sum', () => {
      const error = given([]).when(calculate({ period: APR, quantity: 3, amountMinor: 10 })).thenRejects(AMOUNT_MISMATCH.code, 422);
      expect(error.message).toBe('amountMinor must be quantity × unit price: 3 × 1250 = 3750, not 10');
    });

    it('PERIOD_OVERLAP names the calculation and its period', () => {
      const error = given(histories['January measured']).when(calculate({ period: JAN })).thenRejects(OVERLAP.code, 409);
      expect(error.message).toBe(`the period overlaps calculation calc-jan (${JAN[0]} – ${JAN[1]})`);
    });
  });

  describe('state', () => {
    it('folds the measured periods in order', () => {
      expect(given(histories['January and March measured']).state).toEqual({
        periods: [
          { start: JAN[0], end: JAN[1], periodEnd: JAN[1], calculationId: 'calc-jan', quantity: 5400, sampleSize: 200, matchedSamples: 185, status: 'RECORDED', supersededBy: null },
          { start: MAR[0], end: MAR[1], periodEnd: MAR[1], calculationId: 'calc-mar', quantity: 10, sampleSize: 200, matchedSamples: 185, status: 'RECORDED', supersededBy: null },
        ],
      });
      expect(given([]).state).toEqual(initialValueCalculationState);
    });

    it('decide does not mutate the state it is given', () => {
      const state = deepFreeze(given(histories['January and March measured']).state);
      const before = JSON.stringify(state);
      for (const s of scenarios) expect(() => decide(valueCalculationDecider, s.command, state)).not.toThrow();
      expect(JSON.stringify(state)).toBe(before);
    });

    it('is the valuecalc stream: recorded at schema version 2 (samples), adjusted and voided at 1', () => {
      expect(valueCalculationDecider.category).toBe('valuecalc');
      expect(VALUE_CALCULATION_EVENT_TYPES).toEqual(['value-calculations.recorded', 'value-calculations.adjusted', 'value-calculations.voided']);
      expect(VALUE_CALCULATION_SCHEMA_VERSIONS).toEqual({ 'value-calculations.recorded': 2, 'value-calculations.adjusted': 1, 'value-calculations.voided': 1 });
      // a version-1 event had an accuracy typed in and no samples: none are invented
      const [toV2] = valueCalculationDecider.upcasters['value-calculations.recorded'];
      expect(toV2({ calculationId: 'c', accuracyBasisPoints: 10000 })).toEqual({ calculationId: 'c', accuracyBasisPoints: 10000, sampleSize: null, matchedSamples: null });
    });
  });
});

describe('value calculation aggregate: properties', () => {
  const DAY = 86_400_000;
  const day = (n: number) => new Date(Date.UTC(2026, 0, 1) + n * DAY).toISOString();
  const command: fc.Arbitrary<RecordValueCalculation> = fc
    .record({
      start: fc.integer({ min: 0, max: 60 }),
      length: fc.integer({ min: -2, max: 20 }),
      quantity: fc.integer({ min: 0, max: 10_000 }),
      price: fc.constantFrom(1, 999, PRICE),
      wrongAmount: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -3, max: 3 }) }),
      status: fc.oneof({ weight: 9, arbitrary: fc.constant('approved') }, { weight: 1, arbitrary: fc.constantFrom('draft', 'in-review', 'rejected') }),
      id: fc.integer({ min: 0, max: 1000 }),
    })
    .map(({ start, length, quantity, price, wrongAmount, status, id }) => ({
      type: 'RecordValueCalculation' as const,
      calculationId: `calc-${id}`,
      definition: { definitionId: 'def-1', status, unitPriceMinor: price, currency: 'EUR', approvedAt: APPROVED_AT },
      periodStart: day(start),
      periodEnd: day(start + length),
      quantity,
      amountMinor: quantity * price + wrongAmount,
      sampleSize: 100,
      matchedSamples: 90,
      source: 's',
      billingTimeZone: 'UTC',
      now: NOW,
    }));

  it('recorded periods never overlap, each amount is quantity × price, refusals give the first rule broken, replay = live', () => {
    fc.assert(
      fc.property(fc.array(command, { maxLength: 40 }), (commands) => {
        let live: ValueCalculationState = valueCalculationDecider.initialState;
        const emitted: ValueCalculationRecorded[] = [];
        for (const next of commands) {
          const overlapping = live.periods.find((p) => Date.parse(next.periodStart) < Date.parse(p.end) && Date.parse(p.start) < Date.parse(next.periodEnd));
          const expected =
            next.definition.status !== 'approved'
              ? NOT_APPROVED.code
              : Date.parse(next.periodStart) >= Date.parse(next.periodEnd)
                ? EMPTY_PERIOD.code
                : overlapping
                  ? OVERLAP.code
                  : next.amountMinor !== next.quantity * next.definition.unitPriceMinor
                    ? AMOUNT_MISMATCH.code
                    : null;
          const outcome = decide(valueCalculationDecider, next, live);
          expect('rejected' in outcome ? outcome.rejected.code : null).toBe(expected);
          if ('rejected' in outcome) continue;
          expect(outcome.events).toHaveLength(1);
          const [event] = outcome.events as ValueCalculationRecorded[];
          expect(event.data.amountMinor).toBe(event.data.quantity * next.definition.unitPriceMinor);
          live = valueCalculationDecider.evolve(live, event);
          emitted.push(event);
        }
        for (const [i, a] of emitted.entries()) {
          for (const b of emitted.slice(i + 1)) expect(a.data.periodEnd <= b.data.periodStart || b.data.periodEnd <= a.data.periodStart).toBe(true);
        }
        expect(emitted.reduce(valueCalculationDecider.evolve, valueCalculationDecider.initialState)).toEqual(live);
        expect(JSON.parse(JSON.stringify(live))).toEqual(live);
      }),
      { numRuns: 300 },
    );
  });
});
