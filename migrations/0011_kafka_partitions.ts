import type { Knex } from 'knex';

/**
 * The Kafka side of the projections' bookkeeping (issue 25, items 1, 6 and 7):
 *
 * - `kafka_topic_partitions`: each topic's partition count, recorded when Proofline first creates
 *   or sees the topic. A topic whose count differs later was repartitioned, which sends a
 *   stream's new events to another partition than its old ones; the relay and the projectors
 *   refuse to use it (docs/projections.md, "Repartitioning a topic").
 * - `projector_partition_offsets`: per projector and partition, the next Kafka offset to apply
 *   and the latest global position applied from it, written in the projector's own batch
 *   transaction. The consumer seeks to it, so a Kafka offset that outlived a lost database
 *   commit cannot skip events, and a switch to the in-process runner resumes from the slowest
 *   partition rather than the fastest.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE TABLE kafka_topic_partitions (
    topic       text PRIMARY KEY,
    partitions  integer NOT NULL CHECK (partitions > 0),
    recorded_at timestamptz NOT NULL DEFAULT now()
  )`);
  await knex.raw(`CREATE TABLE projector_partition_offsets (
    projector        text NOT NULL,
    topic            text NOT NULL,
    kafka_partition  integer NOT NULL,
    next_offset      bigint NOT NULL,
    position_commit  bigint NOT NULL DEFAULT 0,
    position_prepare bigint NOT NULL DEFAULT 0,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT projector_partition_offsets_pkey PRIMARY KEY (projector, topic, kafka_partition)
  )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE projector_partition_offsets');
  await knex.raw('DROP TABLE kafka_topic_partitions');
}
