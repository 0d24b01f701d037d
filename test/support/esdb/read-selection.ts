import type { EventFilter } from './event-filter';
import { comparePositions } from './model';
import type { LogPosition, StoredEsdbEvent } from './model';
import type { AllStart, Direction, StreamStart } from './read-request';

/**
 * The events a stream read returns. `from` is inclusive both ways, as on the real server:
 * forwards from revision r starts at r, backwards from r starts at r (or at the last event
 * when r is past it); `start` is the first readable revision and `end` is past the last event.
 * `stream` holds the readable events, the first at `firstRevision` (after a soft delete and a
 * new write, the revisions before it are hidden).
 */
export function selectFromStream(
  stream: readonly StoredEsdbEvent[],
  from: StreamStart,
  direction: Direction,
  count: bigint,
  firstRevision = 0n,
): StoredEsdbEvent[] {
  const indexOf = (revision: bigint) => revision - firstRevision;
  if (direction === 'forwards') {
    const first = from === 'start' ? 0 : from === 'end' ? stream.length : clampIndex(indexOf(from) < 0n ? 0n : indexOf(from), stream.length);
    return take(stream.slice(first), count);
  }
  if (typeof from === 'bigint' && indexOf(from) < 0n) return [];
  const last = from === 'start' ? 0 : from === 'end' ? stream.length - 1 : clampIndex(indexOf(from), stream.length - 1);
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

/**
 * Where a position falls in $all: the start (0, 0), an event's own position, past the end of the
 * log (at or after where the next write starts), or anywhere else, which no event starts at and
 * which the real server refuses to read from (InvalidPosition).
 */
export function placeOf(log: readonly StoredEsdbEvent[], position: LogPosition, end: LogPosition): 'start' | 'event' | 'past-end' | 'invalid' {
  if (position.commit === 0n && position.prepare === 0n) return 'start';
  const index = firstIndexAtOrAfter(log, position);
  if (index < log.length && comparePositions(log[index], position) === 0) return 'event';
  if (index === log.length && position.commit >= end.commit) return 'past-end';
  return 'invalid';
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
