import { eventTypeFilter, START as ESDB_START, type AllStreamResolvedEvent, type EventStoreDBClient } from '@eventstore/db-client';
import type { BatchSubscription, EventSubscription, RecordedEvent, SubscribeOptions } from '../event-store.port';
import { comparePositions, START, type GlobalPosition } from '../global-position';
import { StoreUnavailableError } from '../errors';
import { translateEsdbError } from './esdb-errors';
import { checkEventAt } from './esdb-positions';
import { isEnvelopeEvent, PROOFLINE_EVENT_TYPES, toRecordedEvent } from './esdb-events';

/**
 * A catch-up subscription to $all, filtered on the server to Proofline's event types (no
 * system events, no bookkeeping), from a position where an event of this store starts (or the
 * start): the first step reads that one event, and the subscription fails if it is not there. Pull-based: the client's subscription is a Node stream with
 * backpressure, and gRPC flow control stops the server when its buffer is full, so a slow
 * consumer is never flooded. Each batch is what is already buffered, up to `batchSize`.
 */
export function subscribeToAllInBatches(client: EventStoreDBClient, from: GlobalPosition, options: SubscribeOptions = {}, onFinished: () => void = () => undefined): BatchSubscription {
  const batchSize = options.batchSize ?? 500;
  const stop = new AbortController();
  const onExternalAbort = () => stop.abort();
  if (options.signal?.aborted) stop.abort();
  options.signal?.addEventListener('abort', onExternalAbort, { once: true });

  async function* batches(): AsyncGenerator<RecordedEvent[]> {
    if (stop.signal.aborted) return;
    // A position no event starts at would go live and drop events at or before it (24.10): refuse it.
    await checkEventAt(client, from);
    if (stop.signal.aborted) return;
    const subscription = client.subscribeToAll(
      { fromPosition: comparePositions(from, START) === 0 ? ESDB_START : from, filter: eventTypeFilter({ regex: PROOFLINE_EVENT_TYPES }) },
      // The client buffers 16 events by default: let a batch fill up to its size.
      { highWaterMark: batchSize },
    );
    let failure: unknown;
    let ended = false;
    let wake: () => void = () => undefined;
    const woken = () => wake();
    subscription.on('readable', woken);
    subscription.on('end', () => ((ended = true), woken()));
    subscription.on('close', () => ((ended = true), woken()));
    subscription.on('error', (error: unknown) => ((failure = error), woken()));
    stop.signal.addEventListener('abort', woken);
    try {
      while (!stop.signal.aborted) {
        const batch: RecordedEvent[] = [];
        let resolved: AllStreamResolvedEvent | null;
        while (batch.length < batchSize && (resolved = subscription.read() as AllStreamResolvedEvent | null) !== null) {
          if (isEnvelopeEvent(resolved)) batch.push(toRecordedEvent(resolved));
        }
        if (batch.length > 0) {
          yield batch;
          continue;
        }
        if (failure !== undefined) throw translateEsdbError(failure);
        // A subscription ends only when closed: the server going away must not look like the end of $all.
        if (ended) throw new StoreUnavailableError(new Error('EventStoreDB ended the $all subscription'));
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      stop.signal.removeEventListener('abort', woken);
      options.signal?.removeEventListener('abort', onExternalAbort);
      await subscription.unsubscribe().catch(() => undefined);
      onFinished();
    }
  }

  const iterator = batches();
  return {
    [Symbol.asyncIterator]: () => iterator,
    close: () => stop.abort(),
  };
}

/** The same subscription, an event at a time. */
export function flattened(batches: BatchSubscription): EventSubscription {
  async function* events(): AsyncGenerator<RecordedEvent> {
    for await (const batch of batches) yield* batch;
  }
  const iterator = events();
  return { [Symbol.asyncIterator]: () => iterator, close: () => batches.close() };
}
