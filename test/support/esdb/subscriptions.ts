import type { ServerWritableStream } from '@grpc/grpc-js';
import type { ReadReq, ReadResp } from '@eventstore/db-client/generated/streams_pb';
import { send } from './flow-control';
import { invalidPosition, toServiceError } from './invalid-request';
import type { EventFilter } from './event-filter';
import type { EsdbLog } from './log';
import { comparePositions } from './model';
import type { LogPosition, StoredEsdbEvent } from './model';
import { caughtUpResponse, checkpointResponse, confirmationResponse, eventResponse } from './read-responses';
import type { ReadRequest } from './read-request';
import { firstIndexAfter, placeOf } from './read-selection';

/** Before anything is written, a checkpoint can only say "from the start". */
const LOG_START: LogPosition = { commit: 0n, prepare: 0n };

/**
 * A catch-up subscription to a stream or to $all: `confirmation`, then every event strictly
 * after the start (filtered), then `caught_up`, then live events as they are written. One
 * cursor walks the log for both phases, so an event written during catch-up is sent exactly
 * once and in log order: catch-up simply runs until the cursor reaches the end.
 * A filtered $all subscription also sends checkpoints: one right after `caught_up`, and one
 * each `checkpointInterval` events considered (matching or not), as the real server reports
 * progress through events the filter skips. The subscription ends when the client cancels.
 *
 * From a position of $all, as 23.10 and 24.10 do: one at or past the last event goes live at
 * once, and a filtered subscription then drops every live event at or before that position
 * (so a checkpoint from another log skips events silently until the log passes it); one before
 * the last event where no event starts fails with InvalidPosition, as the catch-up read does.
 */
export function subscribe(call: ServerWritableStream<ReadReq, ReadResp>, log: EsdbLog, request: ReadRequest): void {
  if (request.kind === 'all' && typeof request.from === 'object' && notAnEventBeforeTheEnd(log, request.from)) {
    call.emit('error', invalidPosition());
    return;
  }
  const subscription = new Subscription(call, log, request);
  const fail = (error: unknown) => {
    stop();
    call.emit('error', toServiceError(error));
  };
  const stopListening = log.onWrite(() => void subscription.pump().catch(fail));
  const stop = () => {
    subscription.stopped = true;
    stopListening();
  };
  call.once('cancelled', stop);
  call.once('close', stop);
  void subscription.start().catch(fail);
}

class Subscription {
  stopped = false;
  private cursor: number;
  private live = false;
  private pumping = false;
  private considered = 0;
  private lastConsidered: LogPosition;
  private readonly passes: EventFilter;
  /** Events considered between two checkpoints; undefined when the subscription sends none. */
  private readonly checkpointInterval: number | undefined;

  constructor(
    private readonly call: ServerWritableStream<ReadReq, ReadResp>,
    private readonly log: EsdbLog,
    private readonly request: ReadRequest,
  ) {
    this.passes = (request.kind === 'all' && request.filter) || (() => true);
    this.checkpointInterval = request.kind === 'all' ? request.checkpointInterval : undefined;
    const events = this.events();
    this.cursor = startIndex(events, request);
    this.lastConsidered = typeof request.from === 'object' ? request.from : (events[this.cursor - 1] ?? LOG_START);
  }

  async start(): Promise<void> {
    if (!(await this.send(confirmationResponse()))) return;
    await this.pump();
  }

  /** Sends what the cursor has not sent yet. Re-entrant calls return at once: the running loop picks up new events. */
  async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.stopped) {
        const next = this.events()[this.cursor];
        if (next !== undefined) {
          this.cursor += 1;
          if (!(await this.deliver(next))) return;
        } else if (!this.live) {
          this.live = true;
          if (!(await this.send(caughtUpResponse()))) return;
          if (this.checkpointInterval !== undefined && !(await this.send(checkpointResponse(this.lastConsidered)))) return;
        } else {
          return;
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private async deliver(event: StoredEsdbEvent): Promise<boolean> {
    const { uuidForm, kind, from } = this.request;
    // Only a filtered subscription can meet one: it went live from a position past the log's end.
    const atOrBeforeStart = this.request.kind === 'all' && this.request.filter !== undefined && typeof from === 'object' && comparePositions(event, from) <= 0;
    if (this.passes(event) && !atOrBeforeStart && !(await this.send(eventResponse(event, uuidForm, kind === 'all')))) return false;
    this.considered += 1;
    this.lastConsidered = event;
    if (this.checkpointInterval === undefined || this.considered % this.checkpointInterval !== 0) return true;
    return this.send(checkpointResponse(event));
  }

  private events(): readonly StoredEsdbEvent[] {
    return this.request.kind === 'stream' ? this.log.stream(this.request.streamName) : this.log.all();
  }

  private async send(response: ReadResp): Promise<boolean> {
    if (this.stopped) return false;
    const open = await send(this.call, response);
    if (!open) this.stopped = true;
    return open;
  }
}

function notAnEventBeforeTheEnd(log: EsdbLog, from: LogPosition): boolean {
  const events = log.all();
  const last = events[events.length - 1];
  if (last === undefined || comparePositions(from, last) >= 0) return false;
  return placeOf(events, from, log.end()) === 'invalid';
}

/** Where catch-up begins: strictly after the given revision or position; `end` skips everything already written. */
function startIndex(events: readonly StoredEsdbEvent[], request: ReadRequest): number {
  const { from } = request;
  if (from === 'start') return 0;
  if (from === 'end') return events.length;
  if (typeof from === 'bigint') return Number(from) + 1;
  return firstIndexAfter(events, from);
}
