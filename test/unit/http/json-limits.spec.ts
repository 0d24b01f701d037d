import fc from 'fast-check';
import { jsonLimitBroken, MAX_JSON_DEPTH, MAX_JSON_VALUES, nestsDeeperThan } from '../../../src/http/json-limits';

const nested = (depth: number): unknown => {
  let value: unknown = 1;
  for (let i = 0; i < depth; i += 1) value = i % 2 === 0 ? [value] : { a: value };
  return value;
};

describe('nestsDeeperThan', () => {
  it('counts arrays and objects as levels, scalars as none', () => {
    expect(nestsDeeperThan(1, 0)).toBe(false);
    expect(nestsDeeperThan(null, 0)).toBe(false);
    expect(nestsDeeperThan({}, 0)).toBe(true);
    expect(nestsDeeperThan({ a: [1] }, 2)).toBe(false);
    expect(nestsDeeperThan({ a: [1] }, 1)).toBe(true);
  });

  it('walks 100,000 levels without exhausting the stack', () => {
    expect(nestsDeeperThan(nested(100_000), MAX_JSON_DEPTH)).toBe(true);
  });

  it('agrees with a recursive depth count on any JSON value', () => {
    const depthOf = (value: unknown): number => (value !== null && typeof value === 'object' ? 1 + Math.max(0, ...Object.values(value).map(depthOf)) : 0);
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 0, max: 10 }), (value, limit) => {
        expect(nestsDeeperThan(value, limit)).toBe(depthOf(value) > limit);
      }),
    );
  });
});

describe('jsonLimitBroken', () => {
  const limits = { depth: MAX_JSON_DEPTH, values: MAX_JSON_VALUES };
  it('counts every value: a flat object of 60,000 keys breaks max-values, one of 9,999 does not', () => {
    const wide = (keys: number) => Object.fromEntries(Array.from({ length: keys }, (_, i) => [`k${i}`, 1]));
    expect(jsonLimitBroken(wide(60_000), limits)).toBe('max-values');
    expect(jsonLimitBroken(wide(MAX_JSON_VALUES - 1), limits)).toBeUndefined(); // the object itself is the last value
    expect(jsonLimitBroken(wide(MAX_JSON_VALUES), limits)).toBe('max-values');
  });

  it('a long array of scalars counts too', () => {
    expect(jsonLimitBroken(new Array(MAX_JSON_VALUES + 5).fill(0), limits)).toBe('max-values');
  });
});
