import type { EventFilter } from './event-filter';
import { comparePositions } from './model';
import type { LogPosition, StoredEsdbEvent } from './model';
import type { AllStart, Direction, StreamStart } from './read-request';

/**
 * The events a stream read returns. `from` is inclusive both ways, as on the real server:
 * forwards from revision r starts at r, backwards from r starts at r (or at the last event
 * when r is past it); `start` is revision 0 and `end` is past the last event.
 */
export function selectFromStream(
  stream: readonly StoredEsdbEvent[],
  from: StreamStart,
  direction: Direction,
  count: bigint,
): StoredEsdbEvent[] {
  if (direction === 'forwards') {
    const first = from === 'start' ? 0 : from === 'end' ? stream.length : clampIndex(from, stream.length);
    return take(stream.slice(first), count);
  }
  const last = from === 'start' ? 0 : from === 'end' ? stream.length - 1 : clampIndex(from, stream.length - 1);
  return take(stream.slice(0, last + 1).reverse(), count);
}

/**
 * The events a read of $all returns. Forwards from a position includes an event at exactly that
 * position; backwards from a position returns only the events before it (the position is where
 * a backwards read resumes, like the real server's). The filter applies before the count.
 */
export function selectFromAll(
  log: readonly StoredEsdbEvent[],
  from: AllStart,
  direction: Direction,
  count: bigint,
  filter: EventFilter = () => true,
): StoredEsdbEvent[] {
  if (direction === 'forwards') {
    const first = from === 'start' ? 0 : from === 'end' ? log.length : firstIndexAtOrAfter(log, from);
    return take(log.slice(first).filter(filter), count);
  }
  const end = from === 'start' ? 0 : from === 'end' ? log.length : firstIndexAtOrAfter(log, from);
  return take(log.slice(0, end).reverse().filter(filter), count);
}

/** The index of the first event at or after `position` in $all; the log's length when there is none. */
export function firstIndexAtOrAfter(log: readonly StoredEsdbEvent[], position: LogPosition): number {
  const index = log.findIndex((event) => comparePositions(event, position) >= 0);
  return index < 0 ? log.length : index;
}

/** The index of the first event strictly after `position` in $all; the log's length when there is none. */
export function firstIndexAfter(log: readonly StoredEsdbEvent[], position: LogPosition): number {
  const index = log.findIndex((event) => comparePositions(event, position) > 0);
  return index < 0 ? log.length : index;
}

function clampIndex(revision: bigint, max: number): number {
  return revision > BigInt(max) ? max : Number(revision);
}

function take<T>(items: T[], count: bigint): T[] {
  return count >= BigInt(items.length) ? items : items.slice(0, Number(count));
}
