import { randomUUID } from 'node:crypto';
import { EventStoreDBClient } from '@eventstore/db-client';
import { AppendClaims } from '../../../src/eventstore/eventstoredb/append-claims';
import { ClaimRegistry } from '../../../src/eventstore/eventstoredb/claim-registry';
import { claimsDatabase, esdbStore } from '../../support/esdb-store';
import { EsdbEventStore } from '../../../src/eventstore/eventstoredb/esdb-event-store';
import { IdempotencyKeyUsedError, StoreUnavailableError, WrongExpectedVersionError } from '../../../src/eventstore/errors';
import { START } from '../../../src/eventstore/global-position';
import { idempotencyClaim, sealedEvents, testSigner, uniqueStreamId, uniqueTenantId } from '../../conformance/envelopes';
import { startEsdbTestServer, type EsdbTestServer } from '../../support/esdb';

/**
 * What the EventStoreDB adapter adds to EventStoreDB, beyond the conformance suite: contention
 * under 'any', idempotency claims whose append never landed, subscriptions when the server goes.
 */
describe('EsdbEventStore beyond the conformance suite', () => {
  const signer = testSigner();
  let server: EsdbTestServer;
  let store: EsdbEventStore;

  beforeAll(async () => {
    server = await startEsdbTestServer();
    store = await esdbStore(server.connectionString);
  });
  afterAll(async () => {
    await store.close();
    await server.close();
  });

  it("given 40 writers appending to one stream with 'any' at once, then every batch lands whole, in a gapless stream", async () => {
    const streamId = uniqueStreamId('hot');
    await store.append(streamId, sealedEvents(signer, streamId, 1), 'no-stream');
    const batches = Array.from({ length: 40 }, () => sealedEvents(signer, streamId, 2));

    const results = await Promise.all(batches.map((batch) => store.append(streamId, batch, 'any')));

    const stored = await store.readStream(streamId);
    expect(stored.map((recorded) => recorded.streamVersion)).toEqual(Array.from({ length: 81 }, (_, version) => version));
    batches.forEach((batch, index) => {
      const [first] = results[index].streamVersions;
      expect(stored.slice(first, first + 2).map((recorded) => recorded.envelope.id)).toEqual(batch.map((event) => event.id));
      expect(results[index].positions).toEqual(stored.slice(first, first + 2).map((recorded) => recorded.position));
    });
  });

  describe('an idempotency key whose append never landed (its process died between the claim and the append)', () => {
    /** Another process's claims: its own client, the same claim registry. */
    const otherProcessClaims = async (client: EventStoreDBClient) => {
      const { id } = await store.identity();
      return new AppendClaims(client, new ClaimRegistry(await claimsDatabase(), async () => id));
    };
    const claimWithoutAppend = async (claim: ReturnType<typeof idempotencyClaim>, streamId: string) => {
      const client = EventStoreDBClient.connectionString(server.connectionString);
      try {
        await (await otherProcessClaims(client)).claimKey(claim, streamId, 0, sealedEvents(signer, streamId, 1, { tenantId: claim.tenantId }));
      } finally {
        await client.dispose();
      }
    };

    it('given a different request with the same key, then it is refused however old the claim is: the pinned version is not reached, the first append may still land', async () => {
      const tenantId = uniqueTenantId();
      const streamId = uniqueStreamId('crashed');
      await claimWithoutAppend(idempotencyClaim(tenantId, 'create-once', 'first'), streamId);
      const other = idempotencyClaim(tenantId, 'create-once', 'another request');

      await expect(store.append(streamId, sealedEvents(signer, streamId, 1, { tenantId }), 'no-stream', { idempotency: other })).rejects.toBeInstanceOf(IdempotencyKeyUsedError);
      expect(await store.findIdempotentAppend(tenantId, other.key)).toBeUndefined();
      expect(await store.streamVersion(streamId)).toBeUndefined();
    });

    it('given a retry of the same request, pinned at the same version, then it takes the key over at once and lands once', async () => {
      const tenantId = uniqueTenantId();
      const streamId = uniqueStreamId('crashed');
      const claim = idempotencyClaim(tenantId, 'create-once', 'first');
      await claimWithoutAppend(claim, streamId);
      const retry = sealedEvents(signer, streamId, 1, { tenantId });

      await store.append(streamId, retry, 'no-stream', { idempotency: claim });

      expect(await store.findIdempotentAppend(tenantId, claim.key)).toEqual({ streamId, firstVersion: 0, eventCount: 1, requestHash: claim.requestHash });
      expect((await store.readStream(streamId)).map((recorded) => recorded.envelope.id)).toEqual([retry[0].id]);
    });

    it('given the first append lands after all (held by EventStoreDB past any timeout) while its retry took the key over, then the retry fails and the key answers with what landed: one outcome, not two', async () => {
      const tenantId = uniqueTenantId();
      const streamId = uniqueStreamId('late');
      const claim = idempotencyClaim(tenantId, 'create-once', 'first');
      const first = sealedEvents(signer, streamId, 2, { tenantId });
      const client = EventStoreDBClient.connectionString(server.connectionString);
      try {
        await (await otherProcessClaims(client)).claimKey(claim, streamId, 0, first);
        // The retry takes the key over and is about to append at version 0; the first append lands there first.
        const retry = sealedEvents(signer, streamId, 1, { tenantId });
        await (await otherProcessClaims(client)).claimKey(claim, streamId, 0, retry);
        await store.append(streamId, first, 'no-stream');

        await expect(store.append(streamId, retry, 'no-stream', { idempotency: claim })).rejects.toBeInstanceOf(WrongExpectedVersionError);
        expect(await store.findIdempotentAppend(tenantId, claim.key)).toEqual({ streamId, firstVersion: 0, eventCount: 2, requestHash: claim.requestHash });
        await expect(store.append(streamId, sealedEvents(signer, streamId, 1, { tenantId }), 1, { idempotency: idempotencyClaim(tenantId, 'create-once', 'another request') })).rejects.toBeInstanceOf(IdempotencyKeyUsedError);
      } finally {
        await client.dispose();
      }
    });
  });

  describe('what an append costs (issue 26, item 4)', () => {
    const appendCost = async (count: number, expected: 'no-stream' | number, keyed: boolean, streamId: string, tenantId: string) => {
      const before = server.requests();
      const events = sealedEvents(signer, streamId, count, { tenantId });
      await store.append(streamId, events, expected, keyed ? { idempotency: idempotencyClaim(tenantId, `cost-${randomUUID()}`, events[0].id) } : {});
      const after = server.requests();
      return { reads: after.reads - before.reads, appends: after.appends - before.appends };
    };

    it.each([1, 10, 50])('given an append of %i events with an idempotency key, then it costs the same EventStoreDB round trips whatever its size, and writes nothing to $all but its events', async (count) => {
      const tenantId = uniqueTenantId();
      const streamId = uniqueStreamId('cost');
      await store.identity();
      const eventsBefore = server.allEvents().length;

      const created = await appendCost(count, 'no-stream', true, streamId, tenantId);
      const continued = await appendCost(count, count - 1, true, streamId, tenantId);
      const unkeyed = await appendCost(count, 2 * count - 1, false, streamId, tenantId);

      // A new stream: its head, the append, the read-back of its positions. A stream whose tenant is known and whose version is named: no head read.
      expect({ created, continued, unkeyed }).toEqual({ created: { reads: 2, appends: 1 }, continued: { reads: 1, appends: 1 }, unkeyed: { reads: 1, appends: 1 } });
      expect(server.allEvents().length - eventsBefore).toBe(3 * count);
    });
  });

  it('reads nothing and counts nothing with a limit of zero', async () => {
    const streamId = uniqueStreamId('zero');
    await store.append(streamId, sealedEvents(signer, streamId, 2), 'no-stream');
    expect(await store.readAll(START, 0)).toEqual([]);
    expect(await store.countAfter(START, 0)).toEqual({ count: 0 });
  });

  it('given a live subscription, when EventStoreDB goes away, then the iteration fails with StoreUnavailableError rather than end quietly', async () => {
    const own = await startEsdbTestServer();
    const subscriber = await esdbStore(own.connectionString);
    try {
      const streamId = uniqueStreamId('sub');
      await subscriber.append(streamId, sealedEvents(signer, streamId, 1), 'no-stream');
      const subscription = subscriber.subscribeBatches(START, { batchSize: 10 });
      const iterator = subscription[Symbol.asyncIterator]();
      expect((await iterator.next()).value).toHaveLength(1);

      const next = iterator.next();
      await own.stop();

      await expect(next).rejects.toBeInstanceOf(StoreUnavailableError);
      subscription.close();
    } finally {
      await subscriber.close();
      await own.close();
    }
  });
});
