import fc from 'fast-check';
import type { CalculationContext, Measurement, ValueCalculationCommand } from '../../../src/value-calculations/decide';
import type { MeasuredPeriod, ValueCalculationEvent } from '../../../src/value-calculations/events';
import { countingCalculations, type ValueCalculationState } from '../../../src/value-calculations/state';
import { canonicalTimeZone, isLocalMidnight } from '../../../src/value-calculations/decide-time-zone';
import { valueCalculationDecider } from '../../../src/value-calculations/value-calculation.decider';
import { decide, givenWhenThen } from '../../support/given-when-then';

const { given } = givenWhenThen(valueCalculationDecider);

const PRICE = 1250;
const APPROVED_AT = '2026-10-15T09:30:00.000Z';
const NOW = '2026-12-05T03:00:00.000Z';
const CONTEXT: CalculationContext = { definition: { definitionId: 'def-1', status: 'approved', unitPriceMinor: PRICE, currency: 'EUR', approvedAt: APPROVED_AT }, billingTimeZone: 'UTC', now: NOW };
const NOV = { periodStart: '2026-11-01T00:00:00.000Z', periodEnd: '2026-12-01T00:00:00.000Z' };
const measurement = (quantity: number, matchedSamples = 190, period = NOV): Measurement => ({ ...period, quantity, amountMinor: quantity * PRICE, sampleSize: 200, matchedSamples, source: 'meters' });
const data = (calculationId: string, quantity: number, matchedSamples = 190, period = NOV): MeasuredPeriod => ({
  calculationId,
  definitionId: 'def-1',
  ...period,
  quantity,
  amountMinor: quantity * PRICE,
  currency: 'EUR',
  sampleSize: 200,
  matchedSamples,
  accuracyBasisPoints: Math.floor((matchedSamples * 10_000) / 200),
  source: 'meters',
});
const record = (calculationId: string, quantity: number, extra: Partial<ValueCalculationCommand> = {}): ValueCalculationCommand => ({ type: 'RecordValueCalculation', calculationId, ...CONTEXT, ...measurement(quantity), ...extra }) as ValueCalculationCommand;
const adjust = (calculationId: string, adjusts: string, quantity: number): ValueCalculationCommand => ({ type: 'AdjustValueCalculation', calculationId, adjusts, reason: 'meter 7 double-counted', ...CONTEXT, ...measurement(quantity) });
const voidIt = (calculationId: string): ValueCalculationCommand => ({ type: 'VoidValueCalculation', definitionId: 'def-1', calculationId, reason: 'wrong definition' });
const recorded = (calculationId: string, quantity: number): ValueCalculationEvent => ({ type: 'value-calculations.recorded', data: data(calculationId, quantity) });
const adjusted = (calculationId: string, adjusts: string, quantity: number): ValueCalculationEvent => ({ type: 'value-calculations.adjusted', data: { ...data(calculationId, quantity), adjusts, reason: 'meter 7 double-counted' } });
const voided = (calculationId: string): ValueCalculationEvent => ({ type: 'value-calculations.voided', data: { calculationId, definitionId: 'def-1', reason: 'wrong definition' } });

describe('corrections: void and adjustment events that reference the original', () => {
  it('given November recorded, when November is recorded again, then PERIOD_OVERLAP (a correction is not a second recording)', () => {
    given([recorded('nov', 1000)]).when(record('nov-2', 900)).thenRejects('VALUE_CALCULATION.PERIOD_OVERLAP', 409);
  });

  it('given November recorded, when it is adjusted, then an adjustment referencing it is recorded, and only the correction counts', () => {
    const step = given([recorded('nov', 1000)]).when(adjust('nov-fixed', 'nov', 900));
    step.then([adjusted('nov-fixed', 'nov', 900)]);
    const after = given([recorded('nov', 1000), adjusted('nov-fixed', 'nov', 900)]).state;
    expect(countingCalculations(after).map((c) => c.calculationId)).toEqual(['nov-fixed']);
    expect(after.periods.map((p) => [p.calculationId, p.status, p.supersededBy])).toEqual([
      ['nov', 'SUPERSEDED', 'nov-fixed'],
      ['nov-fixed', 'RECORDED', null],
    ]);
  });

  it('given November voided, when November is recorded again, then the corrected November is recorded; history keeps both', () => {
    given([recorded('nov', 1000)]).when(voidIt('nov')).then([voided('nov')]);
    given([recorded('nov', 1000), voided('nov')]).when(record('nov-2', 900)).then([recorded('nov-2', 900)]);
    const after = given([recorded('nov', 1000), voided('nov'), recorded('nov-2', 900)]).state;
    expect(after.periods.map((p) => [p.calculationId, p.status])).toEqual([
      ['nov', 'VOIDED'],
      ['nov-2', 'RECORDED'],
    ]);
  });

  it('refuses to correct or void what no longer counts, or does not exist', () => {
    expect(given([recorded('nov', 1000), voided('nov')]).when(voidIt('nov')).thenRejects('VALUE_CALCULATION.VOIDED', 409).details).toEqual({ calculationId: 'nov' });
    given([recorded('nov', 1000), voided('nov')]).when(adjust('x', 'nov', 1)).thenRejects('VALUE_CALCULATION.VOIDED', 409);
    expect(given([recorded('nov', 1000), adjusted('nov-fixed', 'nov', 900)]).when(adjust('x', 'nov', 1)).thenRejects('VALUE_CALCULATION.SUPERSEDED', 409).details).toEqual({ calculationId: 'nov', supersededBy: 'nov-fixed' });
    given([recorded('nov', 1000), adjusted('nov-fixed', 'nov', 900)]).when(voidIt('nov')).thenRejects('VALUE_CALCULATION.SUPERSEDED', 409);
    given([]).when(voidIt('nov')).thenRejects('VALUE_CALCULATION.NOT_FOUND', 404);
    given([]).when(adjust('x', 'nov', 1)).thenRejects('VALUE_CALCULATION.NOT_FOUND', 404);
  });

  it('an adjustment is held to every rule of a recording (price, period, approval)', () => {
    given([recorded('nov', 1000)]).when({ ...adjust('x', 'nov', 10), amountMinor: 1 } as ValueCalculationCommand).thenRejects('VALUE_CALCULATION.AMOUNT_MISMATCH', 422);
    given([recorded('nov', 1000)]).when({ ...adjust('x', 'nov', 10), periodEnd: '2027-01-01T00:00:00.000Z' } as ValueCalculationCommand).thenRejects('VALUE_CALCULATION.PERIOD_NOT_ENDED', 422);
  });

  it('property: whatever is recorded, adjusted and voided, the periods that count never overlap and replay gives the same state', () => {
    const months = Array.from({ length: 6 }, (_, i) => ({ periodStart: new Date(Date.UTC(2026, 5 + i, 1)).toISOString(), periodEnd: new Date(Date.UTC(2026, 6 + i, 1)).toISOString() }));
    const op = fc.record({ kind: fc.constantFrom('record', 'adjust', 'void'), month: fc.integer({ min: 0, max: 5 }), target: fc.integer({ min: 0, max: 10 }), quantity: fc.integer({ min: 0, max: 1000 }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        let state: ValueCalculationState = valueCalculationDecider.initialState;
        const events: ValueCalculationEvent[] = [];
        const context = { ...CONTEXT, definition: { ...CONTEXT.definition, approvedAt: '2026-01-01T00:00:00.000Z' } };
        ops.forEach(({ kind, month, target, quantity }, i) => {
          const targetId = state.periods[target % Math.max(1, state.periods.length)]?.calculationId ?? 'none';
          const body = { ...measurement(quantity, 150, months[month]) };
          const command: ValueCalculationCommand =
            kind === 'record'
              ? { type: 'RecordValueCalculation', calculationId: `c${i}`, ...context, ...body }
              : kind === 'adjust'
                ? { type: 'AdjustValueCalculation', calculationId: `c${i}`, adjusts: targetId, reason: 'fix', ...context, ...body }
                : { type: 'VoidValueCalculation', definitionId: 'def-1', calculationId: targetId, reason: 'wrong' };
          const outcome = decide(valueCalculationDecider, command, state);
          if ('rejected' in outcome) return;
          for (const event of outcome.events) state = valueCalculationDecider.evolve(state, event);
          events.push(...outcome.events);
        });
        const counting = countingCalculations(state);
        for (const [i, a] of counting.entries()) for (const b of counting.slice(i + 1)) expect(a.end <= b.start || b.end <= a.start).toBe(true);
        expect(events.reduce(valueCalculationDecider.evolve, valueCalculationDecider.initialState)).toEqual(state);
        // every adjustment and void names a calculation that existed before it
        const seen = new Set<string>();
        for (const event of events) {
          if (event.type === 'value-calculations.adjusted') expect(seen.has(event.data.adjusts)).toBe(true);
          if (event.type === 'value-calculations.voided') expect(seen.has(event.data.calculationId)).toBe(true);
          seen.add(event.data.calculationId);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('periods: bounded by the approval and now, at midnight in the billing time zone', () => {
  it('refuses a period starting before the definition was approved (a 2019 backfill), naming the field and the approval', () => {
    const error = given([]).when(record('old', 10, { periodStart: '2019-01-01T00:00:00.000Z', periodEnd: '2019-02-01T00:00:00.000Z' })).thenRejects('VALUE_CALCULATION.PERIOD_BEFORE_APPROVAL', 409);
    expect(error.details).toEqual({ field: 'periodStart', rule: 'not-before-approval', approvedAt: APPROVED_AT });
    // October started before the approval on 15 October
    given([]).when(record('oct', 10, { periodStart: '2026-10-01T00:00:00.000Z', periodEnd: '2026-11-01T00:00:00.000Z' })).thenRejects('VALUE_CALCULATION.PERIOD_BEFORE_APPROVAL', 409);
  });

  it('refuses a period that has not ended (a 2030 "forecast", or the current month)', () => {
    const error = given([]).when(record('f', 10, { periodStart: '2030-01-01T00:00:00.000Z', periodEnd: '2030-02-01T00:00:00.000Z' })).thenRejects('VALUE_CALCULATION.PERIOD_NOT_ENDED', 422);
    expect(error.details).toEqual({ field: 'periodEnd', rule: 'not-in-future' });
    given([]).when(record('dec', 10, { periodStart: '2026-12-01T00:00:00.000Z', periodEnd: '2027-01-01T00:00:00.000Z' })).thenRejects('VALUE_CALCULATION.PERIOD_NOT_ENDED', 422);
  });

  it('refuses a definition with no completed approval, whatever the period', () => {
    given([]).when(record('x', 10, { definition: { ...CONTEXT.definition, approvedAt: null } })).thenRejects('VALUE_CALCULATION.PERIOD_BEFORE_APPROVAL', 409);
  });

  it('in Europe/Berlin, November starts at 2026-10-31T23:00Z; UTC midnight is refused there, naming field, rule and zone', () => {
    const berlin = { billingTimeZone: 'Europe/Berlin' };
    given([]).when(record('nov', 10, { ...berlin, periodStart: '2026-10-31T23:00:00.000Z', periodEnd: '2026-11-30T23:00:00.000Z' })).then([
      { type: 'value-calculations.recorded', data: data('nov', 10, 190, { periodStart: '2026-10-31T23:00:00.000Z', periodEnd: '2026-11-30T23:00:00.000Z' }) },
    ]);
    const error = given([]).when(record('nov', 10, berlin)).thenRejects('VALUE_CALCULATION.PERIOD_NOT_AT_MIDNIGHT', 422);
    expect(error.details).toEqual({ field: 'periodStart', rule: 'midnight-in-billing-time-zone', billingTimeZone: 'Europe/Berlin' });
  });

  it('refuses more matched samples than samples', () => {
    expect(given([]).when(record('x', 10, { matchedSamples: 201 })).thenRejects('VALUE_CALCULATION.SAMPLES_INCONSISTENT', 422).details).toEqual({ field: 'matchedSamples', rule: 'at-most-sample-size' });
  });

  it('time zones: IANA names only, canonicalised; midnight follows daylight saving', () => {
    expect(canonicalTimeZone('Europe/Berlin')).toBe('Europe/Berlin');
    expect(canonicalTimeZone('UTC')).toBe('UTC');
    for (const bad of ['Mars/Olympus', '+01:00', 'CET; drop', '', '../etc']) expect(canonicalTimeZone(bad)).toBeNull();
    expect(isLocalMidnight('2026-03-28T23:00:00.000Z', 'Europe/Berlin')).toBe(true); // CET
    expect(isLocalMidnight('2026-03-29T22:00:00.000Z', 'Europe/Berlin')).toBe(true); // CEST
    expect(isLocalMidnight('2026-03-29T23:00:00.000Z', 'Europe/Berlin')).toBe(false);
    expect(isLocalMidnight('2026-03-01T00:00:00.001Z', 'UTC')).toBe(false);
  });
});
