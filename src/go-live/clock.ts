/**
 * Where the setup, calculation and go-live routes read "now": the instant a calculation's period
 * must have ended by, the preflight's `decidedAt`, and the `occurredAt` of the events those routes
 * append (one instant per request, so what was decided and when it is said to have happened
 * agree). A port rather than `new Date()` so that a test can stand weeks after an approval
 * without faking the process's Date; the deciders read no clock at all: `now` comes in with the
 * command.
 */
export interface Clock {
  now(): Date;
}

/** Nest injection token of the Clock. */
export const CLOCK = Symbol('Clock');

/** The system clock; a fresh object per application, so replacing one app's clock touches no other. */
export function systemClock(): Clock {
  return { now: () => new Date() };
}
