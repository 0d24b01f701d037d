/**
 * Billing time zones: IANA names (`Europe/Berlin`, `UTC`), checked against the zone database
 * the runtime ships (Intl). Offsets such as `+01:00` are not zones: a zone knows its daylight
 * saving, an offset does not.
 */
const ZONE_NAME = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/;

/** The zone's canonical IANA name, or null when the runtime does not know it. */
export function canonicalTimeZone(name: string): string | null {
  if (!ZONE_NAME.test(name)) return null;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
}

/** Whether `instant` is 00:00:00.000 on the wall clock of `timeZone`. */
export function isLocalMidnight(instant: string, timeZone: string): boolean {
  const date = new Date(instant);
  if (Number.isNaN(date.getTime()) || date.getUTCMilliseconds() !== 0) return false;
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', hour: '2-digit', minute: '2-digit', second: '2-digit' }).formatToParts(date);
  return parts.filter((part) => part.type === 'hour' || part.type === 'minute' || part.type === 'second').every((part) => Number(part.value) === 0);
}

/**
 * The last millisecond of `date` (YYYY-MM-DD) on the wall clock of `timeZone`, as an ISO
 * instant: what "as of that day" means to a finance user in that zone. It is the next day's first
 * local instant, less 1 ms. That instant is the next day's 00:00 less the zone's offset, the
 * offset being the one before or after a change on that night (daylight saving, a zone's new
 * rules): of the two candidates, the earliest whose wall clock has reached the next day. Where the
 * next day's 00:00 does not exist (the clocks jump from 00:00 to 01:00), that is its 01:00.
 */
export function endOfLocalDay(date: string, timeZone: string): string {
  const [year, month, day] = date.split('-').map(Number);
  const nextDay = new Date(0);
  // setUTCFullYear, not Date.UTC: the latter reads years 0–99 as 1900–1999.
  nextDay.setUTCFullYear(year, month - 1, day + 1);
  const wallMidnight = nextDay.getTime();
  const candidates = [wallMidnight - offsetMs(wallMidnight - DAY_MS, timeZone), wallMidnight - offsetMs(wallMidnight + DAY_MS, timeZone)].sort((a, b) => a - b);
  const start = candidates.find((candidate) => candidate + offsetMs(candidate, timeZone) >= wallMidnight) ?? candidates[1];
  return new Date(start - 1).toISOString();
}

const DAY_MS = 86_400_000;

/** How far the wall clock of `timeZone` is ahead of UTC at `instant`, in milliseconds. */
function offsetMs(instant: number, timeZone: string): number {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
      .formatToParts(new Date(instant))
      .map((part) => [part.type, Number(part.value)]),
  );
  const wall = new Date(0);
  wall.setUTCFullYear(parts.year, parts.month - 1, parts.day);
  wall.setUTCHours(parts.hour, parts.minute, parts.second, 0);
  return wall.getTime() - Math.floor(instant / 1000) * 1000;
}
