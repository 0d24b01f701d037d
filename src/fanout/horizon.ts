import type { Knex } from 'knex';

/** The oldest transaction that holds a transaction id, anywhere in the cluster. */
export interface HorizonHolder {
  /** `session`: a backend (pg_stat_activity); `prepared`: a prepared transaction (pg_prepared_xacts). */
  readonly kind: 'session' | 'prepared';
  readonly pid: number | null;
  readonly database: string | null;
  /** The session's state (`idle in transaction`, `active`…), or `prepared`. */
  readonly state: string | null;
  /** When its transaction began (a prepared transaction: when it was prepared); null when this role may not see it. */
  readonly since: string | null;
  readonly xid: string;
  /** A prepared transaction's name (COMMIT PREPARED / ROLLBACK PREPARED take it). */
  readonly gid: string | null;
}

/**
 * The read horizon: global reads (the relay, the projectors, the receipt builder) stop below the
 * oldest transaction id still in progress in the cluster (pg_snapshot_xmin), whatever database
 * it belongs to. While one transaction holds an xid, events committed after it are not read.
 */
export interface EventHorizon {
  /** Seconds since the oldest xid-holding transaction began; 0 when none holds one; null when unknown. */
  readonly ageSeconds: number | null;
  /** ageSeconds above thresholdSeconds (PROOFLINE_HORIZON_DEGRADED_SECONDS): readers are stalled that long. */
  readonly degraded: boolean;
  readonly thresholdSeconds: number;
  readonly oldest: HorizonHolder | null;
  /** Why the horizon could not be read. */
  readonly error?: string;
}

/**
 * Asks the server for the oldest transaction holding an xid: sessions with a backend_xid (this
 * one excepted) and prepared transactions. Seeing other roles' sessions needs pg_read_all_stats
 * (or pg_monitor); without it their start time is hidden and the age reads null.
 */
export async function readHorizon(knex: Knex, thresholdSeconds: number): Promise<EventHorizon> {
  try {
    // The oldest by xid (age() counts transactions since, across wraparound), not by start time: that one is the horizon.
    const result = await knex.raw(`
      SELECT h.kind, h.pid, h.database, h.state, h.since, h.xid, h.gid,
             extract(epoch FROM clock_timestamp() - h.since)::float8 AS age
        FROM (
          SELECT 'session' AS kind, pid, datname::text AS database, state, xact_start AS since, backend_xid::text AS xid, NULL::text AS gid, age(backend_xid) AS xid_age
            FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()
          UNION ALL
          SELECT 'prepared', NULL, database::text, 'prepared', prepared, transaction::text, gid, age(transaction) FROM pg_prepared_xacts
        ) h
       ORDER BY h.xid_age DESC
       LIMIT 1`);
    const [row] = result.rows as Array<{ kind: 'session' | 'prepared'; pid: number | null; database: string | null; state: string | null; since: Date | string | null; xid: string; gid: string | null; age: number | null }>;
    if (!row) return { ageSeconds: 0, degraded: false, thresholdSeconds, oldest: null };
    const ageSeconds = row.age === null ? null : Math.max(0, Number(row.age));
    return {
      ageSeconds,
      degraded: ageSeconds !== null && ageSeconds > thresholdSeconds,
      thresholdSeconds,
      oldest: { kind: row.kind, pid: row.pid === null ? null : Number(row.pid), database: row.database, state: row.state, since: row.since === null ? null : new Date(row.since).toISOString(), xid: row.xid, gid: row.gid },
    };
  } catch (error) {
    return { ageSeconds: null, degraded: false, thresholdSeconds, oldest: null, error: error instanceof Error ? error.message : String(error) };
  }
}
