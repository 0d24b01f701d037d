import type { EventSubscription, RecordedEvent, SubscribeOptions } from './event-store.port';
import type { GlobalPosition } from './global-position';

export type ReadAll = (from: GlobalPosition, batchSize: number) => Promise<RecordedEvent[]>;

/** Resolves when an append in this process may have made new events readable. */
export interface AppendSignal {
  next(timeoutMs: number, signal: AbortSignal): Promise<void>;
}

/**
 * Catch-up then live, over any store that can `readAll`. Reads one batch at a time and only
 * when the consumer pulls, so memory stays bounded by the batch size however slow the
 * consumer is. When idle it waits for a local append or the poll interval (other processes).
 */
export function catchUpSubscription(readAll: ReadAll, appended: AppendSignal, from: GlobalPosition, options: SubscribeOptions = {}): EventSubscription {
  const batchSize = options.batchSize ?? 500;
  const pollIntervalMs = options.pollIntervalMs ?? 250;
  const stop = new AbortController();
  const onExternalAbort = () => stop.abort();
  options.signal?.addEventListener('abort', onExternalAbort, { once: true });

  async function* events(): AsyncGenerator<RecordedEvent> {
    let position = from;
    try {
      while (!stop.signal.aborted) {
        const batch = await readAll(position, batchSize);
        for (const event of batch) {
          if (stop.signal.aborted) return;
          yield event;
          position = event.position;
        }
        if (batch.length < batchSize) await appended.next(pollIntervalMs, stop.signal);
      }
    } finally {
      options.signal?.removeEventListener('abort', onExternalAbort);
    }
  }

  const iterator = events();
  return {
    [Symbol.asyncIterator]: () => iterator,
    close: () => stop.abort(),
  };
}

/** An AppendSignal fed by the store after each successful append in this process. */
export class LocalAppendSignal implements AppendSignal {
  private waiters = new Set<() => void>();

  notify(): void {
    const waiting = this.waiters;
    this.waiters = new Set();
    for (const wake of waiting) wake();
  }

  next(timeoutMs: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal.addEventListener('abort', done, { once: true });
      this.waiters.add(done);
    });
  }
}
