import type { Knex } from 'knex';
import type { GlobalPosition } from '../eventstore/global-position';

/** Counting further than this is slow and says nothing more useful than "very far behind". */
export const LAG_COUNT_LIMIT = 1_000_000;

/**
 * Events readable after `from` (capped at LAG_COUNT_LIMIT), read from the PostgreSQL store's
 * table with the same visibility rule as readAll, and the occurredAt of the first of them.
 */
export async function eventsAfter(knex: Knex, from: GlobalPosition): Promise<{ count: number; oldestOccurredAt?: string }> {
  const result = await knex.raw(
    `WITH pending AS (
       SELECT occurred_at, transaction_id, global_position FROM events
        WHERE (transaction_id, global_position) > (CAST(? AS xid8), CAST(? AS bigint))
          AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY transaction_id, global_position LIMIT ?)
     SELECT count(*)::int AS count, (SELECT occurred_at FROM pending ORDER BY transaction_id, global_position LIMIT 1) AS oldest FROM pending`,
    [String(from.commit), String(from.prepare), LAG_COUNT_LIMIT],
  );
  const row = result.rows[0] as { count: number; oldest: Date | string | null };
  return { count: row.count, oldestOccurredAt: row.oldest ? new Date(row.oldest).toISOString() : undefined };
}
