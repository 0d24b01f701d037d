import type { Knex } from 'knex';

/**
 * When an account first joined a workspace other than its home. From then on the home
 * workspace's administrators may not reset its password: the new password would open the
 * account's other memberships too (docs/security.md, "Password reset").
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('identity_users', (table) => {
    table.timestamp('shared_since', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('identity_users', (table) => {
    table.dropColumn('shared_since');
  });
}
