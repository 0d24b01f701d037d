import fc from 'fast-check';
import { endOfLocalDay } from '../../../src/value-calculations/decide-time-zone';

/** The last instant whose wall-clock date in `timeZone` is `date`, found by walking minute by minute: slow, obviously right. */
function byWalking(date: string, timeZone: string): string {
  const format = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
  const [year, month, day] = date.split('-').map(Number);
  let last = -1;
  for (let t = Date.UTC(year, month - 1, day) - 16 * 3_600_000; t < Date.UTC(year, month - 1, day) + 40 * 3_600_000; t += 60_000) if (format.format(new Date(t)) === date) last = t;
  return new Date(last + 59_999).toISOString();
}

describe("endOfLocalDay: 'as of 2026-11-21' is the end of that day on the tenant's wall clock", () => {
  it.each([
    ['2026-11-21', 'UTC', '2026-11-21T23:59:59.999Z'],
    ['2026-11-21', 'Europe/Berlin', '2026-11-21T22:59:59.999Z'],
    ['2026-03-29', 'Europe/Berlin', '2026-03-29T21:59:59.999Z'],
    ['2026-10-25', 'Europe/Berlin', '2026-10-25T22:59:59.999Z'],
    ['2026-03-08', 'America/New_York', '2026-03-09T03:59:59.999Z'],
    ['2026-11-21', 'Asia/Kolkata', '2026-11-21T18:29:59.999Z'],
    ['2026-12-31', 'Pacific/Kiritimati', '2026-12-31T09:59:59.999Z'],
    // The next local midnight does not exist (the clocks jump from 00:00 to 01:00): the day lasts to 23:59:59.999 all the same.
    ['2026-09-05', 'America/Santiago', '2026-09-06T03:59:59.999Z'],
    ['2026-03-07', 'America/Havana', '2026-03-08T04:59:59.999Z'],
  ])('given %s in %s, then it ends at %s', (date, timeZone, expected) => {
    expect(endOfLocalDay(date, timeZone)).toBe(expected);
  });

  it('given a year before 100, then it is that year (not 19xx)', () => {
    expect(endOfLocalDay('0050-01-01', 'UTC')).toBe('0050-01-01T23:59:59.999Z');
  });

  it('agrees with walking the clock minute by minute, for any day of 2024–2027 in zones with daylight saving or odd offsets', () => {
    const zones = ['Europe/Berlin', 'Atlantic/Azores', 'America/Santiago', 'America/Havana', 'America/Asuncion', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'Pacific/Chatham', 'America/St_Johns'];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 * 365 }), fc.constantFrom(...zones), (offset, timeZone) => {
        const date = new Date(Date.UTC(2024, 0, 1) + offset * 86_400_000).toISOString().slice(0, 10);
        expect(endOfLocalDay(date, timeZone)).toBe(byWalking(date, timeZone));
      }),
      { numRuns: 300 },
    );
  });
});
