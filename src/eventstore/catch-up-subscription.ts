import type { BatchSubscription, EventSubscription, RecordedEvent, SubscribeOptions } from './event-store.port';
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

/**
 * The same catch-up, a batch at a time as the store reads them. A full batch means more may be
 * waiting, so the next read starts before this batch is handed on (read-ahead); after a
 * part-filled one the store is drained, and the wait for the next append is armed before the
 * batch is handed on, so an append made while the consumer works is not missed.
 */
export function catchUpBatches(readAll: ReadAll, appended: AppendSignal, from: GlobalPosition, options: SubscribeOptions = {}): BatchSubscription {
  const batchSize = options.batchSize ?? 500;
  const pollIntervalMs = options.pollIntervalMs ?? 250;
  const stop = new AbortController();
  const onExternalAbort = () => stop.abort();
  options.signal?.addEventListener('abort', onExternalAbort, { once: true });

  async function* batches(): AsyncGenerator<RecordedEvent[]> {
    let position = from;
    let next: Promise<RecordedEvent[]> | undefined = readAll(position, batchSize);
    try {
      while (!stop.signal.aborted) {
        const batch: RecordedEvent[] = await (next ?? readAll(position, batchSize));
        if (batch.length > 0) position = batch[batch.length - 1].position;
        const drained = batch.length < batchSize;
        const wake = drained ? appended.next(pollIntervalMs, stop.signal) : undefined;
        next = drained ? undefined : readAll(position, batchSize);
        next?.catch(() => undefined); // surfaces when awaited; never unhandled if the consumer stops first
        if (batch.length > 0) yield batch;
        if (wake) await wake;
      }
    } finally {
      options.signal?.removeEventListener('abort', onExternalAbort);
    }
  }

  const iterator = batches();
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
