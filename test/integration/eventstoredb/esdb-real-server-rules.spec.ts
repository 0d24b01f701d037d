import { EventStoreDBClient } from '@eventstore/db-client';
import { esdbStore } from '../../support/esdb-store';
import { EsdbEventStore } from '../../../src/eventstore/eventstoredb/esdb-event-store';
import { failureOf } from '../../conformance/helpers';
import { sealedEvents, testSigner, uniqueStreamId, uniqueTenantId } from '../../conformance/envelopes';
import { startEsdbTestServer, type AppendRefusal, type EsdbTestServer, type EsdbTestServerOptions } from '../../support/esdb';

/**
 * The EventStoreDB adapter against behaviours of a real EventStoreDB (23.10, 24.10) that the
 * protocol test server models since issue 26; docs/eventstoredb.md names the server source each
 * one comes from. Every case runs against a server with BatchAppend (what the 6.2.1 client uses
 * on 21.10 and later) and one without (the plain Append call).
 */
const SERVERS: Array<[string, EsdbTestServerOptions]> = [
  ['batch appends', {}],
  ['plain appends', { supportsBatchAppend: false, serverVersion: '21.6.0' }],
];

describe.each(SERVERS)('EsdbEventStore against the real server rules (%s)', (_label, serverOptions) => {
  const signer = testSigner();
  let server: EsdbTestServer;
  let store: EsdbEventStore;
  /** A plain client, to do what an operator might behind Proofline's back. */
  let operator: EventStoreDBClient;

  beforeAll(async () => {
    server = await startEsdbTestServer(serverOptions);
    store = await esdbStore(server.connectionString);
    operator = EventStoreDBClient.connectionString(server.connectionString);
  });
  afterEach(() => server.refuseAppends(undefined));
  afterAll(async () => {
    await operator.dispose();
    await store.close();
    await server.close();
  });

  describe('streams deleted in EventStoreDB (issue 26, item 6)', () => {
    it("given tenant A's stream soft-deleted by an operator, when tenant B creates it with no-stream, then 500 STREAM.DELETED says where EventStoreDB put the events, rather than a success at version 2", async () => {
      const streamId = uniqueStreamId('soft-deleted');
      await store.append(streamId, sealedEvents(signer, streamId, 2, { tenantId: uniqueTenantId() }), 'no-stream');
      await operator.deleteStream(streamId);
      const other = await esdbStore(server.connectionString);
      try {
        const error = await failureOf(other.append(streamId, sealedEvents(signer, streamId, 1, { tenantId: uniqueTenantId() }), 'no-stream'));

        expect(error).toMatchObject({ status: 500, code: 'STREAM.DELETED', details: { streamId, expectedFirstVersion: 0, storedFirstVersion: 2 } });
      } finally {
        await other.close();
      }
    });

    it('given a stream tombstoned by an operator, when appending (its tenant remembered or not), then 500 STREAM.DELETED naming the stream', async () => {
      const streamId = uniqueStreamId('tombstoned');
      const tenantId = uniqueTenantId();
      await store.append(streamId, sealedEvents(signer, streamId, 1, { tenantId }), 'no-stream');
      await operator.tombstoneStream(streamId);

      // This store remembers the stream's tenant and appends at once; a fresh one reads the head first.
      const fresh = await esdbStore(server.connectionString);
      try {
        for (const writer of [store, fresh]) {
          const error = await failureOf(writer.append(streamId, sealedEvents(signer, streamId, 1, { tenantId }), 0));
          expect(error).toMatchObject({ status: 500, code: 'STREAM.DELETED', details: { streamId } });
        }
      } finally {
        await fresh.close();
      }
    });
  });

  describe('a node that refuses a write it never started (issue 26, item 3)', () => {
    it.each<[string, AppendRefusal]>([
      ['not ready (start-up)', 'not-ready'],
      ['too busy', 'too-busy'],
      ['a follower without leader info (an election)', 'no-leader-info'],
    ])('given a node %s, when appending, then 503 STORE.UNAVAILABLE "nothing was written", and the same events land once it accepts again', async (_case, refusal) => {
      const streamId = uniqueStreamId('refused');
      const events = sealedEvents(signer, streamId, 2);
      server.refuseAppends(refusal, 'refused-');

      const error = await failureOf(store.append(streamId, events, 'no-stream'));

      expect(error).toMatchObject({ status: 503, code: 'STORE.UNAVAILABLE' });
      expect((error as Error).message).toMatch(/nothing was written/);
      expect(await store.streamVersion(streamId)).toBeUndefined();
      // Nothing was written, so the event ids were given up: the very same events can be appended.
      server.refuseAppends(undefined);
      const result = await store.append(streamId, events, 'no-stream');
      expect(result.streamVersions).toEqual([0, 1]);
    });
  });
});
