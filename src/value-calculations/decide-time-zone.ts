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
