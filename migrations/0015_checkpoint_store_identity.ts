import type { Knex } from 'knex';

/**
 * Issue 26, item 1: a checkpoint names the store its position belongs to. A position means
 * something only in the store that gave it (PostgreSQL transaction ids, EventStoreDB log
 * offsets); the relay and the receipt builder refuse to resume from one recorded against
 * another store (CHECKPOINT.FOREIGN_STORE) instead of skipping events until the store passes it.
 * Rows written before this migration name none (NULL) and are stamped by their next save.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE relay_checkpoints ADD COLUMN store_kind text, ADD COLUMN store_id text`);
  await knex.raw(`ALTER TABLE ledger_progress ADD COLUMN store_kind text, ADD COLUMN store_id text`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE ledger_progress DROP COLUMN IF EXISTS store_kind, DROP COLUMN IF EXISTS store_id');
  await knex.raw('ALTER TABLE relay_checkpoints DROP COLUMN IF EXISTS store_kind, DROP COLUMN IF EXISTS store_id');
}
