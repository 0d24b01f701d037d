import type { Knex } from 'knex';
import type { EventStore, EventsAfter } from '../eventstore/event-store.port';
import type { GlobalPosition } from '../eventstore/global-position';

/** Counting further than this is slow and says nothing more useful than "very far behind". */
export const LAG_COUNT_LIMIT = 1_000_000;

/**
 * Events committed after `from` (capped at LAG_COUNT_LIMIT, or the store's own lower cap), and
 * the occurredAt of the first. With `eventsDatabase` (the events live in this PostgreSQL
 * database) the count is taken there, without the read horizon: readers stop below the oldest
 * transaction in progress (pg_snapshot_xmin), and a lag counted below that same horizon read 0
 * while a stuck transaction stalled every reader (issue 25, item 2). Lag counts what is
 * committed; the horizon's age says why it is not being read (horizon.ts).
 */
export function eventsAfter(store: EventStore, from: GlobalPosition, eventsDatabase?: Knex): Promise<EventsAfter> {
  return eventsDatabase ? committedAfter(eventsDatabase, from, LAG_COUNT_LIMIT) : store.countAfter(from, LAG_COUNT_LIMIT);
}

async function committedAfter(knex: Knex, from: GlobalPosition, limit: number): Promise<EventsAfter> {
  const result = await knex.raw(
    `WITH pending AS (
       SELECT occurred_at, transaction_id, global_position FROM events
        WHERE (transaction_id, global_position) > (CAST(? AS xid8), CAST(? AS bigint))
        ORDER BY transaction_id, global_position LIMIT ?)
     SELECT count(*)::int AS count, (SELECT occurred_at FROM pending ORDER BY transaction_id, global_position LIMIT 1) AS oldest FROM pending`,
    [String(from.commit), String(from.prepare), limit],
  );
  const [row] = result.rows as Array<{ count: number; oldest: Date | string | null }>;
  return { count: Number(row.count), oldestOccurredAt: row.oldest ? new Date(row.oldest).toISOString() : undefined };
}
