import { jsonEvent, EventStoreDBClient } from '@eventstore/db-client';
import { keyClaimName } from '../../../src/eventstore/eventstoredb/append-claims';
import { toProposedEvent } from '../../../src/eventstore/eventstoredb/esdb-events';
import { EsdbEventStore } from '../../../src/eventstore/eventstoredb/esdb-event-store';
import { DuplicateEventError, IdempotencyKeyUsedError, StoreUnavailableError } from '../../../src/eventstore/errors';
import { idempotencyClaim, sealedEvents, testSigner, uniqueStreamId, uniqueTenantId } from '../../conformance/envelopes';
import { openEmbeddedTestDatabase } from '../../support/databases';
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
});
