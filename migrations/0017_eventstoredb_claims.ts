import type { Knex } from 'knex';

/**
 * Issue 26, item 4: the EventStoreDB adapter's registry of event ids and idempotency keys moves
 * from one EventStoreDB stream per claim to this table (docs/eventstoredb.md, "What the adapter
 * adds to EventStoreDB"). A claim belongs to one EventStoreDB store (`store_id`, its identity),
 * so a database that served another store never answers for this one. `revision` moves on every
 * take and release, so a claimant replaces only the claim it looked at.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE eventstoredb_claims (
      store_id   text        NOT NULL,
      name       text        NOT NULL,
      record     jsonb       NOT NULL,
      revision   bigint      NOT NULL,
      released   boolean     NOT NULL DEFAULT false,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (store_id, name)
    )`);
  // The claims an earlier version kept as streams in the store, copied here once per store, and
  // the $all position the copy read to (claim-recovery.ts).
  await knex.raw(`
    CREATE TABLE eventstoredb_claim_imports (
      store_id         text        PRIMARY KEY,
      event_ids        bigint      NOT NULL,
      keys             bigint      NOT NULL,
      imported_through text,
      completed_at     timestamptz NOT NULL DEFAULT now()
    )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE eventstoredb_claim_imports');
  await knex.raw('DROP TABLE eventstoredb_claims');
}
