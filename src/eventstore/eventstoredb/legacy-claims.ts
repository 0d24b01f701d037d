import { START, type EventStoreDBClient, type Position, type ResolvedEvent } from '@eventstore/db-client';
import type { Knex } from 'knex';
import { eventClaimName } from './append-claims';
import { translateEsdbError } from './esdb-errors';
import { BOOKKEEPING_PREFIX, isEnvelopeEvent } from './esdb-events';

const PAGE = 1_000;
const KEY_STREAMS = `${BOOKKEEPING_PREFIX}claim-idempotency-`;
const CLAIM_STREAMS = `${BOOKKEEPING_PREFIX}claim-`;

export interface ImportedClaims {
  readonly eventIds: number;
  readonly keys: number;
}

/**
 * Before issue 26 (item 4), the adapter claimed each event id and idempotency key in a stream of
 * its own in EventStoreDB. The registry is now a PostgreSQL table; so that an event stored
 * before the move keeps its id to itself, and a key used before it still answers its retry,
 * once per store (recorded in eventstoredb_claim_imports) this reads $all once and copies into
 * the table the id of every stored envelope and the latest unreleased claim of every key.
 * Copies never replace a claim already in the table, so importers and appenders may run at once.
 * Returns undefined when the store was imported before.
 */
export async function importLegacyClaims(client: EventStoreDBClient, knex: Knex, storeId: string): Promise<ImportedClaims | undefined> {
  if (await knex('eventstoredb_claim_imports').where({ store_id: storeId }).first('store_id')) return undefined;
  let eventIds = 0;
  const keys = new Map<string, unknown>();
  let from: Position | typeof START = START;
  for (;;) {
    const page = await readPage(client, from);
    const ids = page.filter((resolved) => resolved.event && isEnvelopeEvent(resolved)).map((resolved) => ({ name: eventClaimName(resolved.event!.id), record: { streamId: resolved.event!.streamId } }));
    for (const { event } of page) {
      if (!event) continue;
      // The latest event of a key's stream is its claim (`_claimed`, with the record) or its release.
      if (event.streamId.startsWith(KEY_STREAMS)) keys.set(event.streamId.slice(CLAIM_STREAMS.length), event.type === '_claimed' ? event.data : undefined);
    }
    eventIds += await insertClaims(knex, storeId, ids);
    if (page.length < PAGE) break;
    // A read from a position includes the event there: the page's last event is read twice, and inserted once.
    const last = page[page.length - 1].event?.position;
    if (!last) break;
    from = last;
  }
  const held = [...keys].flatMap(([name, record]) => (record && typeof record === 'object' ? [{ name, record }] : []));
  const keyCount = await insertClaims(knex, storeId, held);
  await knex('eventstoredb_claim_imports').insert({ store_id: storeId, event_ids: eventIds, keys: keyCount }).onConflict('store_id').ignore();
  return { eventIds, keys: keyCount };
}

async function readPage(client: EventStoreDBClient, from: Position | typeof START): Promise<ResolvedEvent[]> {
  const page: ResolvedEvent[] = [];
  try {
    for await (const resolved of client.readAll({ fromPosition: from, maxCount: PAGE })) page.push(resolved);
  } catch (error) {
    throw translateEsdbError(error);
  }
  return page;
}

async function insertClaims(knex: Knex, storeId: string, claims: ReadonlyArray<{ name: string; record: unknown }>): Promise<number> {
  if (claims.length === 0) return 0;
  const rows = claims.map(({ name, record }) => ({ store_id: storeId, name, record: JSON.stringify(record), revision: 0 }));
  const inserted: unknown[] = await knex('eventstoredb_claims').insert(rows).onConflict(['store_id', 'name']).ignore().returning(['name']);
  return inserted.length;
}
