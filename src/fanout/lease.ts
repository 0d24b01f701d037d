import type { Knex } from 'knex';
import { ProoflineError } from '../errors/proofline-error';

/** How long a holder that stopped answering (frozen, cut off, dead host) keeps a lease by default. */
export const DEFAULT_LEASE_LIFETIME_MS = 15_000;

export interface LeaseOptions {
  /**
   * The longest a holder that stops answering keeps the lease. The server ends the lease's session
   * once it has sent no statement for this long (`idle_session_timeout`), which releases the lock;
   * the holder checks in every third of it, and a check that takes a third of it counts as lost.
   */
  readonly lifetimeMs?: number;
}

/** A lease whose session is gone, or which no longer holds its lock: its holder must stop. */
export class LeaseLostError extends ProoflineError {
  constructor(name: string, why: string) {
    super('LEASE.LOST', `the ${name} lease was lost: ${why}`, 503, { lease: name });
  }
}

/** Why a lease refuses a session that is not its own alone. */
export const SHARED_SESSION = 'LEASE.SHARED_SESSION';

/** A pg client, as knex hands it out. */
type RawConnection = object;

/**
 * "Exactly one active X": a PostgreSQL session-level advisory lock held on a connection of its
 * own. The lock key is the lease's name in the session's schema (DATABASE_SCHEMA), so two
 * deployments in one database have two leases. When the holder dies its session ends and the
 * lock is released, so a standby takes over by its next attempt. A holder that stops answering
 * without dying loses the session after `lifetimeMs` (the server's `idle_session_timeout`), and a
 * holder checks the lock before acting (`check`), so a holder whose session was ended stops.
 *
 * Needs a real session: through a transaction-mode pooler (PgBouncer `pool_mode=transaction`)
 * the lock and the settings land on whichever server session runs the statement, and the lease
 * means nothing. Not for PGlite, which has one connection (and one process).
 */
export class AdvisoryLease {
  private connection?: RawConnection;
  /** A standby's session, kept between attempts. */
  private candidate?: RawConnection;
  private heartbeat?: NodeJS.Timeout;
  private readonly lifetimeMs: number;
  /** The backend pid of the lease's session while held (an operator may pg_terminate_backend it). */
  sessionPid?: number;
  /** Why the lease was last lost, for status. */
  lostBecause?: string;

  constructor(
    private readonly knex: Knex,
    readonly name: string,
    options: LeaseOptions = {},
  ) {
    this.lifetimeMs = options.lifetimeMs ?? DEFAULT_LEASE_LIFETIME_MS;
  }

  get held(): boolean {
    return this.connection !== undefined;
  }

  /** Why this lease refused a session that is not its own alone (LEASE.SHARED_SESSION), while that is still the reason; else undefined. */
  get sharedSession(): string | undefined {
    return this.lostBecause?.startsWith(SHARED_SESSION) ? this.lostBecause : undefined;
  }

  /** One attempt; true when this process now holds the lease. */
  async tryAcquire(): Promise<boolean> {
    if (this.connection) return true;
    // A session of the lease's own, outside the pool: it carries the lock and the lease's settings, and is ended, never reused.
    let connection = this.candidate;
    this.candidate = undefined;
    if (!connection) {
      const opening = this.knex.client.acquireRawConnection() as Promise<RawConnection>;
      try {
        connection = await within(this.lifetimeMs, opening);
      } catch {
        // No database, no lease: the caller tries again. A session that opens after all is ended, not left open.
        void opening.then((late) => this.dispose(late)).catch(() => undefined);
        return false;
      }
    }
    try {
      // A server session that holds the lock already is not ours alone: a transaction-mode pooler handed
      // it to this process too, and taking the lock again would succeed (it is re-entrant): two holders.
      const shared = await this.knex
        .raw(
          `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid() AND objsubid = 1
             AND ((classid::bigint << 32) | objid::bigint) = ${LOCK_KEY_SQL}) AS held`,
          [this.name],
        )
        .connection(connection);
      if ((shared.rows as Array<{ held: boolean }>)[0].held) {
        this.lostBecause = `${SHARED_SESSION}: the server session handed to this lease already holds its lock, so another client shares it (a transaction-mode pooler such as PgBouncer pool_mode=transaction?); connect to PostgreSQL directly or through a session-mode pooler`;
        await this.dispose(connection);
        return false;
      }
      const result = await this.knex
        .raw(`SELECT pg_try_advisory_lock(${LOCK_KEY_SQL}) AS acquired, pg_backend_pid() AS pid`, [this.name])
        .connection(connection);
      const [row] = result.rows as Array<{ acquired: boolean; pid: number }>;
      if (!row.acquired) {
        this.candidate = connection; // the next attempt asks on the same session
        // Another holder: standing by. A shared session seen before stays the reason until this lease holds (a pooler does not go away).
        if (!this.sharedSession) this.lostBecause = undefined;
        return false;
      }
      // Bounded lifetime: a session that sends nothing for lifetimeMs is ended by the server, and the lock with it.
      // Settings this server does not have (idle_session_timeout before PostgreSQL 14) are left out.
      const seconds = Math.max(1, Math.round(this.lifetimeMs / 1000));
      await this.knex
        .raw(
          `SELECT set_config(s.name, s.value, false) FROM (VALUES ('idle_session_timeout', CAST(? AS text)), ('statement_timeout', CAST(? AS text)),
             ('tcp_keepalives_idle', CAST(? AS text)), ('tcp_keepalives_interval', CAST(? AS text)), ('tcp_keepalives_count', '3')) AS s(name, value)
           WHERE s.name IN (SELECT name FROM pg_settings)`,
          [`${this.lifetimeMs}ms`, `${this.lifetimeMs}ms`, String(seconds), String(seconds)],
        )
        .connection(connection);
      this.connection = connection;
      this.sessionPid = Number(row.pid);
      this.lostBecause = undefined;
      this.heartbeat = setInterval(() => void this.check().catch(() => undefined), Math.max(50, Math.floor(this.lifetimeMs / 3)));
      this.heartbeat.unref();
      return true;
    } catch {
      // an unreachable database is no lease; the caller tries again on a new session
      await this.dispose(connection);
      return false;
    }
  }

  /**
   * Proves the lease is held right now: a statement on the lease's own session that finds its lock
   * granted, answered within a third of the lifetime. Otherwise the lease is forgotten and
   * LeaseLostError thrown. Run before each act the lease guards (a relay's publish, a checkpoint).
   */
  async check(): Promise<void> {
    const connection = this.connection;
    if (!connection) throw new LeaseLostError(this.name, this.lostBecause ?? 'it is not held');
    let why: string | undefined;
    try {
      const result = await within(
        Math.max(50, Math.floor(this.lifetimeMs / 3)),
        this.knex.raw(`SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted) AS held, pg_backend_pid() AS pid`).connection(connection),
      );
      const [row] = result.rows as Array<{ held: boolean; pid: number }>;
      if (Number(row.pid) !== this.sessionPid) {
        why = `${SHARED_SESSION}: its statement ran on server session ${row.pid}, not on ${this.sessionPid}, which took the lock (a transaction-mode pooler between Proofline and PostgreSQL?)`;
      } else if (!row.held) why = 'its session no longer holds the lock';
    } catch (error) {
      why = `its database session is gone or does not answer (${error instanceof Error ? error.message : String(error)})`;
    }
    if (why === undefined) return;
    if (this.connection === connection) await this.forget(why);
    throw new LeaseLostError(this.name, why);
  }

  /**
   * Runs a statement on the lease's own session: it succeeds only while the session lives, so a
   * write made this way (the relay's checkpoint) doubles as a proof of the lease. When the session
   * is gone (and the lock with it), it throws and the lease is forgotten.
   */
  async whileHeld(sql: string, bindings: readonly Knex.RawBinding[] = []): Promise<void> {
    const connection = this.connection;
    if (!connection) throw new LeaseLostError(this.name, this.lostBecause ?? 'it is not held');
    try {
      await this.knex.raw(sql, bindings).connection(connection);
    } catch (error) {
      const why = `its database session failed: ${error instanceof Error ? error.message : String(error)}`;
      if (this.connection === connection) await this.forget(why);
      throw new LeaseLostError(this.name, why);
    }
  }

  async release(): Promise<void> {
    const candidate = this.candidate;
    this.candidate = undefined;
    if (candidate) await this.dispose(candidate);
    await this.forget('released');
  }

  /** The session is never handed back to the pool: it carries the lock and the lease's settings. Ending it releases both. */
  private async forget(why: string): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    this.sessionPid = undefined;
    this.lostBecause = why;
    clearInterval(this.heartbeat);
    if (connection) await this.dispose(connection);
  }

  /** Ends the session (a session already gone may never answer: waiting is bounded). */
  private async dispose(connection: RawConnection): Promise<void> {
    await within(1000, this.knex.client.destroyRawConnection(connection) as Promise<void>).catch(() => undefined);
  }
}

/** The lock key: the lease's name in the session's schema (`?` binds the name). */
const LOCK_KEY_SQL = `hashtextextended('proofline.lease.' || coalesce(current_schema(), '') || '.' || CAST(? AS text), 0)`;

function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
