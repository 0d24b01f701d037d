import type { Knex } from 'knex';

/**
 * Bookkeeping of the fan-out: the relay's durable checkpoint, each projector's position and
 * state, and the dead letters. A projector's own tables (and its revision guard) are created by
 * the projection runner from the projector's declaration, so that a rebuild can create the same
 * tables again under shadow names (docs/projections.md).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE TABLE relay_checkpoints (
    relay            text PRIMARY KEY,
    position_commit  bigint NOT NULL,
    position_prepare bigint NOT NULL,
    published        bigint NOT NULL DEFAULT 0,
    updated_at       timestamptz NOT NULL DEFAULT now()
  )`);
  await knex.raw(`CREATE TABLE projector_positions (
    projector        text PRIMARY KEY,
    position_commit  bigint NOT NULL DEFAULT 0,
    position_prepare bigint NOT NULL DEFAULT 0,
    applied          bigint NOT NULL DEFAULT 0,
    last_occurred_at text,
    state            text NOT NULL DEFAULT 'running',
    last_error       text,
    generation       integer NOT NULL DEFAULT 1,
    updated_at       timestamptz NOT NULL DEFAULT now()
  )`);
  await knex.raw(`CREATE TABLE projection_dead_letters (
    projector      text NOT NULL,
    event_id       uuid NOT NULL,
    event_type     text NOT NULL,
    stream_id      text NOT NULL,
    stream_version bigint NOT NULL,
    error          text NOT NULL,
    envelope       text NOT NULL,
    failed_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT projection_dead_letters_pkey PRIMARY KEY (projector, event_id)
  )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE projection_dead_letters');
  await knex.raw('DROP TABLE projector_positions');
  await knex.raw('DROP TABLE relay_checkpoints');
}
