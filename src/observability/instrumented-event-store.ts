import type { EventEnvelope } from '../../contracts';
import type { AppendOptions, AppendResult, EventStore, ExpectedVersion, ReadAllFilter, ReadStreamOptions, SubscribeOptions } from '../eventstore/event-store.port';
import type { GlobalPosition } from '../eventstore/global-position';
import type { Metrics } from './metrics';

/** Times every append and counts appended events; otherwise passes through. */
export class InstrumentedEventStore implements EventStore {
  constructor(
    private readonly inner: EventStore,
    private readonly metrics: Metrics,
  ) {}

  async append(streamId: string, events: readonly EventEnvelope[], expected: ExpectedVersion, options?: AppendOptions): Promise<AppendResult> {
    const stop = this.metrics.appendDuration.startTimer();
    try {
      const result = await this.inner.append(streamId, events, expected, options);
      stop({ outcome: 'ok' });
      for (const event of events) this.metrics.appendedEvents.inc({ type: event.type });
      return result;
    } catch (error) {
      stop({ outcome: 'error' });
      throw error;
    }
  }

  readStream(streamId: string, options?: ReadStreamOptions) {
    return this.inner.readStream(streamId, options);
  }
  readAll(from: GlobalPosition, batchSize: number, filter?: ReadAllFilter) {
    return this.inner.readAll(from, batchSize, filter);
  }
  subscribe(from: GlobalPosition, options?: SubscribeOptions) {
    return this.inner.subscribe(from, options);
  }

  subscribeBatches(from: GlobalPosition, options?: SubscribeOptions) {
    return this.inner.subscribeBatches(from, options);
  }
  identity() {
    return this.inner.identity();
  }
  countAfter(from: GlobalPosition, limit: number) {
    return this.inner.countAfter(from, limit);
  }
  streamVersion(streamId: string) {
    return this.inner.streamVersion(streamId);
  }
  findIdempotentAppend(tenantId: string, key: string) {
    return this.inner.findIdempotentAppend(tenantId, key);
  }
  ping() {
    return this.inner.ping();
  }
  close() {
    return this.inner.close();
  }
}
