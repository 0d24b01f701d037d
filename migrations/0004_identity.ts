import type { Knex } from 'knex';

/**
 * Secrets stay out of the event store: an append-only, exported log cannot forget a password
 * hash. Accounts and one-time reset tokens live here; who belongs to which workspace, with
 * which role, and which API keys exist are workspace events (docs/security.md).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('identity_users', (table) => {
    table.text('id').primary();
    // Stored lower-cased and trimmed, so one address is one account.
    table.text('email').notNullable().unique();
    table.text('password_hash').notNullable();
    // The workspace the account was created in: the default tenant at sign-in, and the only one whose administrators may reset its password.
    table.text('home_tenant_id').notNullable();
    // 'pending' until its workspace has been recorded; a pending account cannot sign in, and its sign-up can be resumed.
    table.text('status').notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable();
    table.timestamp('password_changed_at', { useTz: true }).notNullable();
  });
  await knex.schema.createTable('identity_password_resets', (table) => {
    table.text('token_sha256').primary();
    table.text('user_id').notNullable().references('id').inTable('identity_users');
    table.text('tenant_id').notNullable();
    table.timestamp('expires_at', { useTz: true }).notNullable();
    table.timestamp('used_at', { useTz: true });
    table.timestamp('created_at', { useTz: true }).notNullable();
  });
  await knex.schema.createTable('identity_api_key_usage', (table) => {
    table.text('tenant_id').notNullable();
    table.text('key_id').notNullable();
    table.timestamp('last_used_at', { useTz: true }).notNullable();
    table.primary(['tenant_id', 'key_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('identity_api_key_usage');
  await knex.schema.dropTable('identity_password_resets');
  await knex.schema.dropTable('identity_users');
}
