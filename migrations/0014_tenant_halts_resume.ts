import type { Knex } from 'knex';

/**
 * Issue 23, items 5 and 6: a bad stored event stops its own tenant's Kafka publishing only.
 *
 * `relay_halts`: tenants whose Kafka publishing stopped at a row that is not one canonical byte
 * string (docs/events.md, "The relay"). Written before the relay's checkpoint moves past the row;
 * the tenant's later events are held, not skipped: they are published, in order, once the row
 * at the halt is good again or gone.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE TABLE relay_halts (
    relay            text NOT NULL,
    tenant_id        text NOT NULL,
    code             text NOT NULL,
    message          text NOT NULL,
    event_id         text NOT NULL,
    stream_id        text NOT NULL,
    stream_version   bigint NOT NULL,
    position_commit  bigint NOT NULL,
    position_prepare bigint NOT NULL,
    halted_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT relay_halts_pkey PRIMARY KEY (relay, tenant_id)
  )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS relay_halts');
}
