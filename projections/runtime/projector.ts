import type { Knex } from 'knex';
import type { EventEnvelope } from '../../contracts';
import type { GlobalPosition } from '../../src/eventstore/global-position';

/** An event as a projector receives it, whether it came through Kafka or straight from the store. */
export interface ProjectedEvent {
  readonly envelope: EventEnvelope;
  readonly streamVersion: number;
  readonly position: GlobalPosition;
}

/** What a projector does when its handler throws on an event (docs/projections.md, "Failures"). */
export type FailurePolicy = 'skip' | 'stop';

export interface ProjectionContext {
  /** The transaction the runner writes the projector's position and revision guard in. */
  readonly trx: Knex.Transaction;
  /** The physical name of each declared table: the live one, or its shadow during a rebuild. */
  readonly tables: Readonly<Record<string, string>>;
}

/**
 * A read model: one file in projections/. It names the event types it handles, declares its
 * tables, and applies events inside the runner's transaction. The runner guarantees each event
 * reaches `apply` at most once per stream version and in stream order, so a handler needs no
 * deduplication of its own.
 */
export interface Projector {
  /** Also the Kafka consumer group (`proofline.projector.<name>`) and the table prefix. */
  readonly name: string;
  readonly handles: readonly string[];
  /** Logical table name → its columns; created as `proj_<name>_<table>`. Primary keys keep checksums stable. */
  readonly tables: Readonly<Record<string, (table: Knex.CreateTableBuilder) => void>>;
  readonly onFailure: FailurePolicy;
  /** Applies events (already filtered to `handles`, deduplicated, in order per stream). Throwing fails them all; the runner then retries one by one to find the culprit. */
  apply(events: readonly ProjectedEvent[], context: ProjectionContext): Promise<void>;
}

export function defineProjector(projector: Projector): Projector {
  if (!/^[a-z][a-z0-9_]{0,40}$/.test(projector.name)) throw new RangeError(`a projector name is lowercase letters, digits and _: ${JSON.stringify(projector.name)}`);
  return projector;
}
