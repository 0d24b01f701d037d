import type { ExpectedVersion, IdempotencyClaim } from '../event-store.port';

export interface AppendStatement {
  readonly sql: string;
  readonly bindings: unknown[];
}

export interface EventRowInput {
  readonly idx: number;
  readonly event_id: string;
  readonly event_type: string;
  readonly schema_version: number;
  readonly occurred_at: string;
  readonly envelope: string;
}

/**
 * One statement appends a batch: a data-modifying CTE moves the stream's version (its row
 * lock orders appenders of one stream, its WHERE clause checks the expected version), the
 * events are inserted only if that produced a row, and the idempotency claim lands in the
 * same statement. No row back means the expected version did not hold; nothing was written.
 *
 * Before any write, appenders of one stream queue on a transaction-scoped advisory lock.
 * Waiting on it assigns no transaction id, so each appender's id (the `commit` half of its
 * events' positions) is taken only once the previous appender has committed: global order
 * then follows stream version order. Waiting on the row lock alone would not do: a waiter
 * gets its transaction id before it queues, and the queue need not grant in id order.
 * (This holds when the append is the transaction's first write, as in autocommit.)
 */
export function appendStatement(
  streamId: string,
  tenantId: string,
  expected: ExpectedVersion,
  rows: readonly EventRowInput[],
  idempotency?: IdempotencyClaim,
): AppendStatement {
  const count = rows.length;
  const step = streamStep(streamId, tenantId, expected, count);
  const claim = idempotency
    ? {
        sql: `, claim AS (
            INSERT INTO idempotency_keys (tenant_id, idempotency_key, request_hash, stream_id, first_version, event_count)
            SELECT ?, ?, ?, ?, stream.version - ? + 1, ? FROM stream)`,
        bindings: [idempotency.tenantId, idempotency.key, idempotency.requestHash, streamId, count, count],
      }
    : { sql: '', bindings: [] };
  return {
    sql: `WITH serialized AS MATERIALIZED (SELECT pg_advisory_xact_lock(hashtextextended(CAST(? AS text), 0))),
      stream AS (${step.sql}),
      appended AS (
        INSERT INTO events (event_id, stream_id, stream_version, tenant_id, event_type, schema_version, occurred_at, envelope)
        SELECT e.event_id, ?, stream.version - ? + 1 + e.idx, ?, e.event_type, e.schema_version, e.occurred_at, e.envelope
        FROM stream CROSS JOIN jsonb_to_recordset(CAST(? AS jsonb))
          AS e(idx bigint, event_id uuid, event_type text, schema_version integer, occurred_at timestamptz, envelope text)
        ORDER BY e.idx
        RETURNING transaction_id, global_position, stream_version
      )${claim.sql}
      SELECT transaction_id::text AS commit, global_position::text AS prepare, stream_version::text AS stream_version
      FROM appended ORDER BY appended.stream_version`,
    bindings: [streamId, ...step.bindings, streamId, count, tenantId, JSON.stringify(rows), ...claim.bindings],
  };
}

function streamStep(streamId: string, tenantId: string, expected: ExpectedVersion, count: number): AppendStatement {
  switch (expected) {
    case 'no-stream':
      return {
        sql: `INSERT INTO streams (stream_id, tenant_id, version) SELECT ?, ?, ? FROM serialized
              ON CONFLICT (stream_id) DO NOTHING RETURNING version`,
        bindings: [streamId, tenantId, count - 1],
      };
    case 'any':
      return {
        sql: `INSERT INTO streams (stream_id, tenant_id, version) SELECT ?, ?, ? FROM serialized
              ON CONFLICT (stream_id) DO UPDATE SET version = streams.version + ?, updated_at = now()
              WHERE streams.tenant_id = EXCLUDED.tenant_id RETURNING version`,
        bindings: [streamId, tenantId, count - 1, count],
      };
    case 'stream-exists':
      return {
        sql: `UPDATE streams SET version = version + ?, updated_at = now() FROM serialized
              WHERE stream_id = ? AND tenant_id = ? RETURNING version`,
        bindings: [count, streamId, tenantId],
      };
    default:
      return {
        sql: `UPDATE streams SET version = version + ?, updated_at = now() FROM serialized
              WHERE stream_id = ? AND tenant_id = ? AND version = ? RETURNING version`,
        bindings: [count, streamId, tenantId, expected],
      };
  }
}
