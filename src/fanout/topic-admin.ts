import type { Admin, Kafka } from 'kafkajs';

/** Creates topics before first use (auto-creation is off: a typo must not become a topic). */
export class TopicAdmin {
  private readonly known = new Set<string>();
  private admin?: Admin;

  constructor(
    private readonly kafka: Kafka,
    private readonly partitions: number,
  ) {}

  async ensure(topics: readonly string[]): Promise<void> {
    const missing = topics.filter((topic) => !this.known.has(topic));
    if (missing.length === 0) return;
    try {
      if (!this.admin) {
        this.admin = this.kafka.admin();
        await this.admin.connect();
      }
      const existing = new Set(await this.admin.listTopics());
      const create = missing.filter((topic) => !existing.has(topic));
      if (create.length > 0) {
        // createTopics answers false when another process created one first; either way it exists now.
        // Kept forever: a projector added later (or down for long) must still find every event; the guard cannot see a gap.
        await this.admin.createTopics({
          waitForLeaders: true,
          topics: create.map((topic) => ({ topic, numPartitions: this.partitions, configEntries: [{ name: 'retention.ms', value: '-1' }] })),
        });
      }
    } catch (error) {
      // A broken admin connection is not reused: the next call connects afresh.
      await this.close();
      throw error;
    }
    for (const topic of missing) this.known.add(topic);
  }

  async close(): Promise<void> {
    await this.admin?.disconnect().catch(() => undefined);
    this.admin = undefined;
  }
}
