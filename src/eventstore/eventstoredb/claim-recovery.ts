import { BACKWARDS, END, FORWARDS, START, type EventStoreDBClient, type Position, type ResolvedEvent } from '@eventstore/db-client';
import type { Knex } from 'knex';
import { ProoflineError } from '../../errors/proofline-error';
import { comparePositions, formatPosition, parsePosition } from '../global-position';
import { eventClaimName, keyClaimName } from './append-claims';
import { insertUnclaimed } from './claim-registry';
import { translateEsdbError } from './esdb-errors';
import { BOOKKEEPING_PREFIX, isEnvelopeEvent, keyedAppendOf, tenantOf } from './esdb-events';

const PAGE = 1_000;
const CLAIM_STREAMS = `${BOOKKEEPING_PREFIX}claim-`;
const KEY_STREAMS = `${CLAIM_STREAMS}idempotency-`;
const IMPORTS = 'eventstoredb_claim_imports';

export interface RecoveredClaims {
  /** 'imported': the whole store was read (first use of the store by this registry); 'recovered': its newest events. */
  readonly kind: 'imported' | 'recovered';
  readonly eventIds: number;
  readonly keys: number;
}

interface ClaimRow {
  readonly name: string;
  readonly record: object;
}

/**
 * Brings the claim registry (PostgreSQL) up to what the store (EventStoreDB) holds, before a
 * process makes its first claim. Every stored event carries what its claims were: its id, and on
 * the first event of a keyed append the key and the request's hash (StoredMetadata.idempotency).
 * So the registry can always be rebuilt from the store, and it is:
 *
 * - the first time a store is seen (no row in eventstoredb_claim_imports): $all is read once,
 *   forwards. This also copies the claims an earlier version kept as streams in the store
 *   (`_proofline-claim-*`), and records the position read to;
 * - on every later start: $all is read backwards from its end, page by page, adding the claims
 *   of events that have none, until a page whose events all have theirs. Claims are committed
 *   before their append, so in a registry that lost nothing the first page ends it; after
 *   PostgreSQL was restored from an older backup, the events appended since are read back and
 *   their ids and keys claimed again (otherwise a retried keyed request would be applied twice).
 *
 * A claim stream written after the import is an instance of an earlier version still claiming
 * in EventStoreDB, beside this registry: its claims are copied, and the process refuses to claim
 * (STORE.EARLIER_VERSION_WRITING) until a start finds none newer than the last copy.
 * Copies never replace a claim the table has, so importers and appenders may run at once.
 */
export async function recoverClaims(client: EventStoreDBClient, knex: Knex, storeId: string): Promise<RecoveredClaims> {
  const imported: { imported_through: string | null } | undefined = await knex(IMPORTS).where({ store_id: storeId }).first('imported_through');
  if (!imported) return importStore(client, knex, storeId);
  return recoverNewest(client, knex, storeId, imported.imported_through === null ? undefined : parsePosition(imported.imported_through));
}

async function importStore(client: EventStoreDBClient, knex: Knex, storeId: string): Promise<RecoveredClaims> {
  let eventIds = 0;
  const legacyKeys = new Map<string, object | undefined>();
  let from: Position | typeof START = START;
  let through: Position | undefined;
  for (;;) {
    const page = await readPage(client, from, FORWARDS);
    collectLegacyKeys(page, legacyKeys);
    eventIds += await insertClaims(knex, storeId, claimsOf(page));
    const last = page[page.length - 1]?.event?.position;
    if (last) through = last;
    if (page.length < PAGE || !last) break;
    // A read from a position includes the event there: the page's last event is read twice, and inserted once.
    from = last;
  }
  const keys = await insertClaims(knex, storeId, heldLegacyKeys(legacyKeys));
  await knex(IMPORTS)
    .insert({ store_id: storeId, event_ids: eventIds, keys, imported_through: through ? formatPosition(through) : null })
    .onConflict('store_id')
    .ignore();
  return { kind: 'imported', eventIds, keys };
}

async function recoverNewest(client: EventStoreDBClient, knex: Knex, storeId: string, importedThrough: Position | undefined): Promise<RecoveredClaims> {
  let eventIds = 0;
  const legacyKeys = new Map<string, object | undefined>();
  let newestLegacy: Position | undefined;
  let from: Position | typeof END = END;
  for (;;) {
    const page = await readPage(client, from, BACKWARDS);
    const legacy = page.filter(({ event }) => event?.position && event.streamId.startsWith(CLAIM_STREAMS) && !(importedThrough && comparePositions(event.position, importedThrough) <= 0));
    newestLegacy ??= legacy[0]?.event?.position;
    // Backwards, so the newest of each key's claim events is met first: keep it.
    collectLegacyKeys(legacy, legacyKeys, true);
    const claims = claimsOf(page);
    // What the insert adds is what had no claim: a page of events that all had theirs ends the walk.
    const added = await insertUnclaimed(knex, storeId, claims);
    eventIds += added.length;
    const isEventClaim = (name: string) => name.startsWith(eventClaimName(''));
    if ((claims.some((claim) => isEventClaim(claim.name)) && !added.some(isEventClaim)) || page.length < PAGE) break;
    const oldest = page[page.length - 1]?.event?.position;
    if (!oldest) break;
    from = oldest;
  }
  const keys = await insertClaims(knex, storeId, heldLegacyKeys(legacyKeys));
  if (newestLegacy) {
    await knex(IMPORTS).where({ store_id: storeId }).update({ imported_through: formatPosition(newestLegacy) });
    throw new ProoflineError(
      'STORE.EARLIER_VERSION_WRITING',
      `an earlier Proofline version is claiming event ids or idempotency keys in EventStoreDB streams (${CLAIM_STREAMS}*, up to position ${formatPosition(newestLegacy)}), beside this version's registry in PostgreSQL: one id could be stored twice. Their claims were copied; stop every instance of the earlier version, then retry (docs/eventstoredb.md, "Upgrading a store written before the claims moved")`,
      503,
      { position: formatPosition(newestLegacy) },
    );
  }
  return { kind: 'recovered', eventIds, keys };
}

/** The claims a page's envelopes stand for: each one's id, and the key of a keyed append's first event. */
function claimsOf(page: readonly ResolvedEvent[]): ClaimRow[] {
  return page.flatMap((resolved) => {
    const event = resolved.event;
    if (!event?.position || !isEnvelopeEvent(resolved)) return [];
    const claims: ClaimRow[] = [{ name: eventClaimName(event.id), record: { streamId: event.streamId } }];
    const keyed = keyedAppendOf(resolved);
    const tenantId = tenantOf(resolved);
    if (keyed && tenantId !== undefined) {
      claims.push({
        name: keyClaimName(tenantId, keyed.key),
        record: {
          tenantId,
          key: keyed.key,
          requestHash: keyed.requestHash,
          streamId: event.streamId,
          firstVersion: Number(event.revision),
          eventCount: keyed.eventCount,
          firstEventId: event.id,
          claimedAt: event.created.toISOString(),
        },
      });
    }
    return claims;
  });
}

/**
 * An earlier version's key claims: the latest event of each key's stream is its claim
 * (`_claimed`, with the record) or its release. `newestFirst`: the events come newest first,
 * so the first met of a key is kept; otherwise the last.
 */
function collectLegacyKeys(events: readonly ResolvedEvent[], keys: Map<string, object | undefined>, newestFirst = false): void {
  for (const { event } of events) {
    if (!event || !event.streamId.startsWith(KEY_STREAMS)) continue;
    const name = event.streamId.slice(CLAIM_STREAMS.length);
    if (newestFirst && keys.has(name)) continue;
    const record = event.type === '_claimed' && typeof event.data === 'object' && event.data !== null ? (event.data as object) : undefined;
    keys.set(name, record);
  }
}

function heldLegacyKeys(keys: Map<string, object | undefined>): ClaimRow[] {
  return [...keys].flatMap(([name, record]) => (record ? [{ name, record }] : []));
}

async function readPage(client: EventStoreDBClient, from: Position | typeof START | typeof END, direction: typeof FORWARDS | typeof BACKWARDS): Promise<ResolvedEvent[]> {
  const page: ResolvedEvent[] = [];
  try {
    for await (const resolved of client.readAll({ fromPosition: from, direction, maxCount: PAGE })) page.push(resolved);
  } catch (error) {
    throw translateEsdbError(error);
  }
  return page;
}

/** How many of the claims were new. */
async function insertClaims(knex: Knex, storeId: string, claims: readonly ClaimRow[]): Promise<number> {
  return (await insertUnclaimed(knex, storeId, claims)).length;
}
