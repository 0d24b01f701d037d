import { createHash } from 'node:crypto';
import type { Knex } from 'knex';

/**
 * "Exactly one active X": a PostgreSQL session-level advisory lock held on a connection of its
 * own. When the holder dies its session ends and the lock is released, so a standby takes over
 * by its next attempt; when the holder's connection is lost, `whileHeld` fails and it stops.
 */
export class AdvisoryLease {
  private connection?: unknown;
  private readonly key: string;

  constructor(
    private readonly knex: Knex,
    readonly name: string,
  ) {
    this.key = BigInt.asIntN(64, createHash('sha256').update(`proofline.lease.${name}`).digest().readBigUInt64BE(0)).toString();
  }

  get held(): boolean {
    return this.connection !== undefined;
  }

  /** One attempt; true when this process now holds the lease. */
  async tryAcquire(): Promise<boolean> {
    if (this.connection) return true;
    let connection: unknown;
    try {
      connection = await this.knex.client.acquireConnection();
    } catch {
      return false; // no database, no lease: the caller tries again
    }
    try {
      const result = await this.knex.raw('SELECT pg_try_advisory_lock(?::bigint) AS acquired', [this.key]).connection(connection);
      if (result.rows[0].acquired) {
        this.connection = connection;
        return true;
      }
    } catch {
      // an unreachable database is no lease; the caller tries again
    }
    await this.knex.client.releaseConnection(connection);
    return false;
  }

  /**
   * Runs a statement on the lease's own session: it succeeds only while the lease is held, so
   * a write made this way (the relay's checkpoint) doubles as the proof of the lease. When the
   * session is gone (and the lock with it), it throws and the lease is forgotten.
   */
  async whileHeld(sql: string, bindings: readonly Knex.RawBinding[] = []): Promise<void> {
    if (!this.connection) throw new Error(`the ${this.name} lease is not held`);
    try {
      await this.knex.raw(sql, bindings).connection(this.connection);
    } catch (error) {
      await this.forget();
      throw new Error(`the ${this.name} lease was lost with its database session: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  async release(): Promise<void> {
    if (!this.connection) return;
    await this.knex.raw('SELECT pg_advisory_unlock(?::bigint)', [this.key]).connection(this.connection).catch(() => undefined);
    await this.forget();
  }

  /** A session handed back to the pool must not keep the lock: unlock (harmless if the session is gone) before releasing it. */
  private async forget(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    if (!connection) return;
    await this.knex.raw('SELECT pg_advisory_unlock_all()').connection(connection).catch(() => undefined);
    await this.knex.client.releaseConnection(connection).catch(() => undefined);
  }
}
