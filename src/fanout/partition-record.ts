import type { Knex } from 'knex';

/**
 * A topic's partition count differs from the one recorded when Proofline first created or saw
 * it: a stream's new events would go to another partition than its old ones, and be read
 * before them. Not retried: an operator has to follow docs/projections.md, "Repartitioning a topic".
 */
export class TopicRepartitionedError extends Error {
  readonly code = 'KAFKA.TOPIC_REPARTITIONED';

  constructor(
    readonly topic: string,
    readonly recorded: number,
    readonly found: number,
  ) {
    super(
      `KAFKA.TOPIC_REPARTITIONED: topic ${topic} has ${found} partitions but ${recorded} were recorded when Proofline first used it; ` +
        `a stream's new events would be read before its old ones, so Proofline does not use it. Drain, then record the new count in kafka_topic_partitions (docs/projections.md, "Repartitioning a topic")`,
    );
    this.name = 'TopicRepartitionedError';
  }
}

/**
 * Each topic's partition count, recorded the first time Proofline creates or sees it
 * (kafka_topic_partitions), and checked every time after: the topic admin asks it before the
 * relay publishes to a topic or a projector consumes one.
 */
export class TopicPartitionRecord {
  constructor(private readonly knex: Knex) {}

  /** Records counts not yet recorded; throws TopicRepartitionedError for the first topic whose count differs. */
  async verify(found: ReadonlyMap<string, number>): Promise<void> {
    if (found.size === 0) return;
    const rows = [...found].map(([topic, partitions]) => ({ topic, partitions }));
    await this.knex('kafka_topic_partitions').insert(rows).onConflict('topic').ignore();
    const recorded: Array<{ topic: string; partitions: number }> = await this.knex('kafka_topic_partitions').whereIn('topic', [...found.keys()]).select('topic', 'partitions');
    for (const row of recorded.sort((a, b) => a.topic.localeCompare(b.topic))) {
      const partitions = found.get(row.topic)!;
      if (Number(row.partitions) !== partitions) throw new TopicRepartitionedError(row.topic, Number(row.partitions), partitions);
    }
  }

  /** The recorded counts of `topics` (those recorded). */
  async counts(topics: readonly string[]): Promise<Map<string, number>> {
    if (topics.length === 0) return new Map();
    const rows: Array<{ topic: string; partitions: number }> = await this.knex('kafka_topic_partitions').whereIn('topic', topics).select('topic', 'partitions');
    return new Map(rows.map((row) => [row.topic, Number(row.partitions)]));
  }
}
