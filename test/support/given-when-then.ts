import type { Decider, DomainEvent } from '../../src/commands/decider';
import { DomainError } from '../../src/errors/proofline-error';

/** What `decide` did: the events it emitted, or the business rule that said no. */
export type Outcome<E> = { readonly events: E[] } | { readonly rejected: DomainError };

/**
 * Given/when/then for a pure decider: `given(events)` folds the history with `evolve`,
 * `when(command)` runs `decide` on the result, `then(...)` checks the emitted events and
 * `thenRejects(code, status)` the DomainError. Anything other than a DomainError escapes.
 */
export function givenWhenThen<C, E extends DomainEvent, S>(decider: Decider<C, E, S>) {
  return {
    given(history: readonly E[]) {
      const state = history.reduce(decider.evolve, decider.initialState);
      return {
        state,
        when(command: C) {
          const outcome = decide(decider, command, state);
          return {
            outcome,
            then(expected: readonly E[]): void {
              if ('rejected' in outcome) {
                throw new Error(`expected events, got ${outcome.rejected.code}: ${outcome.rejected.message}`);
              }
              expect(outcome.events).toEqual(expected);
            },
            thenRejects(code: string, status: number): DomainError {
              if (!('rejected' in outcome)) throw new Error(`expected ${code}, got events ${JSON.stringify(outcome.events)}`);
              expect({ code: outcome.rejected.code, status: outcome.rejected.status }).toEqual({ code, status });
              return outcome.rejected;
            },
          };
        },
      };
    },
  };
}

export function decide<C, E extends DomainEvent, S>(decider: Decider<C, E, S>, command: C, state: S): Outcome<E> {
  try {
    return { events: decider.decide(command, state) };
  } catch (error) {
    if (error instanceof DomainError) return { rejected: error };
    throw error;
  }
}
