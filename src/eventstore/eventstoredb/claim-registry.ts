import { END, jsonEvent, NO_STREAM, WrongExpectedVersionError as EsdbWrongExpectedVersion, type EventStoreDBClient } from '@eventstore/db-client';
import type { JsonObject } from '../../../contracts';
import { translateEsdbError } from './esdb-errors';
import { BOOKKEEPING_PREFIX } from './esdb-events';
import { readStreamOrEmpty } from './esdb-reads';

const CLAIMED = '_claimed';
const RELEASED = '_released';
const MAX_RACES = 8;

export interface Claim<R extends JsonObject> {
  readonly record: R;
  readonly revision: bigint;
  readonly released: boolean;
}

export type ClaimOutcome<R extends JsonObject> = { readonly won: true; readonly revision: bigint } | { readonly won: false; readonly holder: R };

/**
 * Names that one holder has at a time (an idempotency key, an event id), each recorded in a
 * stream of its own. EventStoreDB appends are atomic per stream only, so a claim is a
 * conditional append on the name's stream: of any number of racing claimants exactly one
 * succeeds, and a released claim can be taken again by appending after the release.
 */
export class ClaimRegistry {
  constructor(private readonly client: EventStoreDBClient) {}

  /**
   * Takes `name` for `record`, unless its current holder still holds it. `stillHeld` judges a
   * claim that was never released (e.g. its holder crashed): returning false lets this claimant
   * take over from it.
   */
  async take<R extends JsonObject>(name: string, record: R | ((taken?: R) => R), stillHeld: (holder: R) => Promise<boolean>): Promise<ClaimOutcome<R>> {
    for (let race = 0; ; race++) {
      const current = await this.current<R>(name);
      if (current && !current.released && (race >= MAX_RACES || (await stillHeld(current.record)))) return { won: false, holder: current.record };
      // A record may carry what it takes over from (an unreleased claim judged not held).
      const data = typeof record === 'function' ? record(current && !current.released ? current.record : undefined) : record;
      try {
        const result = await this.client.appendToStream(streamOf(name), jsonEvent({ type: CLAIMED, data }), {
          expectedRevision: current ? current.revision : NO_STREAM,
        });
        return { won: true, revision: result.nextExpectedRevision };
      } catch (error) {
        if (!(error instanceof EsdbWrongExpectedVersion)) throw translateEsdbError(error);
        // Another claimant moved the stream first: look again at who holds it now.
      }
    }
  }

  /** Gives `name` up, if the claim at `revision` is still the latest. */
  async release(name: string, revision: bigint): Promise<void> {
    try {
      await this.client.appendToStream(streamOf(name), jsonEvent({ type: RELEASED, data: {} }), { expectedRevision: revision });
    } catch (error) {
      if (!(error instanceof EsdbWrongExpectedVersion)) throw translateEsdbError(error);
    }
  }

  async current<R extends JsonObject>(name: string): Promise<Claim<R> | undefined> {
    const [last] = await readStreamOrEmpty(this.client, streamOf(name), { direction: 'backwards', fromRevision: END, maxCount: 1 });
    const event = last?.event;
    if (!event) return undefined;
    if (event.type === RELEASED) return { record: {} as R, revision: event.revision, released: true };
    return { record: event.data as R, revision: event.revision, released: false };
  }
}

function streamOf(name: string): string {
  return `${BOOKKEEPING_PREFIX}claim-${name}`;
}
