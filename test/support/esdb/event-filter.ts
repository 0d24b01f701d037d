import { ReadReq } from '@eventstore/db-client/generated/streams_pb';
import { InvalidRequestError } from './invalid-request';
import type { StoredEsdbEvent } from './model';

/** Which events of $all a filtered read or subscription passes on. */
export type EventFilter = (event: StoredEsdbEvent) => boolean;

/** The real server's default search window when the client asks for `count` rather than a `max`. */
const DEFAULT_SEARCH_WINDOW = 32;

/**
 * The filter a request asks for, or undefined for `no_filter`. Like EventStoreDB, a non-empty
 * regex wins over the prefixes; the regex is unanchored (.NET `Regex.IsMatch`).
 */
export function eventFilterOf(options: ReadReq.Options): EventFilter | undefined {
  const filter = options.getFilter();
  if (filter === undefined) return undefined;
  const Case = ReadReq.Options.FilterOptions.FilterCase;
  const onStreamName = filter.getFilterCase() === Case.STREAM_IDENTIFIER;
  const expression = onStreamName ? filter.getStreamIdentifier() : filter.getEventType();
  if (expression === undefined) throw new InvalidRequestError('a filter with no expression');
  const matches = expressionMatcher(expression);
  return onStreamName ? (event) => matches(event.streamName) : (event) => matches(event.type);
}

/**
 * How many events a filtered $all subscription considers between two checkpoints: the
 * client's multiplier times the search window, as on the real server.
 */
export function checkpointIntervalOf(options: ReadReq.Options): number | undefined {
  const filter = options.getFilter();
  if (filter === undefined) return undefined;
  const multiplier = filter.getCheckpointintervalmultiplier();
  if (multiplier <= 0) throw new InvalidRequestError(`a checkpoint interval multiplier of ${multiplier}`);
  const window = filter.hasMax() ? filter.getMax() : DEFAULT_SEARCH_WINDOW;
  return multiplier * window;
}

function expressionMatcher(expression: ReadReq.Options.FilterOptions.Expression): (value: string) => boolean {
  const regex = expression.getRegex();
  if (regex !== '') {
    let pattern: RegExp;
    try {
      pattern = new RegExp(regex);
    } catch {
      throw new InvalidRequestError(`an invalid filter regex ${JSON.stringify(regex)}`);
    }
    return (value) => pattern.test(value);
  }
  const prefixes = expression.getPrefixList();
  return (value) => prefixes.some((prefix) => value.startsWith(prefix));
}
