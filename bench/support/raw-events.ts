import type { Knex } from 'knex';
import type { rawRowOf } from './events';

/**
 * The unsigned baseline: a table identical to `events` (columns, defaults, constraints,
 * indexes; not the append-only triggers, which fire on UPDATE/DELETE only) written with plain
 * INSERTs: no signing, no canonical JSON, no stream-version row, no expected-version check.
 */
export async function createRawEventsTable(knex: Knex): Promise<void> {
  await knex.raw('CREATE TABLE raw_events (LIKE events INCLUDING ALL)');
}

type RawRow = ReturnType<typeof rawRowOf>;

const COLUMNS = 'event_id, stream_id, stream_version, tenant_id, event_type, schema_version, occurred_at, envelope';

/** One INSERT statement for `rows` (one row: the single-event baseline; many: the batched one). */
export async function insertRaw(knex: Knex, rows: readonly RawRow[]): Promise<number> {
  const values = rows.map(() => '(?, ?, ?, ?, ?, ?, ?, ?)').join(', ');
  const bindings = rows.flatMap((r) => [r.event_id, r.stream_id, r.stream_version, r.tenant_id, r.event_type, r.schema_version, r.occurred_at, r.envelope]);
  const result = await knex.raw(
    `INSERT INTO raw_events (${COLUMNS}) VALUES ${values}
     RETURNING transaction_id::text AS commit, global_position::text AS prepare, stream_version::text AS stream_version`,
    bindings,
  );
  return result.rows.length;
}
