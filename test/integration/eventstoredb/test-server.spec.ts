import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { credentials, status } from '@grpc/grpc-js';
import {
  ANY,
  BACKWARDS,
  END,
  EventStoreDBClient,
  FORWARDS,
  NO_STREAM,
  START,
  STREAM_EXISTS,
  StreamNotFoundError,
  WrongExpectedVersionError,
  binaryEvent,
  excludeSystemEvents,
  jsonEvent,
} from '@eventstore/db-client';
import type { AllStreamResolvedEvent, AppendResult, Position, ReadAllOptions, ReadStreamOptions, ResolvedEvent } from '@eventstore/db-client';
import { ServerFeaturesClient } from '@eventstore/db-client/generated/serverfeatures_grpc_pb';
import type { SupportedMethods } from '@eventstore/db-client/generated/serverfeatures_pb';
import { Empty } from '@eventstore/db-client/generated/shared_pb';
import { StreamsService } from '@eventstore/db-client/generated/streams_grpc_pb';
import { startEsdbTestServer } from '../../support/esdb';
import type { EsdbTestServer, StoredEsdbEvent } from '../../support/esdb';

/**
 * The protocol test server (test/support/esdb) driven by the official client over a real gRPC
 * connection: what the client sends and what it makes of the answers is the contract.
 */

const stream = (prefix: string) => `${prefix}-${randomUUID()}`;
const event = (type = 'ThingHappened', data: Record<string, unknown> = {}) => jsonEvent({ type, data });

async function readStream(client: EventStoreDBClient, name: string, options: ReadStreamOptions = {}): Promise<ResolvedEvent[]> {
  const events: ResolvedEvent[] = [];
  for await (const resolved of client.readStream(name, options)) events.push(resolved);
  return events;
}

async function readAll(client: EventStoreDBClient, options: ReadAllOptions = {}): Promise<AllStreamResolvedEvent[]> {
  const events: AllStreamResolvedEvent[] = [];
  for await (const resolved of client.readAll(options)) events.push(resolved);
  return events;
}

/** The error `promise` rejects with; fails the test when it resolves. */
async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if ('value' in outcome) throw new Error(`expected a failure, got ${JSON.stringify(outcome.value, bigintReplacer)}`);
  return outcome.error;
}

function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? `${value}n` : value;
}

function storedIn(server: EsdbTestServer, streamName: string): StoredEsdbEvent[] {
  return server.allEvents().filter((stored) => stored.streamName === streamName);
}

function positionOf(stored: StoredEsdbEvent): Position {
  return { commit: stored.commit, prepare: stored.prepare };
}

function ids(events: readonly (ResolvedEvent | AllStreamResolvedEvent)[]): string[] {
  return events.map((resolved) => resolved.event?.id ?? '');
}

describe.each([
  { path: 'BatchAppend', supportsBatchAppend: true },
  { path: 'Append', supportsBatchAppend: false },
])('appends through $path', ({ supportsBatchAppend }) => {
  let server: EsdbTestServer;
  let client: EventStoreDBClient;

  beforeAll(async () => {
    server = await startEsdbTestServer({ supportsBatchAppend });
    client = EventStoreDBClient.connectionString(server.connectionString);
  });

  afterAll(async () => {
    await client.dispose();
    await server.close();
  });

  test(`given the server's features, when the client chooses how to append, then it ${supportsBatchAppend ? 'uses' : 'does not use'} BatchAppend`, async () => {
    // `supports` is the client's own (protected) decision point in appendToStream.
    const supports = (client as unknown as { supports(method: unknown): Promise<boolean> }).supports;
    await expect(supports(StreamsService.batchAppend)).resolves.toBe(supportsBatchAppend);
  });

  test('given no stream, when two events are appended with NO_STREAM, then they share a commit position, get growing prepare positions, and the result names the last', async () => {
    const name = stream('created');
    const result = await client.appendToStream(name, [event(), event()], { expectedRevision: NO_STREAM });

    const stored = storedIn(server, name);
    expect(stored.map((s) => s.revision)).toEqual([0n, 1n]);
    expect(stored[0].commit).toBeGreaterThan(0n);
    expect(stored[1].commit).toBe(stored[0].commit);
    expect(stored[1].prepare).toBeGreaterThan(stored[0].prepare);
    expect(result).toEqual({ success: true, nextExpectedRevision: 1n, position: positionOf(stored[1]) });
  });

  test('given a stream at revision 1, when appending with NO_STREAM, then WrongExpectedVersionError reports actual revision 1', async () => {
    const name = stream('exists');
    await client.appendToStream(name, [event(), event()]);

    const error = await failureOf(client.appendToStream(name, event(), { expectedRevision: NO_STREAM }));

    expect(error).toBeInstanceOf(WrongExpectedVersionError);
    expect(error).toMatchObject({ streamName: name, expectedVersion: NO_STREAM, actualVersion: 1n });
    expect(storedIn(server, name)).toHaveLength(2);
  });

  test('given a stream at revision 1, when appending at revision 1 and then again at the stale revision 0, then the first succeeds and the second reports actual revision 2', async () => {
    const name = stream('revision');
    await client.appendToStream(name, [event(), event()]);

    const result = await client.appendToStream(name, event(), { expectedRevision: 1n });
    const error = await failureOf(client.appendToStream(name, event(), { expectedRevision: 0n }));

    expect(result.nextExpectedRevision).toBe(2n);
    expect(error).toBeInstanceOf(WrongExpectedVersionError);
    expect(error).toMatchObject({ expectedVersion: 0n, actualVersion: 2n });
  });

  test('given no stream, when appending with STREAM_EXISTS, then it fails with actual no_stream; given the stream, then it appends', async () => {
    const name = stream('must-exist');

    const error = await failureOf(client.appendToStream(name, event(), { expectedRevision: STREAM_EXISTS }));
    await client.appendToStream(name, event(), { expectedRevision: NO_STREAM });
    const result = await client.appendToStream(name, event(), { expectedRevision: STREAM_EXISTS });

    expect(error).toMatchObject({ expectedVersion: STREAM_EXISTS, actualVersion: NO_STREAM });
    expect(result.nextExpectedRevision).toBe(1n);
  });

  test('given a stream, when appending with ANY, then the events go after the last one', async () => {
    const name = stream('any');
    await client.appendToStream(name, event(), { expectedRevision: ANY });

    const result = await client.appendToStream(name, [event(), event()], { expectedRevision: ANY });

    expect(result.nextExpectedRevision).toBe(2n);
    expect(storedIn(server, name)).toHaveLength(3);
  });

  test.each([
    { expectation: 'NO_STREAM', expectedRevision: NO_STREAM },
    { expectation: 'ANY', expectedRevision: ANY },
  ] as const)('given an append that succeeded and a later one, when the first events are appended again with $expectation, then the first result comes back and nothing is written', async ({ expectedRevision }) => {
    const name = stream('retry');
    const events = [event(), event()];
    const original = await client.appendToStream(name, events, { expectedRevision });
    await client.appendToStream(name, event());

    const retried = await client.appendToStream(name, events, { expectedRevision });

    expect(retried).toEqual(original);
    expect(storedIn(server, name)).toHaveLength(3);
  });

  test('given a stream at revision 2, when the events after revision 0 are appended again at revision 0, then the retry succeeds with revision 2', async () => {
    const name = stream('retry-exact');
    await client.appendToStream(name, event());
    const events = [event(), event()];
    const original = await client.appendToStream(name, events, { expectedRevision: 0n });

    const retried = await client.appendToStream(name, events, { expectedRevision: 0n });
    const conflicting = await failureOf(client.appendToStream(name, [event()], { expectedRevision: 0n }));

    expect(retried).toEqual(original);
    expect(conflicting).toMatchObject({ expectedVersion: 0n, actualVersion: 2n });
    expect(storedIn(server, name)).toHaveLength(3);
  });

  test('given binary data and binary metadata, when appended and read back, then every byte is as sent', async () => {
    const name = stream('bytes');
    const data = Uint8Array.from([0xff, 0x00, 0x80, 0x7b, 0x22, 0xfe, 0x01]);
    const metadata = Uint8Array.from([0x00, 0xc3, 0x28, 0xff]);
    const json = jsonEvent({ type: 'Jsonish', data: { text: 'zürich ✓', n: 1 }, metadata: { causation: 'x' } });

    await client.appendToStream(name, [binaryEvent({ type: 'Blob', data, metadata }), json]);
    const [binary, readJson] = await readStream(client, name);

    expect(binary.event?.data).toEqual(data);
    expect(binary.event?.metadata).toEqual(metadata);
    expect(binary.event?.isJson).toBe(false);
    expect(readJson.event).toMatchObject({ type: 'Jsonish', data: { text: 'zürich ✓', n: 1 }, metadata: { causation: 'x' }, isJson: true });
    const [storedBinary, storedJson] = storedIn(server, name);
    expect(Buffer.from(storedBinary.data)).toEqual(Buffer.from(data));
    expect(Buffer.from(storedBinary.metadata)).toEqual(Buffer.from(metadata));
    expect(storedBinary.contentType).toBe('application/octet-stream');
    expect(Buffer.from(storedJson.data).toString('utf8')).toBe(JSON.stringify({ text: 'zürich ✓', n: 1 }));
    expect(binary.event?.created.getTime()).toBeGreaterThan(Date.now() - 60_000);
  });

  test('given no stream, when zero events are appended with NO_STREAM, then it succeeds and the stream still does not exist', async () => {
    const name = stream('empty');

    await client.appendToStream(name, [], { expectedRevision: NO_STREAM });
    const error = await failureOf(readStream(client, name));

    expect(error).toBeInstanceOf(StreamNotFoundError);
  });
});

describe('reads', () => {
  let server: EsdbTestServer;
  let client: EventStoreDBClient;
  const name = stream('read');

  beforeAll(async () => {
    server = await startEsdbTestServer();
    client = EventStoreDBClient.connectionString(server.connectionString);
    await client.appendToStream(name, [0, 1, 2].map((n) => event('Counted', { n })));
    await client.appendToStream(stream('other'), event('Elsewhere'));
    await client.appendToStream(name, [3, 4].map((n) => event('Counted', { n })));
  });

  afterAll(async () => {
    await client.dispose();
    await server.close();
  });

  const revisions = (events: ResolvedEvent[]) => events.map((resolved) => resolved.event?.revision);

  test('given a stream of five events, when it is read forwards from START, then all five come in revision order', async () => {
    const events = await readStream(client, name, { direction: FORWARDS, fromRevision: START });

    expect(revisions(events)).toEqual([0n, 1n, 2n, 3n, 4n]);
    expect(events.map((resolved) => resolved.event?.data)).toEqual([0, 1, 2, 3, 4].map((n) => ({ n })));
  });

  test('given a stream of five events, when it is read backwards from END, then they come newest first', async () => {
    expect(revisions(await readStream(client, name, { direction: BACKWARDS, fromRevision: END }))).toEqual([4n, 3n, 2n, 1n, 0n]);
  });

  test('given a stream of five events, when it is read from revision 2 with maxCount 2, then forwards gives 2 and 3 and backwards gives 2 and 1', async () => {
    expect(revisions(await readStream(client, name, { fromRevision: 2n, maxCount: 2 }))).toEqual([2n, 3n]);
    expect(revisions(await readStream(client, name, { fromRevision: 2n, maxCount: 2, direction: BACKWARDS }))).toEqual([2n, 1n]);
  });

  test('given no such stream, when it is read, then the client raises StreamNotFoundError', async () => {
    const error = await failureOf(readStream(client, stream('missing')));

    expect(error).toBeInstanceOf(StreamNotFoundError);
  });

  test('given events in $all, when reading forwards from the position of one, then that event comes first (inclusive)', async () => {
    const log = server.allEvents();
    const target = log[2];

    const events = await readAll(client, { fromPosition: positionOf(target), maxCount: 2 });

    expect(ids(events)).toEqual([log[2].id, log[3].id]);
    expect(events[0].event?.position).toEqual(positionOf(target));
  });

  test('given events in $all, when reading backwards from the position of one, then the events before it come, newest first (exclusive)', async () => {
    const log = server.allEvents();

    const events = await readAll(client, { fromPosition: positionOf(log[3]), direction: BACKWARDS, maxCount: 2 });

    expect(ids(events)).toEqual([log[2].id, log[1].id]);
  });

  test('given events in $all, when reading all forwards and backwards, then both orders hold every event and positions strictly increase', async () => {
    const log = server.allEvents();

    const forwards = await readAll(client);
    const backwards = await readAll(client, { direction: BACKWARDS, fromPosition: END });

    expect(ids(forwards)).toEqual(log.map((stored) => stored.id));
    expect(ids(backwards)).toEqual(log.map((stored) => stored.id).reverse());
    for (let i = 1; i < log.length; i++) {
      const [before, after] = [log[i - 1], log[i]];
      expect(after.commit > before.commit || (after.commit === before.commit && after.prepare > before.prepare)).toBe(true);
    }
  });
});

describe('subscriptions', () => {
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

  /** Enough history that catch-up cannot finish while nobody reads (it outgrows the HTTP/2 windows and stream buffers). */
  async function appendHistory(batches: number): Promise<void> {
    const padding = 'x'.repeat(2_000);
    for (let batch = 0; batch < batches; batch++) {
      const events = Array.from({ length: 25 }, (_, i) =>
        i % 10 === 0 ? event('$system-like', { batch, i }) : event('HistoryRecorded', { batch, i, padding }),
      );
      await client.appendToStream(stream('history'), events);
    }
  }

  /** Collects events until the one with `lastId`; fails with what it got if that takes longer than `timeoutMs`. */
  function collectUntil<E extends ResolvedEvent | AllStreamResolvedEvent>(
    subscription: Readable,
    lastId: string,
    timeoutMs = 10_000,
  ): Promise<E[]> {
    return new Promise((resolve, reject) => {
      const received: E[] = [];
      const timer = setTimeout(() => reject(new Error(`event ${lastId} not received; got ${received.length} events`)), timeoutMs);
      subscription.on('data', (resolved: E) => {
        received.push(resolved);
        if (resolved.event?.id !== lastId) return;
        clearTimeout(timer);
        resolve([...received]);
      });
      subscription.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  const userEvents = (log: readonly StoredEsdbEvent[]) => log.filter((stored) => !stored.type.startsWith('$'));

  test('given history, when subscribing from START excluding system events while appends run, then catch-up and live events arrive exactly once, in log order', async () => {
    await appendHistory(12);
    const live = Array.from({ length: 20 }, (_, i) => event(i % 5 === 0 ? '$live-system-like' : 'LiveRecorded', { i }));
    const lastUserEvent = live.filter((e) => !e.type.startsWith('$')).at(-1)!;
    const checkpoints: Position[] = [];
    let caughtUpCount = 0;

    const subscription = client.subscribeToAll({
      fromPosition: START,
      filter: excludeSystemEvents({ checkpointReached: (_subscription, position) => void checkpoints.push(position) }),
    });
    const caughtUp = new Promise<void>((resolve) => subscription.on('caughtUp', () => resolve(void (caughtUpCount += 1))));
    // Nobody reads yet, so flow control holds the server mid catch-up while these land.
    for (const e of live.slice(0, 10)) await client.appendToStream(stream('live'), e);
    const caughtUpBeforeReading = caughtUpCount > 0;
    const lastBeforeCatchUp = server.allEvents().at(-1)!;
    const collecting = collectUntil<AllStreamResolvedEvent>(subscription, lastUserEvent.id);
    await caughtUp;
    for (const e of live.slice(10)) await client.appendToStream(stream('live'), e);
    const events = await collecting;
    await subscription.unsubscribe();

    expect(caughtUpBeforeReading).toBe(false);
    expect(caughtUpCount).toBe(1);
    expect(ids(events)).toEqual(userEvents(server.allEvents()).map((stored) => stored.id));
    expect(events.some((resolved) => resolved.event?.type.startsWith('$'))).toBe(false);
    // The real server reports a checkpoint once caught up: where a resumed subscription would restart.
    expect(checkpoints).toContainEqual(positionOf(lastBeforeCatchUp));
  });

  test('given history, when subscribing from the position of an event, then only the events strictly after it arrive, then live ones', async () => {
    await appendHistory(2);
    const log = server.allEvents();
    const from = log[log.length - 5];
    const liveEvent = event('LiveAfterPosition');

    const subscription = client.subscribeToAll({ fromPosition: positionOf(from) });
    const collecting = collectUntil<AllStreamResolvedEvent>(subscription, liveEvent.id);
    await client.appendToStream(stream('live'), liveEvent);
    const events = await collecting;
    await subscription.unsubscribe();

    expect(ids(events)).toEqual([...log.slice(-4).map((stored) => stored.id), liveEvent.id]);
  });

  test('given a stream at revision 2, when subscribing to it from revision 0, then revisions 1 and 2 arrive, then caught up, then live ones', async () => {
    const name = stream('watched');
    await client.appendToStream(name, [event(), event(), event()]);
    const live = event('LiveOnStream');
    let caughtUpAfter: number | undefined;
    let received = 0;

    const subscription = client.subscribeToStream(name, { fromRevision: 0n });
    subscription.on('data', () => (received += 1));
    const caughtUp = new Promise<void>((resolve) => subscription.on('caughtUp', () => resolve(void (caughtUpAfter ??= received))));
    const collecting = collectUntil<ResolvedEvent>(subscription, live.id);
    await caughtUp;
    await client.appendToStream(stream('elsewhere'), event('NotOnThisStream'));
    await client.appendToStream(name, live);
    const events = await collecting;
    await subscription.unsubscribe();

    expect(events.map((resolved) => resolved.event?.revision)).toEqual([1n, 2n, 3n]);
    expect(events.at(-1)?.event?.id).toBe(live.id);
    expect(caughtUpAfter).toBe(2);
  });
});

describe('a node that stops and starts again', () => {
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

  test('given a stream, when the server stops, then appends fail with UNAVAILABLE; when it starts again, then the same port serves the same data', async () => {
    const name = stream('restart');
    await client.appendToStream(name, event('BeforeStop'));
    const port = server.port;

    await server.stop();
    const error = await failureOf(client.appendToStream(name, event('WhileStopped')));
    await server.start();
    const result: AppendResult = await client.appendToStream(name, event('AfterStart'), { expectedRevision: 0n });

    expect(error).toMatchObject({ code: status.UNAVAILABLE });
    expect(server.port).toBe(port);
    expect(result.nextExpectedRevision).toBe(1n);
    expect((await readStream(client, name)).map((resolved) => resolved.event?.type)).toEqual(['BeforeStop', 'AfterStart']);
  });

  test('given a live subscription, when the server stops, then the subscription fails with UNAVAILABLE', async () => {
    const subscription = client.subscribeToAll({ fromPosition: END });
    const failed = new Promise<unknown>((resolve) => subscription.on('error', resolve));
    subscription.on('data', () => undefined);
    await new Promise((resolve) => subscription.once('caughtUp', resolve));

    await server.stop();
    const error = await failed;
    await server.start();

    expect(error).toMatchObject({ code: status.UNAVAILABLE });
  });
});

describe('what the server says about itself', () => {
  let server: EsdbTestServer;
  let legacy: EsdbTestServer;

  beforeAll(async () => {
    server = await startEsdbTestServer();
    legacy = await startEsdbTestServer({ supportsBatchAppend: false, serverVersion: '21.6.0' });
  });

  afterAll(async () => {
    await server.close();
    await legacy.close();
  });

  async function supportedMethods(target: EsdbTestServer): Promise<{ version: string; methods: string[] }> {
    const features = new ServerFeaturesClient(`127.0.0.1:${target.port}`, credentials.createInsecure());
    try {
      const answer = await new Promise<SupportedMethods>((resolve, reject) =>
        features.getSupportedMethods(new Empty(), (error, response) => (error ? reject(error) : resolve(response))),
      );
      const methods = answer.getMethodsList().map((method) => `${method.getServiceName()}/${method.getMethodName()}`);
      return { version: answer.getEventStoreServerVersion(), methods };
    } finally {
      features.close();
    }
  }

  test('given default options, when asked for its features, then it reports 24.10.0 and Read, Append and BatchAppend', async () => {
    const { version, methods } = await supportedMethods(server);

    expect(version).toBe('24.10.0');
    expect(methods).toEqual(
      expect.arrayContaining([
        'event_store.client.streams.streams/read',
        'event_store.client.streams.streams/append',
        'event_store.client.streams.streams/batchappend',
      ]),
    );
  });

  test('given a server without batch appends, when asked for its features, then BatchAppend is not listed', async () => {
    const { version, methods } = await supportedMethods(legacy);

    expect(version).toBe('21.6.0');
    expect(methods).toContain('event_store.client.streams.streams/append');
    expect(methods).not.toContain('event_store.client.streams.streams/batchappend');
  });
});
