import fc from 'fast-check';
import { accuracyBasisPoints, definitionAccuracy, RECENT_PERIODS, type CountingCalculation } from '../../../src/value-calculations/decide-accuracy';

const NOW = '2026-12-05T03:00:00.000Z';
const calc = (calculationId: string, periodEnd: string, quantity: number, matchedSamples: number | null, sampleSize: number | null = 100): CountingCalculation => ({ calculationId, periodEnd, quantity, sampleSize, matchedSamples });

describe('measured accuracy (matched / total samples, weighted by quantity, per definition, ended periods only)', () => {
  it('given the issue: November at 40 % over 1,000,000 kWh, a 2030 "forecast" and a 2019 backfill at 100 %, then it is 40 %, not 87.79 %', () => {
    // given: the calculations the issue recorded (before periods were bounded by approval and now)
    const recorded = [
      calc('nov-2026', '2026-12-01T00:00:00.000Z', 1_000_000, 40),
      calc('forecast-2030', '2030-01-01T00:00:00.000Z', 1_000_000, 100),
      calc('backfill-2019', '2019-02-01T00:00:00.000Z', 10, 100),
    ];
    // when
    const accuracy = definitionAccuracy('def-1', recorded, NOW);
    // then: the forecast has not ended; the backfill weighs 10 kWh against 1,000,000
    expect(accuracy).toEqual({ definitionId: 'def-1', basisPoints: 4000, calculationIds: ['nov-2026', 'backfill-2019'], quantity: 1_000_010, sampleSize: 200, matchedSamples: 140 });
    expect(accuracy!.basisPoints).toBeLessThan(8500);
  });

  it('given only periods that end after now, then there is no measured accuracy', () => {
    expect(definitionAccuracy('def-1', [calc('future', '2027-01-01T00:00:00.000Z', 5, 100)], NOW)).toBeNull();
  });

  it('given calculations recorded before samples were required (no samples), then they measure nothing', () => {
    expect(definitionAccuracy('def-1', [calc('typed-in', '2026-11-01T00:00:00.000Z', 5, null, null)], NOW)).toBeNull();
  });

  it(`given more than ${RECENT_PERIODS} ended periods, then only the latest ${RECENT_PERIODS} count`, () => {
    const months = ['2026-08-01', '2026-09-01', '2026-10-01', '2026-11-01'].map((end, i) => calc(`m${i}`, `${end}T00:00:00.000Z`, 100, i === 0 ? 0 : 90));
    expect(definitionAccuracy('def-1', months, NOW)).toMatchObject({ basisPoints: 9000, calculationIds: ['m3', 'm2', 'm1'] });
  });

  it('given two calculations ending at the same time, then the one recorded last is taken first (ties pick the newest)', () => {
    const months = ['2026-09-01', '2026-10-01', '2026-11-01'].map((end, i) => calc(`m${i}`, `${end}T00:00:00.000Z`, 100, 90));
    const tie = calc('m2-later', '2026-11-01T00:00:00.000Z', 100, 60);
    expect(definitionAccuracy('def-1', [...months, tie], NOW)).toMatchObject({ calculationIds: ['m2-later', 'm2', 'm1'], basisPoints: 8000 });
  });

  it('weights by quantity: 1,000 kWh at 90 % and 9,000 kWh at 50 % make 54 %; with no quantity at all, matched / total', () => {
    expect(definitionAccuracy('def-1', [calc('a', '2026-10-01T00:00:00.000Z', 1000, 90), calc('b', '2026-11-01T00:00:00.000Z', 9000, 50)], NOW)!.basisPoints).toBe(5400);
    expect(definitionAccuracy('def-1', [calc('a', '2026-10-01T00:00:00.000Z', 0, 90), calc('b', '2026-11-01T00:00:00.000Z', 0, 30, 300)], NOW)!.basisPoints).toBe(3000);
  });

  it('rounds down once, exactly: 2 of 3 is 66.66 %', () => {
    expect(accuracyBasisPoints(2, 3)).toBe(6666);
    expect(definitionAccuracy('def-1', [calc('a', '2026-11-01T00:00:00.000Z', 7, 2, 3)], NOW)!.basisPoints).toBe(6666);
  });

  const calculation = fc.record({
    calculationId: fc.uuid(),
    periodEnd: fc.integer({ min: Date.UTC(2018, 0, 1), max: Date.UTC(2031, 0, 1) }).map((ms) => new Date(ms).toISOString()),
    quantity: fc.integer({ min: 0, max: 2 ** 40 }),
    sampleSize: fc.integer({ min: 1, max: 1_000_000 }),
  }).chain((row) => fc.integer({ min: 0, max: row.sampleSize }).map((matchedSamples): CountingCalculation => ({ ...row, matchedSamples })));

  it('property: the result lies between the lowest and highest accuracy it considered, and only ended periods count', () => {
    fc.assert(
      fc.property(fc.array(calculation, { maxLength: 12 }), (rows) => {
        const result = definitionAccuracy('def-1', rows, NOW);
        const ended = rows.filter((row) => row.periodEnd <= NOW);
        if (ended.length === 0) return expect(result).toBeNull();
        expect(result).not.toBeNull();
        const considered = rows.filter((row) => result!.calculationIds.includes(row.calculationId));
        expect(considered.every((row) => row.periodEnd <= NOW)).toBe(true);
        expect(considered).toHaveLength(Math.min(RECENT_PERIODS, ended.length));
        const each = considered.map((row) => accuracyBasisPoints(row.matchedSamples!, row.sampleSize!));
        expect(result!.basisPoints).toBeGreaterThanOrEqual(Math.min(...each));
        expect(result!.basisPoints).toBeLessThanOrEqual(Math.max(...each));
      }),
      { numRuns: 300 },
    );
  });

  it('property: periods ending in the future never change the result', () => {
    fc.assert(
      fc.property(fc.array(calculation, { maxLength: 8 }), fc.array(calculation, { maxLength: 4 }), (rows, more) => {
        const future = more.map((row) => ({ ...row, periodEnd: '2030-01-01T00:00:00.000Z' }));
        expect(definitionAccuracy('def-1', [...rows, ...future], NOW)).toEqual(definitionAccuracy('def-1', rows, NOW));
      }),
      { numRuns: 200 },
    );
  });
});
