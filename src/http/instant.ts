import { ValidateBy, type ValidationOptions } from 'class-validator';

/**
 * An RFC 3339 date-time that names its offset (`Z` or `±hh:mm`), and a real one (no 30 February,
 * no hour 25). Without an offset the instant would depend on the server's zone: refused.
 */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-](\d{2}):(\d{2}))$/i;

export function isInstantWithOffset(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const match = RFC3339.exec(value);
  if (!match) return false;
  const [, year, month, day, hour, minute, second, , , offsetHours, offsetMinutes] = match;
  if (Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) return false;
  if (offsetHours !== undefined && (Number(offsetHours) > 23 || Number(offsetMinutes) > 59)) return false;
  const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  return date.getUTCFullYear() === Number(year) && date.getUTCMonth() === Number(month) - 1 && date.getUTCDate() === Number(day) && !Number.isNaN(Date.parse(value));
}

/** Validation rule `instant-with-offset`: the field must be an RFC 3339 date-time with `Z` or an offset. */
export function IsInstantWithOffset(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'instant-with-offset',
      validator: {
        validate: (value) => isInstantWithOffset(value),
        defaultMessage: (args) => `${args?.property ?? 'the field'} must be an RFC 3339 date-time with Z or an offset (2026-11-01T00:00:00Z, 2026-11-01T00:00:00+01:00)`,
      },
    },
    options,
  );
}
