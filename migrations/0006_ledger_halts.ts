import type { Knex } from 'knex';

/**
 * Tenants whose receipts stopped at a bad event (one that does not verify, is not canonical, or
 * copies an event already receipted): written in the transaction that moves the builder past
 * it, so a restart keeps the tenant halted while every other tenant goes on. Deleting a row
 * does not hide the event: `ledger verify` names it at its position.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE TABLE ledger_halts (
    tenant_id        text PRIMARY KEY,
    code             text NOT NULL,
    message          text NOT NULL,
    event_id         text,
    position_commit  bigint NOT NULL,
    position_prepare bigint NOT NULL,
    halted_at        timestamptz NOT NULL DEFAULT now()
  )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS ledger_halts');
}
