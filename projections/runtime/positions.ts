import type { Knex } from 'knex';
import { comparePositions, START, type GlobalPosition } from '../../src/eventstore/global-position';
import { projectorLockKey } from './apply-batch';

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
