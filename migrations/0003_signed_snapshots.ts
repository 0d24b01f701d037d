import type { Knex } from 'knex';

/**
 * Snapshots are signed like events, so a state written into the table around Proofline is
 * ignored (the stream is replayed instead) rather than decided on. Unsigned rows from before
 * this migration are ignored the same way and replaced at the next snapshot.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE snapshots ADD COLUMN signature jsonb');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE snapshots DROP COLUMN signature');
}
