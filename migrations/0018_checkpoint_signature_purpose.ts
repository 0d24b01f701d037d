import type { Knex } from 'knex';

/**
 * Issue 23, item 5 (ADR 0005): a checkpoint issued since is signed over a version 2 body that
 * states its purpose, key and algorithm. The row keeps the purpose, since it says which bytes
 * were signed; null on a version 1 checkpoint (issued before), whose bytes are the four fields.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE ledger_checkpoints ADD COLUMN signature_purpose text');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE ledger_checkpoints DROP COLUMN signature_purpose');
}
