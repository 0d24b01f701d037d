import type { Knex } from 'knex';
import { comparePositions, START, type GlobalPosition } from '../../src/eventstore/global-position';
import { PartitionRewoundError, projectorLockKey } from './apply-batch';

export interface StoredPosition {
  readonly position: GlobalPosition;
  readonly applied: number;
  readonly state: 'running' | 'stopped' | 'rebuilding';
  readonly lastError: string | null;
  readonly lastOccurredAt: string | null;
}

export async function readPosition(knex: Knex, projector: string): Promise<StoredPosition> {
  const row = await knex('projector_positions').where({ projector }).first();
  if (!row) return { position: START, applied: 0, state: 'running', lastError: null, lastOccurredAt: null };
  return {
    position: { commit: BigInt(row.position_commit), prepare: BigInt(row.position_prepare) },
    applied: Number(row.applied),
    state: row.state,
    lastError: row.last_error,
    lastOccurredAt: row.last_occurred_at,
  };
}

/**
 * Records why the projector's last batch failed, outside the failed transaction, so that a
 * projector retrying the same batch (a database outage, a stream version the store no longer
 * holds) is visible in its status instead of reading "running" with no error. The next batch
 * that commits clears it (savePosition). A stopped projector keeps its own error.
 */
export async function recordBatchFailure(knex: Knex, projector: string, error: unknown): Promise<void> {
  const message = retrying(error);
  await knex.raw(
    `INSERT INTO projector_positions (projector, position_commit, position_prepare, applied, state, last_error, updated_at)
     VALUES (?, 0, 0, 0, 'running', ?, now())
     ON CONFLICT (projector) DO UPDATE SET
       last_error = CASE WHEN projector_positions.state = 'stopped' THEN projector_positions.last_error ELSE EXCLUDED.last_error END,
       updated_at = now()`,
    [projector, message],
  );
}

/**
 * Through Kafka, the same for one partition: kept on its projector_partition_offsets row (a row
 * without one applies nothing new: its offset and position stay at the start), cleared by that
 * partition's next committed batch, so a success on another partition does not hide it.
 */
export async function recordPartitionFailure(knex: Knex, projector: string, topic: string, partition: number, error: unknown): Promise<void> {
  const message = retrying(error);
  if (error instanceof PartitionRewoundError) {
    // Marked on the row it judged, under the projector's lock, and only while that row stands: a
    // forget-offsets that ran meanwhile (row deleted) must not be undone by a late mark.
    await knex.transaction(async (trx) => {
      await trx.raw('SELECT pg_advisory_xact_lock(?::bigint)', [projectorLockKey(projector)]);
      await trx('projector_partition_offsets')
        .where({ projector, topic, kafka_partition: partition, next_offset: error.stored.toString() })
        .whereNull('rewound_at')
        .update({ rewound_at: trx.fn.now(), last_error: message, failing_since: trx.raw('coalesce(failing_since, now())'), updated_at: trx.fn.now() });
    });
    return;
  }
  await knex.raw(
    `INSERT INTO projector_partition_offsets (projector, topic, kafka_partition, next_offset, last_error, failing_since, updated_at)
     VALUES (?, ?, ?, 0, ?, now(), now())
     ON CONFLICT (projector, topic, kafka_partition) DO UPDATE SET
       last_error    = CASE WHEN projector_partition_offsets.rewound_at IS NOT NULL THEN projector_partition_offsets.last_error ELSE EXCLUDED.last_error END,
       failing_since = coalesce(projector_partition_offsets.failing_since, EXCLUDED.failing_since),
       updated_at    = now()`,
    [projector, topic, partition, message],
  );
}

/** The longest-failing partition of the projector, as `topic/partition (since …): error`, or null. */
export async function partitionFailure(knex: Knex, projector: string): Promise<string | null> {
  const row = await knex('projector_partition_offsets')
    .where({ projector })
    .whereNotNull('last_error')
    .orderBy('failing_since')
    .first('topic', 'kafka_partition', 'last_error', 'failing_since');
  if (!row) return null;
  const since = row.failing_since instanceof Date ? row.failing_since.toISOString() : String(row.failing_since);
  return `${row.topic}/${row.kafka_partition} (since ${since}): ${row.last_error}`;
}

/** Stops the projector where it stands, with the reason; `resumeProjector` lets it go on from there. */
export async function stopProjector(knex: Knex, projector: string, reason: string): Promise<void> {
  await knex.raw(
    `INSERT INTO projector_positions (projector, position_commit, position_prepare, applied, state, last_error, updated_at)
     VALUES (?, 0, 0, 0, 'stopped', ?, now())
     ON CONFLICT (projector) DO UPDATE SET state = 'stopped', last_error = EXCLUDED.last_error, updated_at = now()`,
    [projector, reason.slice(0, 2000)],
  );
}

/**
 * After a topic was deleted and created again (KAFKA.PARTITION_REWOUND): forgets the projector's
 * offsets of that topic, under the projector's lock, so its partitions are read from their new
 * start. The revision guard absorbs what was applied before. Returns the rows forgotten.
 */
export async function forgetPartitionOffsets(knex: Knex, projector: string, topic: string): Promise<number> {
  return knex.transaction(async (trx) => {
    await trx.raw('SELECT pg_advisory_xact_lock(?::bigint)', [projectorLockKey(projector)]);
    return Number(await trx('projector_partition_offsets').where({ projector, topic }).delete());
  });
}

/** How a batch failure reads in a status: the reason, bounded for the column. */
function retrying(error: unknown): string {
  return `batch failed, retrying: ${error instanceof Error ? error.message : String(error)}`.slice(0, 2000);
}

/** Lets a stopped projector run again (after its handler was fixed); it retries from where it stopped. */
export async function resumeProjector(knex: Knex, projector: string): Promise<void> {
  await knex('projector_positions').where({ projector }).update({ state: 'running', last_error: null, updated_at: knex.fn.now() });
}

/**
 * Before the in-process runner follows the store for a projector last fed through Kafka: its
 * projector_positions position is the furthest any partition reached, and following the store
 * from there would skip what a slower partition had not applied. So the position moves back to
 * the slowest partition's (START for a partition of its topics with nothing applied, or a topic
 * whose partition count was never recorded), and the per-partition rows are dropped, in one
 * transaction under the projector's lock. The guard makes what is read again a no-op.
 * Returns the position adopted, or undefined when the projector has no per-partition rows.
 */
export async function adoptPartitionPositions(knex: Knex, projector: string, topics: readonly string[]): Promise<GlobalPosition | undefined> {
  return knex.transaction(async (trx) => {
    await trx.raw('SELECT pg_advisory_xact_lock(?::bigint)', [projectorLockKey(projector)]);
    const rows: Array<{ topic: string; kafka_partition: number; position_commit: string; position_prepare: string }> = await trx('projector_partition_offsets')
      .where({ projector })
      .select('topic', 'kafka_partition', 'position_commit', 'position_prepare');
    if (rows.length === 0) return undefined;
    const allTopics = [...new Set([...topics, ...rows.map((row) => row.topic)])];
    const counts: Array<{ topic: string; partitions: number }> = await trx('kafka_topic_partitions').whereIn('topic', allTopics).select('topic', 'partitions');
    let slowest: GlobalPosition | undefined;
    const consider = (position: GlobalPosition) => (slowest = !slowest || comparePositions(position, slowest) < 0 ? position : slowest);
    for (const topic of allTopics) {
      const recorded = counts.find((row) => row.topic === topic);
      if (!recorded) consider(START);
      const partitions = Math.max(Number(recorded?.partitions ?? 0), ...rows.filter((row) => row.topic === topic).map((row) => Number(row.kafka_partition) + 1));
      for (let partition = 0; partition < partitions; partition += 1) {
        const row = rows.find((candidate) => candidate.topic === topic && Number(candidate.kafka_partition) === partition);
        consider(row ? { commit: BigInt(row.position_commit), prepare: BigInt(row.position_prepare) } : START);
      }
    }
    const adopted = slowest ?? START;
    await trx.raw(
      `UPDATE projector_positions SET position_commit = ?, position_prepare = ?, updated_at = now()
       WHERE projector = ? AND (position_commit, position_prepare) > (?::bigint, ?::bigint)`,
      [String(adopted.commit), String(adopted.prepare), projector, String(adopted.commit), String(adopted.prepare)],
    );
    await trx('projector_partition_offsets').where({ projector }).delete();
    return adopted;
  });
}
