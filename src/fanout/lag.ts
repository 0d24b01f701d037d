import type { EventStore, EventsAfter } from '../eventstore/event-store.port';
import type { GlobalPosition } from '../eventstore/global-position';

/** Counting further than this is slow and says nothing more useful than "very far behind". */
export const LAG_COUNT_LIMIT = 1_000_000;

/** Events readable after `from` (capped at LAG_COUNT_LIMIT, or the store's own lower cap), and the occurredAt of the first. */
export function eventsAfter(store: EventStore, from: GlobalPosition): Promise<EventsAfter> {
  return store.countAfter(from, LAG_COUNT_LIMIT);
}
