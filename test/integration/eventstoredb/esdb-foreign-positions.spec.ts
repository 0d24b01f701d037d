import { esdbStore } from '../../support/esdb-store';
import { EsdbEventStore } from '../../../src/eventstore/eventstoredb/esdb-event-store';
import { formatPosition, type GlobalPosition } from '../../../src/eventstore/global-position';
import { failureOf } from '../../conformance/helpers';
import { sealedEvents, testSigner, uniqueStreamId, uniqueTenantId } from '../../conformance/envelopes';
import { startEsdbTestServer, type EsdbTestServer } from '../../support/esdb';

/**
 * Issue 26, item 1: a checkpoint that is no position of this EventStoreDB (one PostgreSQL wrote,
 * another EventStoreDB's, a backup older than the checkpoint) must fail loudly, not skip events.
 * The test server answers as 23.10/24.10 do: InvalidPosition for a read from inside a record,
 * and a filtered subscription from past the end goes live and drops events at or before it.
 */
describe('EsdbEventStore refuses positions that are not its own (issue 26, item 1)', () => {
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

  async function appendSome(count: number): Promise<GlobalPosition[]> {
    const streamId = uniqueStreamId('positions');
    return [...(await store.append(streamId, sealedEvents(signer, streamId, count, { tenantId: uniqueTenantId() }), 'no-stream')).positions];
  }

  /** Far past anything this log holds, as a PostgreSQL (transaction id, sequence) checkpoint is. */
  const pastTheEnd: GlobalPosition = { commit: 10n ** 12n, prepare: 7n };

  it('given a position inside an event, when reading $all, counting or subscribing from it, then STORE.POSITION_NOT_IN_STORE names the position (not UnknownError)', async () => {
    const [first] = await appendSome(2);
    const inside = { commit: first.commit, prepare: first.prepare + 1n };

    for (const attempt of [store.readAll(inside, 10), store.countAfter(inside, 10), store.subscribeBatches(inside)[Symbol.asyncIterator]().next()]) {
      const error = await failureOf(attempt);
      expect(error).toMatchObject({ code: 'STORE.POSITION_NOT_IN_STORE', status: 500, details: { position: formatPosition(inside) } });
      expect((error as Error).message).toContain('reset them to the start of this store');
    }
  });

  it('given a checkpoint past the end of $all, when reading from it, then STORE.POSITION_NOT_IN_STORE rather than an empty page', async () => {
    await appendSome(1);

    const error = await failureOf(store.readAll(pastTheEnd, 10));

    expect(error).toMatchObject({ code: 'STORE.POSITION_NOT_IN_STORE', details: { position: formatPosition(pastTheEnd) } });
  });

  it('given a checkpoint past the end of $all, when subscribing from it and events are appended, then the subscription fails rather than drops them', async () => {
    const subscription = store.subscribeBatches(pastTheEnd);
    const failed = failureOf(subscription[Symbol.asyncIterator]().next());
    await appendSome(3);

    const error = await failed;

    expect(error).toMatchObject({ code: 'STORE.POSITION_NOT_IN_STORE', details: { position: formatPosition(pastTheEnd) } });
    subscription.close();
  });

  it("given an event's own position, when reading and subscribing from it, then the events after it come (and with includeFrom, it too)", async () => {
    const positions = await appendSome(3);

    const after = await store.readAll(positions[0], 2);
    const including = await store.readAll(positions[0], 3, { includeFrom: true });
    const subscription = store.subscribeBatches(positions[0], { batchSize: 2 });
    const [batch] = (await subscription[Symbol.asyncIterator]().next()).value as Array<{ position: GlobalPosition }>;
    subscription.close();

    expect(after.map((event) => event.position)).toEqual(positions.slice(1));
    expect(including.map((event) => event.position)).toEqual(positions);
    expect(batch.position).toEqual(positions[1]);
  });

  it('identity: one id per EventStoreDB, kept in its log, the same for every process', async () => {
    const other = await esdbStore(server.connectionString);
    const elsewhere = await startEsdbTestServer();
    const foreign = await esdbStore(elsewhere.connectionString);
    try {
      const [mine, again, theirs] = await Promise.all([store.identity(), other.identity(), foreign.identity()]);

      expect(mine).toEqual({ kind: 'eventstoredb', id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
      expect(again).toEqual(mine);
      expect(theirs.id).not.toBe(mine.id);
    } finally {
      await other.close();
      await foreign.close();
      await elsewhere.close();
    }
  });
});
