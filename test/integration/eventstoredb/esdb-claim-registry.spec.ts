import { jsonEvent, EventStoreDBClient } from '@eventstore/db-client';
import { keyClaimName } from '../../../src/eventstore/eventstoredb/append-claims';
import { toProposedEvent } from '../../../src/eventstore/eventstoredb/esdb-events';
import { EsdbEventStore } from '../../../src/eventstore/eventstoredb/esdb-event-store';
import { DuplicateEventError, IdempotencyKeyUsedError, StoreUnavailableError, WrongExpectedVersionError } from '../../../src/eventstore/errors';
import { idempotencyClaim, sealedEvents, testSigner, uniqueStreamId, uniqueTenantId } from '../../conformance/envelopes';
import { openEmbeddedTestDatabase, openServerTestDatabase } from '../../support/databases';
import { startEsdbTestServer, type EsdbTestServer } from '../../support/esdb';
import { claimsDatabase, esdbStore } from '../../support/esdb-store';

/**
 * Issue 26, item 4: the adapter's event-id and idempotency-key claims live in PostgreSQL
 * (eventstoredb_claims), per EventStoreDB store; a store written by an earlier version, whose
 * claims are streams in EventStoreDB, is imported once.
 */
describe('the EventStoreDB claim registry in PostgreSQL', () => {
  const signer = testSigner();
  const servers: EsdbTestServer[] = [];
  const stores: EsdbEventStore[] = [];

  afterEach(async () => {
    await Promise.allSettled(stores.splice(0).map((store) => store.close()));
    await Promise.allSettled(servers.splice(0).map((server) => server.close()));
  });

  async function server(): Promise<EsdbTestServer> {
    const started = await startEsdbTestServer();
    servers.push(started);
    return started;
  }

  async function storeOn(target: EsdbTestServer): Promise<EsdbEventStore> {
    const store = await esdbStore(target.connectionString);
    stores.push(store);
    return store;
  }

  it('given two processes appending events with the same id at once, then exactly one append lands and the other gets STREAM.DUPLICATE_EVENT', async () => {
    const target = await server();
    const [one, two] = [await storeOn(target), await storeOn(target)];
    for (let round = 0; round < 20; round++) {
      const tenantId = uniqueTenantId();
      const [event] = sealedEvents(signer, uniqueStreamId('race'), 1, { tenantId });
      // The same id in two streams: EventStoreDB alone would store both.
      const [a, b] = [uniqueStreamId('a'), uniqueStreamId('b')];
      const outcomes = await Promise.allSettled([one.append(a, [{ ...event, streamId: a }], 'no-stream'), two.append(b, [{ ...event, streamId: b }], 'no-stream')]);
      const landed = outcomes.filter((outcome) => outcome.status === 'fulfilled');
      const refused = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason] : []));
      expect({ round, landed: landed.length, refused: refused.map((error) => error instanceof DuplicateEventError) }).toEqual({ round, landed: 1, refused: [true] });
    }
  });

  it('given one database serving two EventStoreDB stores, then an id claimed in one is free in the other: claims belong to their store', async () => {
    const [first, second] = [await storeOn(await server()), await storeOn(await server())];
    const streamId = uniqueStreamId('scoped');
    const events = sealedEvents(signer, streamId, 2);
    await first.append(streamId, events, 'no-stream');
    await second.append(streamId, events, 'no-stream');
    expect((await second.readStream(streamId)).map((recorded) => recorded.envelope.id)).toEqual(events.map((event) => event.id));
  });

  it('given the claim registry unreachable, then an append is 503 STORE.UNAVAILABLE and nothing is written', async () => {
    const target = await server();
    const database = await openEmbeddedTestDatabase();
    const store = EsdbEventStore.fromConnectionString(target.connectionString, database.knex);
    stores.push(store);
    const streamId = uniqueStreamId('no-registry');
    await store.append(streamId, sealedEvents(signer, streamId, 1), 'no-stream');
    await database.close();

    const failure = await store.append(streamId, sealedEvents(signer, streamId, 1), 0).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(StoreUnavailableError);
    expect(failure).toMatchObject({ status: 503, message: expect.stringMatching(/claim registry in PostgreSQL.*nothing was written|nothing was written.*claim registry/s) });
    expect(await store.streamVersion(streamId)).toBe(0);
  });

  describe('a store written before the registry moved (its claims are EventStoreDB streams)', () => {
    it('given an event stored and keys claimed the old way, then the first append of a new process imports them once: the id stays taken, the landed key answers its retry, a released key is free', async () => {
      const target = await server();
      const client = EventStoreDBClient.connectionString(target.connectionString);
      const tenantId = uniqueTenantId();
      const streamId = uniqueStreamId('before-the-move');
      const [stored] = sealedEvents(signer, streamId, 1, { tenantId });
      const landedKey = idempotencyClaim(tenantId, 'landed', 'the first request');
      const releasedKey = idempotencyClaim(tenantId, 'released', 'a failed request');
      try {
        // What the earlier version left in EventStoreDB: the event, its id's claim stream, two key claim streams.
        await client.appendToStream(streamId, toProposedEvent(stored));
        await client.appendToStream(`_proofline-claim-event-${stored.id}`, jsonEvent({ type: '_claimed', data: { streamId } }));
        await client.appendToStream(
          `_proofline-claim-${keyClaimName(tenantId, landedKey.key)}`,
          jsonEvent({ type: '_claimed', data: { tenantId, key: landedKey.key, requestHash: landedKey.requestHash, streamId, firstVersion: 0, eventCount: 1, firstEventId: stored.id, claimedAt: new Date().toISOString() } }),
        );
        await client.appendToStream(`_proofline-claim-${keyClaimName(tenantId, releasedKey.key)}`, [
          jsonEvent({ type: '_claimed', data: { tenantId, key: releasedKey.key, requestHash: releasedKey.requestHash, streamId, firstVersion: 0, eventCount: 1, firstEventId: 'never-landed', claimedAt: new Date().toISOString() } }),
          jsonEvent({ type: '_released', data: {} }),
        ]);
      } finally {
        await client.dispose();
      }
      const store = await storeOn(target);

      const elsewhere = uniqueStreamId('elsewhere');
      await expect(store.append(elsewhere, [{ ...stored, streamId: elsewhere }], 'no-stream')).rejects.toBeInstanceOf(DuplicateEventError);
      expect(await store.findIdempotentAppend(tenantId, landedKey.key)).toEqual({ streamId, firstVersion: 0, eventCount: 1, requestHash: landedKey.requestHash });
      await expect(store.append(streamId, sealedEvents(signer, streamId, 1, { tenantId }), 0, { idempotency: idempotencyClaim(tenantId, 'landed', 'another request') })).rejects.toBeInstanceOf(IdempotencyKeyUsedError);
      await store.append(streamId, sealedEvents(signer, streamId, 1, { tenantId }), 0, { idempotency: releasedKey });

      const { id } = await store.identity();
      const imported = await (await claimsDatabase())('eventstoredb_claim_imports').where({ store_id: id }).first('event_ids', 'keys');
      expect({ eventIds: Number(imported.event_ids), keys: Number(imported.keys) }).toEqual({ eventIds: 1, keys: 1 });
    });
  });
  describe('the registry rebuilt from the store', () => {
    it('given PostgreSQL restored from a backup older than EventStoreDB, then the restarted process claims again what was stored since: a landed key answers its retry, a stored id stays taken', async () => {
      const target = await server();
      const knex = await claimsDatabase();
      const tenantId = uniqueTenantId();
      const streamId = uniqueStreamId('restore');
      const before = await storeOn(target);
      await before.append(streamId, sealedEvents(signer, streamId, 1, { tenantId }), 'no-stream');
      const { id: storeId } = await before.identity();
      const backup = await knex('eventstoredb_claims').where({ store_id: storeId }).select('*');
      const key = idempotencyClaim(tenantId, 'pay-invoice-7', 'the request');
      const [landed] = sealedEvents(signer, streamId, 1, { tenantId });
      await before.append(streamId, [landed], 0, { idempotency: key });

      // The restore: EventStoreDB keeps the keyed event, PostgreSQL forgets its claims.
      await knex('eventstoredb_claims').where({ store_id: storeId }).delete();
      await knex('eventstoredb_claims').insert(backup);
      const after = await storeOn(target);

      expect(await after.findIdempotentAppend(tenantId, key.key)).toEqual({ streamId, firstVersion: 1, eventCount: 1, requestHash: key.requestHash });
      await expect(after.append(streamId, sealedEvents(signer, streamId, 1, { tenantId }), 1, { idempotency: key })).rejects.toBeInstanceOf(IdempotencyKeyUsedError);
      const elsewhere = uniqueStreamId('elsewhere');
      await expect(after.append(elsewhere, [{ ...landed, streamId: elsewhere }], 'no-stream')).rejects.toBeInstanceOf(DuplicateEventError);
    });

    it('given an instance of the earlier version claiming in streams after the import, then the next start refuses with STORE.EARLIER_VERSION_WRITING, copies its claims, and claims again once no newer one appears', async () => {
      const target = await server();
      const streamId = uniqueStreamId('mixed');
      await (await storeOn(target)).append(streamId, sealedEvents(signer, streamId, 1), 'no-stream');
      const [event] = sealedEvents(signer, uniqueStreamId('old'), 1);
      const client = EventStoreDBClient.connectionString(target.connectionString);
      try {
        // What the earlier version does: claim in a stream, then append.
        await client.appendToStream(`_proofline-claim-event-${event.id}`, jsonEvent({ type: '_claimed', data: { streamId: event.streamId } }));
        await client.appendToStream(event.streamId, toProposedEvent(event));
      } finally {
        await client.dispose();
      }
      const restarted = await storeOn(target);
      const elsewhere = uniqueStreamId('new');

      const refused = await restarted.append(elsewhere, sealedEvents(signer, elsewhere, 1), 'no-stream').catch((error: unknown) => error);
      expect(refused).toMatchObject({ status: 503, code: 'STORE.EARLIER_VERSION_WRITING' });
      expect(await restarted.streamVersion(elsewhere)).toBeUndefined();
      await expect(restarted.append(elsewhere, [{ ...event, streamId: elsewhere }], 'no-stream')).rejects.toBeInstanceOf(DuplicateEventError);
      await restarted.append(elsewhere, sealedEvents(signer, elsewhere, 1), 'no-stream');
    });

    it('given a store written by the earlier version across several pages, then the first use imports every id and the latest state of each key', async () => {
      const target = await server();
      const client = EventStoreDBClient.connectionString(target.connectionString);
      const tenantId = uniqueTenantId();
      const streamId = uniqueStreamId('legacy');
      const events = sealedEvents(signer, streamId, 2_997, { tenantId });
      const released = `_proofline-claim-${keyClaimName(tenantId, 'k1')}`;
      try {
        for (let i = 0; i < events.length; i += 500) await client.appendToStream(streamId, events.slice(i, i + 500).map((event) => toProposedEvent(event)));
        // A key claimed on one page and released two pages later.
        await client.appendToStream(released, jsonEvent({ type: '_claimed', data: { tenantId, key: 'k1', requestHash: 'h', streamId, firstVersion: 0, eventCount: 1, firstEventId: events[0].id, claimedAt: 'x' } }));
        await client.appendToStream('noise', Array.from({ length: 1_200 }, () => jsonEvent({ type: '_noise', data: {} })));
        await client.appendToStream(released, jsonEvent({ type: '_released', data: {} }));
      } finally {
        await client.dispose();
      }
      const store = await storeOn(target);
      for (const i of [0, 998, 999, 1000, 1001, 1998, 1999, 2996]) {
        const elsewhere = uniqueStreamId('dup');
        await expect(store.append(elsewhere, [{ ...events[i], streamId: elsewhere }], 'no-stream')).rejects.toBeInstanceOf(DuplicateEventError);
      }
      const { id } = await store.identity();
      const imported = await (await claimsDatabase())('eventstoredb_claim_imports').where({ store_id: id }).first('event_ids', 'keys');
      expect({ eventIds: Number(imported.event_ids), keys: Number(imported.keys) }).toEqual({ eventIds: 2_997, keys: 0 });
    }, 120_000);
  });

  it('given a keyed append, then it costs two PostgreSQL statements: the ids, the key', async () => {
    const knex = await claimsDatabase();
    const tenantId = uniqueTenantId();
    const streamId = uniqueStreamId('pg-cost');
    const store = await storeOn(await server());
    await store.append(streamId, sealedEvents(signer, streamId, 1, { tenantId }), 'no-stream');
    const statements: string[] = [];
    const count = (query: { sql: string }) => statements.push(query.sql);
    knex.on('query', count);
    try {
      await store.append(streamId, sealedEvents(signer, streamId, 5, { tenantId }), 0, { idempotency: idempotencyClaim(tenantId, 'k', 'r') });
    } finally {
      knex.removeListener('query', count);
    }
    expect(statements).toHaveLength(2);
  });

  it("given a batch larger than PostgreSQL's bind limit (16,400 events), then EventStoreDB's size limit answers it: 413, nothing written, nothing left claimed", async () => {
    const store = await storeOn(await server());
    const streamId = uniqueStreamId('huge');
    const events = sealedEvents(signer, streamId, 16_400);
    const failure = await store.append(streamId, events, 'no-stream').catch((error: unknown) => error);
    expect(failure).toMatchObject({ status: 413, code: 'STORE.APPEND_TOO_LARGE' });
    expect(await store.streamVersion(streamId)).toBeUndefined();
    await store.append(streamId, events.slice(0, 3), 'no-stream');
  }, 120_000);

  it('given the registry on the PostgreSQL server (pg driver), then claims, a key answer, a certain failure released and its ids taken again behave as on PGlite', async () => {
    const target = await server();
    const database = await openServerTestDatabase();
    const store = EsdbEventStore.fromConnectionString(target.connectionString, database.knex);
    try {
      const tenantId = uniqueTenantId();
      const streamId = uniqueStreamId('pg');
      const key = idempotencyClaim(tenantId, 'k', 'r');
      const events = sealedEvents(signer, streamId, 3, { tenantId });
      await store.append(streamId, events, 'no-stream', { idempotency: key });
      expect(await store.findIdempotentAppend(tenantId, 'k')).toEqual({ streamId, firstVersion: 0, eventCount: 3, requestHash: key.requestHash });
      const more = sealedEvents(signer, streamId, 2, { tenantId });
      await expect(store.append(streamId, more, 7)).rejects.toBeInstanceOf(WrongExpectedVersionError);
      const rows: Array<{ released: boolean; revision: unknown }> = await database.knex('eventstoredb_claims').whereIn('name', more.map((event) => `event-${event.id}`)).select('released', 'revision');
      expect(rows.map((row) => [row.released, Number(row.revision)])).toEqual([[true, 1], [true, 1]]);
      await store.append(streamId, more, 2);
      const elsewhere = uniqueStreamId('elsewhere');
      await expect(store.append(elsewhere, [{ ...events[0], streamId: elsewhere }], 'no-stream')).rejects.toBeInstanceOf(DuplicateEventError);
    } finally {
      await store.close();
      await database.close();
    }
  });
});
