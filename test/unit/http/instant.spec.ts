import { isInstantWithOffset } from '../../../src/http/instant';

describe('date-times must carry an offset or Z (rule instant-with-offset)', () => {
  it.each(['2026-11-01T00:00:00Z', '2026-11-01T00:00:00.123Z', '2026-11-01T00:00:00+01:00', '2026-11-01T00:00:00-05:30', '2026-11-01t00:00:00z'])('accepts %s', (value) => {
    expect(isInstantWithOffset(value)).toBe(true);
  });

  it.each(['2026-11-01T00:00:00', '2026-11-01', '2026-11-01T00:00', '2026-02-30T00:00:00Z', '2026-11-01T24:00:00Z', '2026-11-01T00:00:00+25:00', '2026-11-01 00:00:00Z', 1_700_000_000, null])('refuses %s', (value) => {
    expect(isInstantWithOffset(value)).toBe(false);
  });
});
