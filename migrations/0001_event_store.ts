import type { Knex } from 'knex';

const SCHEMA = [
  `CREATE TABLE streams (
        stream_id   text PRIMARY KEY,
        tenant_id   text NOT NULL,
        version     bigint NOT NULL CHECK (version >= 0),
        updated_at  timestamptz NOT NULL DEFAULT now()
      )`,
  `CREATE TABLE events (
        global_position bigserial PRIMARY KEY,
        transaction_id  xid8 NOT NULL DEFAULT pg_current_xact_id(),
        event_id        uuid NOT NULL,
        stream_id       text NOT NULL,
        stream_version  bigint NOT NULL CHECK (stream_version >= 0),
        tenant_id       text NOT NULL,
        event_type      text NOT NULL,
        schema_version  integer NOT NULL,
        occurred_at     timestamptz NOT NULL,
        recorded_at     timestamptz NOT NULL DEFAULT now(),
        envelope        text NOT NULL,
        CONSTRAINT events_event_id_unique UNIQUE (event_id),
        CONSTRAINT events_stream_version_unique UNIQUE (stream_id, stream_version)
      )`,
  `CREATE INDEX events_global_order ON events (transaction_id, global_position)`,
  `CREATE INDEX events_tenant ON events (tenant_id, transaction_id, global_position)`,
  `CREATE TABLE idempotency_keys (
        tenant_id       text NOT NULL,
        idempotency_key text NOT NULL,
        request_hash    text NOT NULL,
        stream_id       text NOT NULL,
        first_version   bigint NOT NULL,
        event_count     integer NOT NULL,
        created_at      timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT idempotency_keys_pkey PRIMARY KEY (tenant_id, idempotency_key)
      )`,
  `CREATE TABLE snapshots (
        stream_id      text PRIMARY KEY,
        stream_version bigint NOT NULL,
        state_schema   text NOT NULL,
        state          jsonb NOT NULL,
        taken_at       timestamptz NOT NULL DEFAULT now()
      )`,
  `CREATE FUNCTION proofline_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'proofline: % on % is refused: the table is append-only', TG_OP, TG_TABLE_NAME
          USING ERRCODE = 'insufficient_privilege';
      END $$`,
  `CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
        FOR EACH ROW EXECUTE FUNCTION proofline_refuse_change()`,
  `CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
        FOR EACH STATEMENT EXECUTE FUNCTION proofline_refuse_change()`,
];

/**
 * The event store. `events` is append-only (a trigger refuses UPDATE and DELETE); `streams`
 * holds each stream's version, and the row lock its UPDATE takes is what orders appenders of
 * one stream. Readers of the global order use (transaction_id, global_position), see
 * docs/event-store.md.
 */
export async function up(knex: Knex): Promise<void> {
  // One statement per call: PGlite runs parameterless queries through the extended protocol too.
  for (const statement of SCHEMA) await knex.raw(statement);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS snapshots, idempotency_keys, events, streams');
  await knex.raw('DROP FUNCTION IF EXISTS proofline_refuse_change()');
}
