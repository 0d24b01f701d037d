import { randomUUID } from 'node:crypto';
import {
  ANY,
  DeadlineExceededError,
  EventStoreDBClient,
  MaxAppendSizeExceededError,
  NO_STREAM,
  STREAM_EXISTS,
  StreamDeletedError,
  StreamNotFoundError,
  UnavailableError,
  UnknownError,
  binaryEvent,
  eventTypeFilter,
  jsonEvent,
} from '@eventstore/db-client';
import type { ResolvedEvent } from '@eventstore/db-client';
import { failureOf } from '../../conformance/helpers';
import { startEsdbTestServer, type EsdbTestServer } from '../../support/esdb';

/**
 * Behaviours of a real EventStoreDB (23.10, 24.10) the protocol test server models since
 * issue 26, driven through the official client; docs/eventstoredb.md gives the server source
 * of each. Both append calls: BatchAppend (21.10 and later) and the plain Append.
 */
const stream = (prefix: string) => `${prefix}-${randomUUID()}`;
const event = (data: Record<string, unknown> = {}) => jsonEvent({ type: 'ThingHappened', data });

async function readStream(client: EventStoreDBClient, name: string): Promise<ResolvedEvent[]> {
  const events: ResolvedEvent[] = [];
  for await (const resolved of client.readStream(name)) events.push(resolved);
  return events;
}

describe.each([
  { path: 'BatchAppend', supportsBatchAppend: true },
  { path: 'Append', supportsBatchAppend: false },
])('the test server follows the real server through $path', ({ supportsBatchAppend }) => {
  let server: EsdbTestServer;
  let client: EventStoreDBClient;

  beforeAll(async () => {
    server = await startEsdbTestServer({ supportsBatchAppend });
    client = EventStoreDBClient.connectionString(server.connectionString);
  });
  afterEach(() => {
    server.refuseAppends(undefined);
    server.skewClock(0);
  });
  afterAll(async () => {
    await client.dispose();
    await server.close();
  });

  describe('deletes (IndexWriter.CheckCommit)', () => {
    it('given a soft-deleted stream, then it reads as not found, STREAM_EXISTS fails with StreamDeletedError, and NO_STREAM writes after the hidden events', async () => {
      const name = stream('soft');
      await client.appendToStream(name, [event(), event()]);
      await client.deleteStream(name);

      expect(await failureOf(readStream(client, name))).toBeInstanceOf(StreamNotFoundError);
      expect(await failureOf(client.appendToStream(name, event(), { expectedRevision: STREAM_EXISTS }))).toBeInstanceOf(StreamDeletedError);
      const recreated = await client.appendToStream(name, event({ n: 'new' }), { expectedRevision: NO_STREAM });

      expect(recreated.nextExpectedRevision).toBe(2n);
      const read = await readStream(client, name);
      expect(read.map((resolved) => resolved.event?.revision)).toEqual([2n]);
      expect(read[0].event?.data).toEqual({ n: 'new' });
    });

    it('given a tombstoned stream, then reads and every append fail with StreamDeletedError', async () => {
      const name = stream('tomb');
      await client.appendToStream(name, event());
      await client.tombstoneStream(name);

      expect(await failureOf(readStream(client, name))).toBeInstanceOf(StreamDeletedError);
      for (const expectedRevision of [ANY, NO_STREAM, STREAM_EXISTS, 0n] as const) {
        expect(await failureOf(client.appendToStream(name, event(), { expectedRevision }))).toBeInstanceOf(StreamDeletedError);
      }
    });
  });

  describe('re-appends of the same event ids (the committed-events cache and the index)', () => {
    /** Restarts the node; a call while it is down lets the client notice, so it reconnects on the next. */
    const restart = async () => {
      await server.stop();
      await failureOf(readStream(client, stream('while-down')));
      await server.start();
    };

    it('given a restart between, when the same events are appended again with ANY, then they are written twice (the cache is gone)', async () => {
      const name = stream('any-restart');
      const events = [event(), event()];
      await client.appendToStream(name, events, { expectedRevision: ANY });

      await restart();
      await client.appendToStream(name, events, { expectedRevision: ANY });

      expect((await readStream(client, name)).map((resolved) => resolved.event?.id)).toEqual([...events, ...events].map((e) => e.id));
    });

    it('given no restart, when the same events are appended again with STREAM_EXISTS, then the first result comes back and nothing is written', async () => {
      const name = stream('exists-retry');
      await client.appendToStream(name, event());
      const events = [event(), event()];
      const original = await client.appendToStream(name, events, { expectedRevision: STREAM_EXISTS });

      const retried = await client.appendToStream(name, events, { expectedRevision: STREAM_EXISTS });

      expect(retried).toEqual(original);
      expect(await readStream(client, name)).toHaveLength(3);
    });

    it('given a restart between, when the same events are appended again at their exact revision, then the retry is still recognised (the index)', async () => {
      const name = stream('exact-restart');
      const events = [event(), event()];
      const original = await client.appendToStream(name, events, { expectedRevision: NO_STREAM });

      await restart();
      const retried = await client.appendToStream(name, events, { expectedRevision: NO_STREAM });

      expect(retried).toEqual(original);
      expect(await readStream(client, name)).toHaveLength(2);
    });
  });

  describe('refusals (ClientMessage.NotHandled)', () => {
    it('given a node that is not ready, then the append fails as the 6.2.1 client reports it and nothing is written', async () => {
      const name = stream('not-ready');
      server.refuseAppends('not-ready');

      const error = await failureOf(client.appendToStream(name, event()));

      if (supportsBatchAppend) {
        expect(error).toBeInstanceOf(UnknownError);
        expect((error as Error).message).toBe('Could not recognize Server Is Not Ready');
      } else {
        expect(error).toBeInstanceOf(UnavailableError);
        expect((error as Error).message).toMatch(/Server Is Not Ready$/);
      }
      server.refuseAppends(undefined);
      expect(await failureOf(readStream(client, name))).toBeInstanceOf(StreamNotFoundError);
    });
  });

  describe('the maximum append size (1,048,576 bytes, Event.SizeOnDisk)', () => {
    it('given two events of about 600 KB in one append, then MaxAppendSizeExceededError and nothing is written; each alone is accepted', async () => {
      const name = stream('large');
      const big = () => binaryEvent({ type: 'Big', data: new Uint8Array(600_000).fill(0x61) });

      const error = await failureOf(client.appendToStream(name, [big(), big()]));

      expect(error).toBeInstanceOf(MaxAppendSizeExceededError);
      expect(error).toMatchObject({ maxAppendSize: 1_048_576 });
      expect(await failureOf(readStream(client, name))).toBeInstanceOf(StreamNotFoundError);
      await client.appendToStream(name, big());
      await client.appendToStream(name, big());
      expect(await readStream(client, name)).toHaveLength(2);
    });
  });

  if (supportsBatchAppend) {
    describe('BatchAppend deadlines, judged by the server clock', () => {
      it('given a server clock 20 s ahead of the client (whose deadline is now + 10 s), then every append answers Timeout at once and nothing is written', async () => {
        const name = stream('skewed');
        server.skewClock(20_000);

        const error = await failureOf(client.appendToStream(name, event()));

        expect(error).toBeInstanceOf(DeadlineExceededError);
        server.skewClock(0);
        expect(await failureOf(readStream(client, name))).toBeInstanceOf(StreamNotFoundError);
      });
    });
  }
});

/**
 * Issue 26, item 1: positions that are not an event's start. 23.10 and 24.10 refuse a read of
 * $all from one (RpcExceptions.InvalidPositionException); a filtered subscription from at or past
 * the last event goes live and drops every live event at or before its start position.
 */
describe('the test server follows the real server on $all positions', () => {
  let server: EsdbTestServer;
  let client: EventStoreDBClient;

  beforeAll(async () => {
    server = await startEsdbTestServer();
    client = EventStoreDBClient.connectionString(server.connectionString);
  });
  afterAll(async () => {
    await client.dispose();
    await server.close();
  });

  async function readAllFrom(position: { commit: bigint; prepare: bigint }, maxCount: number): Promise<ResolvedEvent[]> {
    const read: ResolvedEvent[] = [];
    for await (const resolved of client.readAll({ fromPosition: position, maxCount })) read.push(resolved);
    return read;
  }

  it("given a position inside an event's record, when reading $all from it, then InvalidPosition (UnknownError to the client); from the event's own position the read starts with it", async () => {
    const written = await client.appendToStream(stream('positions'), [event({ n: 1 }), event({ n: 2 })]);
    const [first] = await readAllFrom(written.position!, 1);
    const at = first.event!.position!;

    const error = await failureOf(readAllFrom({ commit: at.commit, prepare: at.prepare + 1n }, 1));

    expect(error).toBeInstanceOf(UnknownError);
    expect((error as Error).message).toContain('Trying to read from an invalid position.');
    expect((await readAllFrom(at, 1))[0].event!.position).toEqual(at);
  });

  it('given a filtered subscription from past the end of $all, when events are appended, then those at or before its start are dropped and only later ones arrive', async () => {
    const before = await client.appendToStream(stream('before'), event());
    // A checkpoint some records past today's end, as a restored older backup would leave one.
    const from = { commit: before.position!.commit + 2_000n, prepare: before.position!.commit + 2_000n };
    const subscription = client.subscribeToAll({ fromPosition: from, filter: eventTypeFilter({ prefixes: ['Thing'] }) });
    const received: ResolvedEvent[] = [];
    const name = stream('after');
    let last = before.position!;
    while (last.commit <= from.commit) last = (await client.appendToStream(name, event())).position!;
    const lastId = (await readStream(client, name)).at(-1)!.event!.id;

    for await (const resolved of subscription) {
      received.push(resolved);
      if (resolved.event?.id === lastId) break;
    }
    await subscription.unsubscribe();

    const appended = await readStream(client, name);
    expect(appended.length).toBeGreaterThan(1);
    const dropped = appended.filter((resolved) => resolved.event!.position!.commit <= from.commit);
    expect(dropped.length).toBeGreaterThan(0);
    expect(received.map((resolved) => resolved.event!.id)).toEqual(appended.filter((resolved) => !dropped.includes(resolved)).map((resolved) => resolved.event!.id));
  });
});
