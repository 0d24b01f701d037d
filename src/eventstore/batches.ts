import type { EventSubscription, RecordedEvent } from './event-store.port';

/**
 * Groups a subscription's events into batches: a batch is handed on when it is full or when no
 * further event arrived within `lingerMs`, so a busy stream moves in large batches and a quiet
 * one with a latency of about `lingerMs`.
 */
export async function* batchesOf(subscription: EventSubscription, maxBatch: number, lingerMs: number): AsyncGenerator<RecordedEvent[]> {
  const iterator = subscription[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<RecordedEvent>> | undefined;
  let batch: RecordedEvent[] = [];
  while (true) {
    pending ??= iterator.next();
    const next = batch.length === 0 ? await pending : await Promise.race([pending, delay(lingerMs)]);
    if (next === undefined) {
      yield batch;
      batch = [];
      continue;
    }
    pending = undefined;
    if (next.done) {
      if (batch.length > 0) yield batch;
      return;
    }
    batch.push(next.value);
    if (batch.length >= maxBatch) {
      yield batch;
      batch = [];
    }
  }
}

function delay(ms: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), ms));
}
