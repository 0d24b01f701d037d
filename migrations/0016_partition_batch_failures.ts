import type { Knex } from 'knex';

/**
 * Issue 25 (review finding F1): a projector that retries one partition's batch (a stream version
 * the event store no longer holds, a database failure) must say so, even while its other
 * partitions apply fine. The failure is kept on the partition's row and cleared by the next batch
 * of that partition that commits; GET /projections/status shows it as the projector's lastError.
 */
export async function up(knex: Knex): Promise<void> {
  // rewound_at: the partition's offsets were found to have started over (KAFKA.PARTITION_REWOUND); kept until forget-offsets.
  await knex.raw(`ALTER TABLE projector_partition_offsets ADD COLUMN last_error text, ADD COLUMN failing_since timestamptz, ADD COLUMN rewound_at timestamptz`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE projector_partition_offsets DROP COLUMN last_error, DROP COLUMN failing_since, DROP COLUMN rewound_at`);
}
