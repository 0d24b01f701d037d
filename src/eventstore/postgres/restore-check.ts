import type { Knex } from 'knex';

/** What the start-up check found: the highest transaction id in `events`, and the cluster's next one. */
export interface TransactionCounters {
  /** null when `events` is empty. */
  readonly highestStored: bigint | null;
  /** `pg_snapshot_xmax(pg_current_snapshot())`: the first transaction id not yet assigned in this cluster. */
  readonly next: bigint;
}

export async function transactionCounters(knex: Knex): Promise<TransactionCounters> {
  // ORDER BY … LIMIT 1 walks the (transaction_id, global_position) index from its end; pg_snapshot_xmax assigns no id.
  const result = await knex.raw(
    `SELECT (SELECT transaction_id::text FROM events ORDER BY transaction_id DESC LIMIT 1) AS highest,
            pg_snapshot_xmax(pg_current_snapshot())::text AS next`,
  );
  const [row] = result.rows as Array<{ highest: string | null; next: string }>;
  return { highestStored: row.highest === null ? null : BigInt(row.highest), next: BigInt(row.next) };
}

/**
 * Global positions are PostgreSQL transaction ids. A logical restore (pg_dump/pg_restore, COPY)
 * into another cluster keeps the stored ids but not the cluster's counter: an event whose id is
 * at or above the counter is hidden from every global reader (it is never below the horizon)
 * and the next append takes a smaller id than events already read, so checkpoints skip it.
 * Returns the reason to refuse to start, or undefined when every stored id is in the past.
 */
export async function logicalRestoreFault(knex: Knex): Promise<string | undefined> {
  const { highestStored, next } = await transactionCounters(knex);
  if (highestStored === null || highestStored < next) return undefined;
  const gap = highestStored - next + 1n;
  return (
    `the events table holds transaction id ${highestStored} but this PostgreSQL cluster has only reached ${next}: ` +
    `it was restored logically (pg_dump/pg_restore or COPY) from another cluster, and readers would skip events. ` +
    `Restore a physical backup instead, or advance this cluster's transaction counter by ${gap} ` +
    `(docs/operations.md, "Restoring the event store")`
  );
}
