import type { Knex } from 'knex';
import type { EventStore, RecordedEvent } from '../../src/eventstore/event-store.port';
import type { GlobalPosition } from '../../src/eventstore/global-position';
import { applyBatch, domainsOf, outsideDomains, type BatchOutcome } from './apply-batch';
import { abortableSleep } from '../../src/fanout/abortable-sleep';
import type { ProjectedEvent, Projector } from './projector';
import { createTables, tablesOf } from './tables';
import { adoptPartitionPositions, readPosition, stopProjector } from './positions';
import { relayFaultOf } from '../../src/fanout/relay-halts';
import type { TopicNames } from '../../src/fanout/topics';

export interface RunnerOptions {
  readonly batchSize?: number;
  readonly pollIntervalMs?: number;
  readonly onBatch?: (projector: string, outcome: BatchOutcome) => void;
  readonly onError?: (projector: string, error: unknown) => void;
  /** How often a stopped projector looks whether it was resumed. Default 1 s. */
  readonly resumePollMs?: number;
  /** A projector stopped at a row it must not apply (its status says why). */
  readonly onStopped?: (projector: string, reason: string) => void;
  /** The Kafka topic names: a projector last fed through Kafka resumes from its slowest partition (adoptPartitionPositions). */
  readonly topicNames?: TopicNames;
}

/**
 * The embedded profile's fan-out: each projector follows the store's subscription from its own
 * position, in this process. Same projectors, same transactions and guard as through Kafka.
 */
export class InProcessProjectionRunner {
  private readonly stop = new AbortController();
  private readonly loops: Promise<void>[] = [];

  constructor(
    private readonly knex: Knex,
    private readonly store: EventStore,
    private readonly projectors: readonly Projector[],
    private readonly options: RunnerOptions = {},
  ) {}

  async start(): Promise<void> {
    for (const projector of this.projectors) {
      await createTables(this.knex, projector, 'live');
      await adoptPartitionPositions(this.knex, projector.name, this.options.topicNames?.forTypes(projector.handles) ?? []);
      this.loops.push(this.follow(projector));
    }
  }

  async close(): Promise<void> {
    this.stop.abort();
    await Promise.allSettled(this.loops);
  }

  private async follow(projector: Projector): Promise<void> {
    const names = tablesOf(projector, 'live');
    const domains = domainsOf(projector);
    while (!this.stop.signal.aborted) {
      try {
        const from = await readPosition(this.knex, projector.name);
        if (from.state === 'stopped') {
          // `projections resume` (run in another process) sets it running again: go on from where it stopped.
          await abortableSleep(this.options.resumePollMs ?? 1000, this.stop.signal);
          continue;
        }
        const subscription = this.store.subscribeBatches(from.position, { batchSize: this.options.batchSize ?? 500, pollIntervalMs: this.options.pollIntervalMs ?? 250, signal: this.stop.signal });
        for await (const batch of subscription) {
          // The relay's rule without a relay: a row of the projector's domains whose bytes are not the
          // signed ones, or that is filed under another stream or tenant, is never applied. Without
          // Kafka there is no per-tenant hold, so the projector stops at it (visible in its status)
          // until it is repaired and `projections resume` is run: stopped, never skipped.
          const faults = batch.map((event) => faultFor(domains, event));
          const bad = faults.findIndex((fault) => fault !== undefined);
          // A stream version missing from the store (a row removed) is a gap: the batch waits, as through Kafka.
          const outcome = await applyBatch(this.knex, projector, names, (bad < 0 ? batch : batch.slice(0, bad)).map(projected), { fillGapsFrom: this.store });
          this.options.onBatch?.(projector.name, outcome);
          if (outcome.stoppedAt) break;
          if (bad >= 0) {
            const reason = `${faults[bad]!.code}: ${faults[bad]!.message}`;
            await stopProjector(this.knex, projector.name, reason);
            this.options.onStopped?.(projector.name, reason);
            break;
          }
        }
      } catch (error) {
        // A database outage, a gap the store cannot fill: nothing was committed for the failed batch; start again from the stored position.
        this.options.onError?.(projector.name, error);
        await abortableSleep(1000, this.stop.signal);
      }
    }
  }
}

/** The relay's fault of a row the projector would take (its domains; a row without a type is judged too), else undefined. */
export function faultFor(domains: ReadonlySet<string>, event: RecordedEvent): ReturnType<typeof relayFaultOf> {
  return outsideDomains(domains, event.envelope) ? undefined : relayFaultOf(event);
}

export function projected(recorded: RecordedEvent): ProjectedEvent {
  return { envelope: recorded.envelope, streamVersion: recorded.streamVersion, position: recorded.position };
}

export type { GlobalPosition };
