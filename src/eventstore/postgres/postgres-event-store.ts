import type { Knex } from 'knex';
import { canonicalJson, type EventEnvelope } from '../../../contracts';
import { ProoflineError } from '../../errors/proofline-error';
import { catchUpBatches, catchUpSubscription, LocalAppendSignal } from '../catch-up-subscription';
import { expectationHolds } from '../expected-version';
import { DuplicateEventError, IdempotencyKeyUsedError, WrongExpectedVersionError } from '../errors';
import type {
  AppendOptions,
  BatchSubscription,
  AppendResult,
  EventStore,
  EventsAfter,
  EventSubscription,
  ExpectedVersion,
  IdempotentAppend,
  ReadAllFilter,
  ReadStreamOptions,
  RecordedEvent,
  StoreIdentity,
  SubscribeOptions,
} from '../event-store.port';
import type { GlobalPosition } from '../global-position';
import { appendStatement, type EventRowInput } from './append-sql';
import { translateDatabaseError, uniqueViolationOf } from './database-errors';
import { EVENT_COLUMNS, toRecordedEvent, type EventRow } from './rows';

/**
 * The EventStore port on PostgreSQL — a server through `pg`, or embedded PGlite; the SQL is the
 * same. Global reads only return rows whose transaction is older than every transaction still
 * in flight (`pg_snapshot_xmin`), in (transaction, sequence) order, so a reader never passes
 * an event that commits later with a lower sequence number.
 */
export class PostgresEventStore implements EventStore {
  private readonly appended = new LocalAppendSignal();
  private identityOnce?: Promise<StoreIdentity>;

  constructor(private readonly knex: Knex) {}

  async append(streamId: string, events: readonly EventEnvelope[], expected: ExpectedVersion, options: AppendOptions = {}): Promise<AppendResult> {
    if (events.length === 0) return this.appendNothing(streamId, expected, options);
    const tenantId = events[0].tenantId;
    const rows = events.map((envelope, idx) => toRowInput(streamId, tenantId, envelope, idx));
    const statement = appendStatement(streamId, tenantId, expected, rows, options.idempotency);
    let result: { rows: Array<Omit<EventRow, 'envelope'>> };
    try {
      result = await this.knex.raw(statement.sql, statement.bindings as Knex.RawBinding[]);
    } catch (error) {
      throw this.appendFailure(error, events, options);
    }
    if (result.rows.length === 0) throw await this.conflict(streamId, tenantId, expected);
    this.appended.notify();
    const versions = result.rows.map((row) => Number(row.stream_version));
    return {
      nextExpectedVersion: versions[versions.length - 1],
      streamVersions: versions,
      positions: result.rows.map((row) => ({ commit: BigInt(row.commit), prepare: BigInt(row.prepare) })),
    };
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const backwards = options.direction === 'backwards';
    const from = options.fromVersion ?? (backwards ? Number.MAX_SAFE_INTEGER : 0);
    const limit = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    const result = await this.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events WHERE stream_id = ? AND stream_version ${backwards ? '<=' : '>='} ?
       ORDER BY events.stream_version ${backwards ? 'DESC' : 'ASC'} LIMIT ?`,
      [streamId, from, limit],
    );
    return result.map(toRecordedEvent);
  }

  async readAll(from: GlobalPosition, batchSize: number, filter: ReadAllFilter = {}): Promise<RecordedEvent[]> {
    const byTenant = filter.tenantId === undefined ? '' : 'AND tenant_id = ?';
    const after = filter.includeFrom ? '>=' : '>';
    const result = await this.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events
       WHERE (transaction_id, global_position) ${after} (CAST(? AS xid8), CAST(? AS bigint)) ${byTenant}
         AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
       ORDER BY transaction_id, global_position LIMIT ?`,
      [from.commit.toString(), from.prepare.toString(), ...(filter.tenantId === undefined ? [] : [filter.tenantId]), batchSize],
    );
    return result.map(toRecordedEvent);
  }

  subscribe(from: GlobalPosition, options?: SubscribeOptions): EventSubscription {
    return catchUpSubscription((position, size) => this.readAll(position, size), this.appended, from, options);
  }

  subscribeBatches(from: GlobalPosition, options?: SubscribeOptions): BatchSubscription {
    return catchUpBatches((position, size) => this.readAll(position, size), this.appended, from, options);
  }

  async countAfter(from: GlobalPosition, limit: number): Promise<EventsAfter> {
    const rows = await this.query<{ count: number; oldest: Date | string | null }>(
      `WITH pending AS (
         SELECT occurred_at, transaction_id, global_position FROM events
          WHERE (transaction_id, global_position) > (CAST(? AS xid8), CAST(? AS bigint))
            AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
          ORDER BY transaction_id, global_position LIMIT ?)
       SELECT count(*)::int AS count, (SELECT occurred_at FROM pending ORDER BY transaction_id, global_position LIMIT 1) AS oldest FROM pending`,
      [String(from.commit), String(from.prepare), limit],
    );
    const [row] = rows;
    return { count: Number(row.count), oldestOccurredAt: row.oldest ? new Date(row.oldest).toISOString() : undefined };
  }

  async streamVersion(streamId: string): Promise<number | undefined> {
    const rows = await this.query<{ version: string }>(`SELECT version::text AS version FROM streams WHERE stream_id = ?`, [streamId]);
    return rows.length === 0 ? undefined : Number(rows[0].version);
  }

  async findIdempotentAppend(tenantId: string, key: string): Promise<IdempotentAppend | undefined> {
    const rows = await this.query<{ request_hash: string; stream_id: string; first_version: string; event_count: number }>(
      `SELECT request_hash, stream_id, first_version::text AS first_version, event_count
       FROM idempotency_keys WHERE tenant_id = ? AND idempotency_key = ?`,
      [tenantId, key],
    );
    if (rows.length === 0) return undefined;
    const [row] = rows;
    return { requestHash: row.request_hash, streamId: row.stream_id, firstVersion: Number(row.first_version), eventCount: Number(row.event_count) };
  }

  /**
   * The cluster's system identifier (fixed at initdb; a physical backup or replica keeps it, a
   * pg_dump restored elsewhere does not) and the schema the events live in.
   */
  identity(): Promise<StoreIdentity> {
    this.identityOnce ??= this.query<{ system_identifier: string; schema: string }>(
      'SELECT system_identifier::text AS system_identifier, current_schema() AS schema FROM pg_control_system()',
      [],
    ).then(
      ([row]) => ({ kind: 'postgresql' as const, id: `${row.system_identifier}/${row.schema}` }),
      (error: unknown) => {
        this.identityOnce = undefined;
        throw error;
      },
    );
    return this.identityOnce;
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1', []);
  }

  async close(): Promise<void> {
    // The connection belongs to the Database; the store only stops waking its subscribers.
    this.appended.notify();
  }

  private async query<Row>(sql: string, bindings: Knex.RawBinding[]): Promise<Row[]> {
    try {
      const result = await this.knex.raw(sql, bindings);
      return result.rows as Row[];
    } catch (error) {
      throw translateDatabaseError(error);
    }
  }

  /** Appends no event, but still records an idempotency claim, so a retried no-op stays a no-op. */
  private async appendNothing(streamId: string, expected: ExpectedVersion, options: AppendOptions): Promise<AppendResult> {
    const actual = await this.streamVersion(streamId);
    if (!expectationHolds(expected, actual)) throw new WrongExpectedVersionError(streamId, expected, actual);
    const claim = options.idempotency;
    if (claim) {
      try {
        await this.knex.raw(
          `INSERT INTO idempotency_keys (tenant_id, idempotency_key, request_hash, stream_id, first_version, event_count) VALUES (?, ?, ?, ?, ?, 0)`,
          [claim.tenantId, claim.key, claim.requestHash, streamId, (actual ?? -1) + 1],
        );
      } catch (error) {
        throw this.appendFailure(error, [], options);
      }
    }
    return { nextExpectedVersion: actual ?? -1, positions: [], streamVersions: [] };
  }

  private async conflict(streamId: string, tenantId: string, expected: ExpectedVersion): Promise<Error> {
    const rows = await this.query<{ version: string; tenant_id: string }>(
      `SELECT version::text AS version, tenant_id FROM streams WHERE stream_id = ?`,
      [streamId],
    );
    if (rows.length > 0 && rows[0].tenant_id !== tenantId) {
      return new ProoflineError('STREAM.NOT_FOUND', `stream ${streamId} does not exist for tenant ${tenantId}`, 404, { streamId });
    }
    return new WrongExpectedVersionError(streamId, expected, rows.length === 0 ? undefined : Number(rows[0].version));
  }

  private appendFailure(error: unknown, events: readonly EventEnvelope[], options: AppendOptions): Error {
    const constraint = uniqueViolationOf(error);
    if (constraint === 'events_event_id_unique') return new DuplicateEventError(events.map((event) => event.id));
    if (constraint === 'idempotency_keys_pkey' && options.idempotency) {
      return new IdempotencyKeyUsedError(options.idempotency.tenantId, options.idempotency.key);
    }
    return translateDatabaseError(error);
  }
}

function toRowInput(streamId: string, tenantId: string, envelope: EventEnvelope, idx: number): EventRowInput {
  if (envelope.streamId !== streamId || envelope.tenantId !== tenantId) {
    throw new ProoflineError('STREAM.MIXED_BATCH', `event ${envelope.id} belongs to stream ${envelope.streamId} of tenant ${envelope.tenantId}, not ${streamId} of ${tenantId}`, 500);
  }
  return {
    idx,
    event_id: envelope.id,
    event_type: envelope.type,
    schema_version: envelope.schemaVersion,
    occurred_at: envelope.occurredAt,
    envelope: canonicalJson(envelope),
  };
}
