import type { JsonObject, UpcasterChain } from '../../contracts';

/** An event as the domain sees it: no envelope, no signature, the current schema version. */
export interface DomainEvent<TType extends string = string, TData extends JsonObject = JsonObject> {
  readonly type: TType;
  readonly data: TData;
}

/**
 * A pure aggregate: `decide` turns a command and the current state into events (or throws a
 * DomainError), `evolve` folds an event into state. Neither may read a clock, make an id or
 * do I/O; whatever is non-deterministic arrives inside the command.
 */
export interface Decider<Command, Event extends DomainEvent, State> {
  /** Names the stream category, e.g. `workspace`. */
  readonly category: string;
  /** Changes whenever the state's shape changes, so old snapshots are ignored, not misread. */
  readonly stateSchema: string;
  readonly initialState: State;
  /** Current schema version of each event type this decider emits. */
  readonly schemaVersions: Readonly<Record<Event['type'], number>>;
  readonly upcasters: UpcasterChain;
  decide(command: Command, state: State): Event[];
  evolve(state: State, event: Event): State;
}
