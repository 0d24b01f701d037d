import { randomUUID } from 'node:crypto';
import { canonicalJson, validateEnvelopeShape, type EventEnvelope, type JsonObject } from '../../contracts';
import { ProoflineError } from '../../src/errors/proofline-error';
import { DuplicateEventError, IdempotencyKeyUsedError, WrongExpectedVersionError } from '../../src/eventstore/errors';
import type { BatchSubscription, EventStore, EventSubscription, ExpectedVersion, RecordedEvent, SubscribeOptions } from '../../src/eventstore/event-store.port';
import { comparePositions, START, type GlobalPosition } from '../../src/eventstore/global-position';
import type { EventSigner } from '../../src/signing/event-signer';
import { idempotencyClaim, sealedEvents, testSigner, uniqueStreamId, uniqueTenantId } from './envelopes';
import {
  consume,
  expectAuthentic,
  expectNoDuplicates,
  expectStreamOrder,
  expectStrictlyIncreasing,
  failureOf,
  hasAll,
  readAllUntil,
  sleep,
} from './helpers';

/** Every test of the live subscription runs against both forms: event by event, and batch by batch flattened. */
const SUBSCRIPTION_KINDS: Array<[string, (store: EventStore, from: GlobalPosition, options?: SubscribeOptions) => EventSubscription]> = [
  ['subscribe', (store, from, options) => store.subscribe(from, options)],
  ['subscribeBatches', (store, from, options) => flattened(store.subscribeBatches(from, options))],
];

function flattened(batches: BatchSubscription): EventSubscription {
  async function* events(): AsyncGenerator<RecordedEvent> {
    for await (const batch of batches) yield* batch;
  }
  const iterator = events();
  return { [Symbol.asyncIterator]: () => iterator, close: () => batches.close() };
}

export interface OpenedEventStore {
  readonly store: EventStore;
  close(): Promise<void>;
}

/**
 * The behaviour every EventStore adapter must have, tested only through the port.
 *
 * The suite opens one store and shares it between its tests, and never assumes the store is
 * empty: every test writes to streams of its own and judges global reads by those streams, so
 * an adapter backed by a long-lived server (EventStoreDB's $all) runs it unchanged.
 *
 * Global reads may lag (PostgreSQL holds back events behind any transaction still in flight,
 * anywhere on the server), so tests that wait for events poll rather than read once.
 */
export function eventStoreConformance(name: string, open: () => Promise<OpenedEventStore>): void {
  describe(`EventStore conformance: ${name}`, () => {
    let opened: OpenedEventStore | undefined;
    let store: EventStore;
    let signer: EventSigner;
    const appendedByThisSuite = new Map<string, EventEnvelope>();

    beforeAll(async () => {
      signer = testSigner();
      opened = await open();
      store = opened.store;
    });

    afterAll(async () => {
      await opened?.close();
    });

    /** Seals envelopes and remembers them, so the last test can check every one we wrote. */
    const events = (streamId: string, count: number, spec: { tenantId?: string; data?: JsonObject; type?: string } = {}) => {
      const sealed = sealedEvents(signer, streamId, count, spec);
      for (const event of sealed) appendedByThisSuite.set(event.id, event);
      return sealed;
    };
    const event = (streamId: string, spec: { tenantId?: string; data?: JsonObject; type?: string } = {}) => events(streamId, 1, spec)[0];

    const ids = (list: readonly { id: string }[]) => list.map((item) => item.id);
    const recordedIds = (list: readonly RecordedEvent[]) => list.map((recorded) => recorded.envelope.id);
    const streamIdsOf = async (streamId: string) => recordedIds(await store.readStream(streamId));

    /** A position after everything already in the store: the position of a fresh sentinel event. */
    const headPosition = async (): Promise<GlobalPosition> => {
      const streamId = uniqueStreamId('sentinel');
      const result = await store.append(streamId, [event(streamId)], 'no-stream');
      return result.positions[0];
    };

    describe('append', () => {
      it('given a new stream, when appending with no-stream, then versions run 0..n-1 and positions increase', async () => {
        const streamId = uniqueStreamId('order');
        const batch = events(streamId, 3);

        const result = await store.append(streamId, batch, 'no-stream');

        expect(result.nextExpectedVersion).toBe(2);
        expect(result.streamVersions).toEqual([0, 1, 2]);
        expect(result.positions).toHaveLength(3);
        expectStrictlyIncreasing(result.positions);
        const stored = await store.readStream(streamId);
        expect(recordedIds(stored)).toEqual(ids(batch));
        expect(stored.map((recorded) => recorded.streamVersion)).toEqual([0, 1, 2]);
        expect(stored.map((recorded) => recorded.position)).toEqual(result.positions);
        expect(await store.streamVersion(streamId)).toBe(2);
      });

      it('given a batch of more than ten events, then versions and positions come back in order and nextExpectedVersion is the last', async () => {
        const streamId = uniqueStreamId('long');
        await store.append(streamId, events(streamId, 3), 'no-stream');

        const result = await store.append(streamId, events(streamId, 12), 2);

        expect(result.streamVersions).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
        expect(result.nextExpectedVersion).toBe(14);
        expectStrictlyIncreasing(result.positions);
        expect(await store.streamVersion(streamId)).toBe(14);
      });

      it('given two appends one after the other, then the later one has the higher positions', async () => {
        const streamA = uniqueStreamId('a');
        const streamB = uniqueStreamId('b');

        const earlier = await store.append(streamA, events(streamA, 2), 'no-stream');
        const later = await store.append(streamB, events(streamB, 2), 'no-stream');

        expectStrictlyIncreasing([...earlier.positions, ...later.positions]);
      });

      it('given a stream at version n, when appending with expected version n, then the events follow on', async () => {
        const streamId = uniqueStreamId('order');
        await store.append(streamId, events(streamId, 2), 'no-stream');

        const result = await store.append(streamId, events(streamId, 2), 1);

        expect(result.streamVersions).toEqual([2, 3]);
        expect(result.nextExpectedVersion).toBe(3);
        expect((await store.readStream(streamId)).map((recorded) => recorded.streamVersion)).toEqual([0, 1, 2, 3]);
      });

      it("given 'any', then it creates a new stream and extends an existing one", async () => {
        const streamId = uniqueStreamId('order');

        const created = await store.append(streamId, events(streamId, 2), 'any');
        const extended = await store.append(streamId, events(streamId, 1), 'any');

        expect(created.streamVersions).toEqual([0, 1]);
        expect(extended.streamVersions).toEqual([2]);
        expect(await store.streamVersion(streamId)).toBe(2);
      });

      it("given an existing stream, when appending with 'stream-exists', then it appends", async () => {
        const streamId = uniqueStreamId('order');
        await store.append(streamId, events(streamId, 1), 'no-stream');

        const result = await store.append(streamId, events(streamId, 2), 'stream-exists');

        expect(result.streamVersions).toEqual([1, 2]);
      });

      it('given an existing stream, when appending nothing, then it returns the current version and writes nothing', async () => {
        const streamId = uniqueStreamId('order');
        await store.append(streamId, events(streamId, 3), 'no-stream');

        for (const expected of ['any', 'stream-exists', 2] as ExpectedVersion[]) {
          const result = await store.append(streamId, [], expected);
          expect(result).toEqual({ nextExpectedVersion: 2, positions: [], streamVersions: [] });
        }
        expect(await store.readStream(streamId)).toHaveLength(3);
      });

      it('given an existing stream, when appending nothing with a wrong expectation, then it still fails with 409', async () => {
        const streamId = uniqueStreamId('order');
        await store.append(streamId, events(streamId, 3), 'no-stream');

        for (const expected of ['no-stream', 0, 5] as ExpectedVersion[]) {
          const error = await failureOf(store.append(streamId, [], expected));
          expect(error).toBeInstanceOf(WrongExpectedVersionError);
          expect(error).toMatchObject({ status: 409, details: { expectedVersion: expected, actualVersion: 2 } });
        }
      });

      it('given a missing stream, when appending nothing, then no stream is created', async () => {
        const streamId = uniqueStreamId('order');

        const result = await store.append(streamId, [], 'no-stream');

        expect(result).toEqual({ nextExpectedVersion: -1, positions: [], streamVersions: [] });
        expect(await store.streamVersion(streamId)).toBeUndefined();
        expect(await store.readStream(streamId)).toEqual([]);
        await expect(store.append(streamId, [], 'stream-exists')).rejects.toBeInstanceOf(WrongExpectedVersionError);
      });

      it('streamVersion of a missing stream is undefined', async () => {
        expect(await store.streamVersion(uniqueStreamId('missing'))).toBeUndefined();
      });

      it('ping resolves while the store is up', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });
    });

    describe('optimistic concurrency', () => {
      it("given an existing stream, when appending with 'no-stream', then WrongExpectedVersionError (409) says expected and actual, and nothing is written", async () => {
        const streamId = uniqueStreamId('order');
        const original = events(streamId, 2);
        await store.append(streamId, original, 'no-stream');

        const error = await failureOf(store.append(streamId, events(streamId, 1), 'no-stream'));

        expect(error).toBeInstanceOf(WrongExpectedVersionError);
        expect(error).toMatchObject({
          status: 409,
          code: 'STREAM.WRONG_EXPECTED_VERSION',
          details: { streamId, expectedVersion: 'no-stream', actualVersion: 1 },
        });
        expect(await streamIdsOf(streamId)).toEqual(ids(original));
      });

      it.each([
        ['too low', 0],
        ['too high', 5],
      ])('given a stream at version 1, when the expected version is %s (%d), then 409 and nothing is written', async (_label, expected) => {
        const streamId = uniqueStreamId('order');
        const original = events(streamId, 2);
        await store.append(streamId, original, 'no-stream');

        const error = await failureOf(store.append(streamId, events(streamId, 2), expected));

        expect(error).toBeInstanceOf(WrongExpectedVersionError);
        expect(error).toMatchObject({
          status: 409,
          code: 'STREAM.WRONG_EXPECTED_VERSION',
          details: { streamId, expectedVersion: expected, actualVersion: 1 },
        });
        expect(await streamIdsOf(streamId)).toEqual(ids(original));
        expect(await store.streamVersion(streamId)).toBe(1);
      });

      it.each([['stream-exists' as ExpectedVersion], [0 as ExpectedVersion]])(
        'given a missing stream, when the expectation is %p, then 409 with no actual version, and no stream is created',
        async (expected) => {
          const streamId = uniqueStreamId('order');

          const error = await failureOf(store.append(streamId, events(streamId, 1), expected));

          expect(error).toBeInstanceOf(WrongExpectedVersionError);
          expect(error).toMatchObject({ status: 409, details: { streamId, expectedVersion: expected, actualVersion: null } });
          expect(await store.streamVersion(streamId)).toBeUndefined();
          expect(await store.readStream(streamId)).toEqual([]);
        },
      );
    });

    describe('duplicate event ids', () => {
      it('given a stored event, when another stream appends a batch containing its id, then DuplicateEventError and nothing of the batch is written', async () => {
        const first = uniqueStreamId('first');
        const stored = event(first);
        await store.append(first, [stored], 'no-stream');
        const second = uniqueStreamId('second');
        const copy: EventEnvelope = { ...stored, streamId: second };
        const batch = [event(second), copy];

        const error = await failureOf(store.append(second, batch, 'no-stream'));

        expect(error).toBeInstanceOf(DuplicateEventError);
        expect(error).toMatchObject({ status: 409, code: 'STREAM.DUPLICATE_EVENT' });
        expect((error as DuplicateEventError).details.eventIds).toContain(stored.id);
        expect(await store.streamVersion(second)).toBeUndefined();
        expect(await store.readStream(second)).toEqual([]);
        expect(await streamIdsOf(first)).toEqual([stored.id]);
      });

      it('given a stored event, when the same event is appended to its stream again, then DuplicateEventError and the stream is unchanged', async () => {
        const streamId = uniqueStreamId('order');
        const stored = events(streamId, 2);
        await store.append(streamId, stored, 'no-stream');

        await expect(store.append(streamId, [stored[1]], 'any')).rejects.toBeInstanceOf(DuplicateEventError);

        expect(await streamIdsOf(streamId)).toEqual(ids(stored));
        expect(await store.streamVersion(streamId)).toBe(1);
      });

      it('given a batch that repeats an id, then DuplicateEventError and nothing is written', async () => {
        const streamId = uniqueStreamId('order');
        const once = event(streamId);

        await expect(store.append(streamId, [once, once], 'no-stream')).rejects.toBeInstanceOf(DuplicateEventError);

        expect(await store.streamVersion(streamId)).toBeUndefined();
      });
    });

    describe('readStream', () => {
      let streamId: string;
      let stored: EventEnvelope[];

      beforeAll(async () => {
        streamId = uniqueStreamId('read');
        stored = events(streamId, 6);
        await store.append(streamId, stored.slice(0, 2), 'no-stream');
        await store.append(streamId, stored.slice(2), 1);
      });

      it('reads forwards by default, every event with its version', async () => {
        const read = await store.readStream(streamId);
        expect(recordedIds(read)).toEqual(ids(stored));
        expect(read.map((recorded) => recorded.streamVersion)).toEqual([0, 1, 2, 3, 4, 5]);
      });

      it('reads backwards from the last event', async () => {
        const read = await store.readStream(streamId, { direction: 'backwards' });
        expect(recordedIds(read)).toEqual(ids(stored).reverse());
        expect(read.map((recorded) => recorded.streamVersion)).toEqual([5, 4, 3, 2, 1, 0]);
      });

      it('reads forwards from a version, inclusive, at most maxCount', async () => {
        expect((await store.readStream(streamId, { fromVersion: 2 })).map((recorded) => recorded.streamVersion)).toEqual([2, 3, 4, 5]);
        expect((await store.readStream(streamId, { fromVersion: 2, maxCount: 2 })).map((recorded) => recorded.streamVersion)).toEqual([2, 3]);
        expect((await store.readStream(streamId, { maxCount: 1 })).map((recorded) => recorded.streamVersion)).toEqual([0]);
      });

      it('reads backwards from a version, inclusive, at most maxCount', async () => {
        const read = await store.readStream(streamId, { direction: 'backwards', fromVersion: 3, maxCount: 2 });
        expect(read.map((recorded) => recorded.streamVersion)).toEqual([3, 2]);
        expect(recordedIds(read)).toEqual([stored[3].id, stored[2].id]);
      });

      it('reads nothing past the end', async () => {
        expect(await store.readStream(streamId, { fromVersion: 6 })).toEqual([]);
      });

      it('orders a stream of more than ten events by version, in both directions', async () => {
        const longStream = uniqueStreamId('long');
        const long = events(longStream, 25);
        await store.append(longStream, long.slice(0, 12), 'no-stream');
        await store.append(longStream, long.slice(12), 11);
        const versions = (read: RecordedEvent[]) => read.map((recorded) => recorded.streamVersion);
        const upTo = (n: number) => Array.from({ length: n }, (_, version) => version);

        expect(recordedIds(await store.readStream(longStream))).toEqual(ids(long));
        expect(versions(await store.readStream(longStream))).toEqual(upTo(25));
        expect(versions(await store.readStream(longStream, { direction: 'backwards' }))).toEqual(upTo(25).reverse());
        expect(versions(await store.readStream(longStream, { direction: 'backwards', maxCount: 1 }))).toEqual([24]);
        expect(versions(await store.readStream(longStream, { direction: 'backwards', fromVersion: 12, maxCount: 4 }))).toEqual([12, 11, 10, 9]);
        expect(versions(await store.readStream(longStream, { fromVersion: 8, maxCount: 4 }))).toEqual([8, 9, 10, 11]);
      });

      it('reads a missing stream as empty', async () => {
        expect(await store.readStream(uniqueStreamId('missing'))).toEqual([]);
        expect(await store.readStream(uniqueStreamId('missing'), { direction: 'backwards' })).toEqual([]);
      });

      it('gives each event the same position readAll and the append gave it', async () => {
        const fromStream = await store.readStream(streamId);
        const fromAll = (await readAllUntil(store, START, 100, (read) => hasAll(read, ids(stored)))).filter((recorded) => recorded.envelope.streamId === streamId);
        expect(fromAll.map((recorded) => recorded.position)).toEqual(fromStream.map((recorded) => recorded.position));
      });
    });

    describe('readAll', () => {
      // Five appends across three streams, one after the other: [s1 a b] [s2 c] [s1 d] [s3 e f g] [s2 h]
      let appendOrder: EventEnvelope[];
      let streams: string[];
      let appendedPositions: Map<string, GlobalPosition>;

      beforeAll(async () => {
        const [s1, s2, s3] = (streams = [uniqueStreamId('all-1'), uniqueStreamId('all-2'), uniqueStreamId('all-3')]);
        const plan: Array<[string, number, ExpectedVersion]> = [
          [s1, 2, 'no-stream'],
          [s2, 1, 'no-stream'],
          [s1, 1, 1],
          [s3, 3, 'no-stream'],
          [s2, 1, 0],
        ];
        appendOrder = [];
        appendedPositions = new Map();
        for (const [streamId, count, expected] of plan) {
          const batch = events(streamId, count);
          const result = await store.append(streamId, batch, expected);
          batch.forEach((appended, index) => appendedPositions.set(appended.id, result.positions[index]));
          appendOrder.push(...batch);
        }
      });

      const ours = (read: readonly RecordedEvent[]) => read.filter((recorded) => streams.includes(recorded.envelope.streamId));

      it.each([1, 2, 3, 1000])('from START in batches of %d returns every event once, in append order, positions strictly increasing', async (batchSize) => {
        const read = await readAllUntil(store, START, batchSize, (sofar) => hasAll(sofar, ids(appendOrder)));

        expect(recordedIds(ours(read))).toEqual(ids(appendOrder));
        expectStrictlyIncreasing(read.map((recorded) => recorded.position));
        expectNoDuplicates(recordedIds(read));
        for (const recorded of ours(read)) expect(recorded.position).toEqual(appendedPositions.get(recorded.envelope.id));
      });

      it('never returns more than the batch size, and paging from the last position returns the rest', async () => {
        const everything = await readAllUntil(store, START, 1000, (sofar) => hasAll(sofar, ids(appendOrder)));
        const firstPage = await store.readAll(START, 3);
        expect(firstPage).toHaveLength(Math.min(3, everything.length));
        expect(recordedIds(firstPage)).toEqual(recordedIds(everything.slice(0, 3)));

        const rest = await readAllUntil(store, firstPage[firstPage.length - 1].position, 2, (sofar) => sofar.length >= everything.length - 3);
        expect(recordedIds(rest).slice(0, everything.length - 3)).toEqual(recordedIds(everything.slice(3)));
      });

      it('from the position of an event returns only the events after it', async () => {
        const d = appendOrder[3];
        const read = await readAllUntil(store, appendedPositions.get(d.id)!, 2, (sofar) => hasAll(sofar, ids(appendOrder.slice(4))));
        expect(recordedIds(ours(read))).toEqual(ids(appendOrder.slice(4)));
      });

      it('with includeFrom, from the position of an event returns that event first, then the ones after it (a tenant filter still applies)', async () => {
        await readAllUntil(store, START, 1000, (sofar) => hasAll(sofar, ids(appendOrder)));
        const [d, e] = [appendOrder[3], appendOrder[4]];

        const read = await store.readAll(appendedPositions.get(d.id)!, 2, { includeFrom: true });
        const ofOtherTenant = await store.readAll(appendedPositions.get(d.id)!, 1, { includeFrom: true, tenantId: uniqueTenantId() });

        expect(recordedIds(read)).toEqual([d.id, e.id]);
        expect(ofOtherTenant).toEqual([]);
      });

      it('from the position of the newest event returns nothing new', async () => {
        const head = await headPosition();
        const read = await store.readAll(head, 100);
        expect(read.filter((recorded) => comparePositions(recorded.position, head) <= 0)).toEqual([]);
      });

      it('every event read verifies with the signer and its raw bytes are its canonical JSON', async () => {
        const read = ours(await readAllUntil(store, START, 1000, (sofar) => hasAll(sofar, ids(appendOrder))));
        expectAuthentic(signer, read);
      });

      it("with a tenant filter returns that tenant's events only, still in global order", async () => {
        const [tenantA, tenantB] = [uniqueTenantId(), uniqueTenantId()];
        const [a1, b1, a2] = [uniqueStreamId('tenant-a'), uniqueStreamId('tenant-b'), uniqueStreamId('tenant-a')];
        const appended: EventEnvelope[] = [];
        for (const [streamId, tenantId] of [[a1, tenantA], [b1, tenantB], [a2, tenantA], [b1, tenantB], [a1, tenantA]] as const) {
          const batch = events(streamId, 1, { tenantId });
          await store.append(streamId, batch, 'any');
          appended.push(...batch);
        }
        const ofA = appended.filter((envelope) => envelope.tenantId === tenantA);
        const read = await readAllUntil(store, START, 2, (sofar) => hasAll(sofar, ids(ofA)), { tenantId: tenantA });
        expect(recordedIds(read)).toEqual(ids(ofA));
      });
    });

    describe('identity', () => {
      it('names the kind of store and an id that stays the same from call to call', async () => {
        const first = await store.identity();
        const second = await store.identity();

        expect(['postgresql', 'eventstoredb']).toContain(first.kind);
        expect(first.id.length).toBeGreaterThan(0);
        expect(second).toEqual(first);
      });
    });

    describe('countAfter', () => {
      it('given three events after a position, then it counts them, stops at the limit, and gives the first one its occurredAt', async () => {
        const from = await headPosition();
        const streamId = uniqueStreamId('count');
        const stored = events(streamId, 3);
        const result = await store.append(streamId, stored, 'no-stream');
        await readAllUntil(store, from, 10, (read) => hasAll(read, ids(stored)));

        expect(await store.countAfter(from, 100)).toEqual({ count: 3, oldestOccurredAt: stored[0].occurredAt });
        expect((await store.countAfter(from, 2)).count).toBe(2);
        expect(await store.countAfter(result.positions[1], 100)).toEqual({ count: 1, oldestOccurredAt: stored[2].occurredAt });
        expect(await store.countAfter(result.positions[2], 100)).toEqual({ count: 0 });
      });
    });

    describe('stored bytes', () => {
      const awkwardData: JsonObject = {
        plain: 'hello',
        unicode: 'Grüße · 日本語 · Ελληνικά · עברית · ﷽',
        emoji: '👩🏽‍💻🎉🇺🇦 and a lone ZWJ \u200d',
        quotes: 'she said "hi", then \'bye\'',
        backslashes: 'C:\\path\\to\\file and \\n is not a newline, \\u0041 is not an A',
        control: '\u0000\u0001\u0007\b\f\n\r\t\u000b\u001f\u007f',
        separators: 'line\u2028paragraph\u2029end',
        looksLikeSql: "'); DROP TABLE events; --",
        looksLikeJson: '{"a":1}',
        numbers: {
          maxSafe: Number.MAX_SAFE_INTEGER,
          twoToThe53: 2 ** 53,
          minSafe: Number.MIN_SAFE_INTEGER,
          fraction: 0.1,
          tiny: 1e-7,
          huge: 1e21,
          negativeFraction: -1.5,
          zero: 0,
        },
        nested: { level1: { level2: { level3: [1, [2, [3, { deepest: null, flag: false }]]] } }, list: [{ b: 1, a: 2 }, [], {}] },
        keys: { b: 1, a: 2, '': 3, é: 4, '\u0000nul': 5, '😀': 6, 'with "quotes"': 7 },
        empty: { string: '', array: [], object: {} },
      };

      it('given awkward data, then raw is exactly the canonical JSON of the envelope and parses back to it, from readStream and readAll', async () => {
        const streamId = uniqueStreamId('bytes');
        const appended = event(streamId, { data: awkwardData });
        expect(validateEnvelopeShape(appended)).toEqual({ valid: true });

        const result = await store.append(streamId, [appended], 'no-stream');

        const [fromStream] = await store.readStream(streamId);
        const fromAll = (await readAllUntil(store, START, 1000, (sofar) => hasAll(sofar, [appended.id]))).find((recorded) => recorded.envelope.id === appended.id);
        for (const recorded of [fromStream, fromAll!]) {
          expect(recorded.raw).toBe(canonicalJson(appended));
          expect(Buffer.from(recorded.raw, 'utf8').equals(Buffer.from(canonicalJson(appended), 'utf8'))).toBe(true);
          expect(JSON.parse(recorded.raw)).toEqual(appended);
          expect(recorded.envelope).toEqual(appended);
          expect(recorded.position).toEqual(result.positions[0]);
          expect(signer.verify(recorded.envelope)).toEqual({ valid: true });
        }
      });

      it('given a large payload, then it round-trips byte for byte', async () => {
        const streamId = uniqueStreamId('bytes');
        const big = event(streamId, { data: { text: 'ab"\\ü😀\n'.repeat(40_000), items: Array.from({ length: 2_000 }, (_, i) => ({ i, half: i / 2 })) } });

        await store.append(streamId, [big], 'no-stream');

        const [recorded] = await store.readStream(streamId);
        expect(recorded.raw).toBe(canonicalJson(big));
        expect(signer.verify(recorded.envelope)).toEqual({ valid: true });
      });
    });

    describe('idempotency', () => {
      it('given an append with a claim, when the same claim is used again, then IdempotencyKeyUsedError and the second batch is not written', async () => {
        const tenantId = uniqueTenantId();
        const streamId = uniqueStreamId('idem');
        await store.append(streamId, events(streamId, 2, { tenantId }), 'no-stream');
        const claim = idempotencyClaim(tenantId, `key-${randomUUID()}`, { command: 'first' });
        const first = events(streamId, 3, { tenantId });

        await store.append(streamId, first, 1, { idempotency: claim });

        const retryStream = uniqueStreamId('idem-retry');
        const retry = await failureOf(store.append(retryStream, events(retryStream, 1, { tenantId }), 'no-stream', { idempotency: claim }));
        expect(retry).toBeInstanceOf(IdempotencyKeyUsedError);
        expect(retry).toMatchObject({ status: 409, code: 'IDEMPOTENCY.KEY_USED', details: { key: claim.key } });
        expect(await store.streamVersion(retryStream)).toBeUndefined();

        const sameStream = await failureOf(store.append(streamId, events(streamId, 1, { tenantId }), 'any', { idempotency: claim }));
        expect(sameStream).toBeInstanceOf(IdempotencyKeyUsedError);
        expect(await store.streamVersion(streamId)).toBe(4);

        expect(await store.findIdempotentAppend(tenantId, claim.key)).toEqual({
          streamId,
          firstVersion: 2,
          eventCount: 3,
          requestHash: claim.requestHash,
        });
      });

      it('given a used key, when it comes back with another request hash, then it is still refused and the first request is what is recorded', async () => {
        const tenantId = uniqueTenantId();
        const key = `key-${randomUUID()}`;
        const streamId = uniqueStreamId('idem');
        const original = idempotencyClaim(tenantId, key, { command: 'original' });
        await store.append(streamId, events(streamId, 1, { tenantId }), 'no-stream', { idempotency: original });

        const other = uniqueStreamId('idem');
        await expect(
          store.append(other, events(other, 1, { tenantId }), 'no-stream', { idempotency: idempotencyClaim(tenantId, key, { command: 'different' }) }),
        ).rejects.toBeInstanceOf(IdempotencyKeyUsedError);

        expect(await store.findIdempotentAppend(tenantId, key)).toEqual({ streamId, firstVersion: 0, eventCount: 1, requestHash: original.requestHash });
        expect(await store.streamVersion(other)).toBeUndefined();
      });

      it('a claim is scoped to its tenant: another tenant can use the same key', async () => {
        const key = `key-${randomUUID()}`;
        const [tenantA, tenantB] = [uniqueTenantId(), uniqueTenantId()];
        const [streamA, streamB] = [uniqueStreamId('idem-a'), uniqueStreamId('idem-b')];
        const claimA = idempotencyClaim(tenantA, key, 'a');
        const claimB = idempotencyClaim(tenantB, key, 'b');

        await store.append(streamA, events(streamA, 1, { tenantId: tenantA }), 'no-stream', { idempotency: claimA });
        await store.append(streamB, events(streamB, 2, { tenantId: tenantB }), 'no-stream', { idempotency: claimB });

        expect(await store.findIdempotentAppend(tenantA, key)).toEqual({ streamId: streamA, firstVersion: 0, eventCount: 1, requestHash: claimA.requestHash });
        expect(await store.findIdempotentAppend(tenantB, key)).toEqual({ streamId: streamB, firstVersion: 0, eventCount: 2, requestHash: claimB.requestHash });
      });

      it('an unknown key finds nothing', async () => {
        expect(await store.findIdempotentAppend(uniqueTenantId(), 'never-used')).toBeUndefined();
      });

      it('given an append that fails its version check, then its claim is not recorded and can be used by the retry', async () => {
        const tenantId = uniqueTenantId();
        const streamId = uniqueStreamId('idem');
        await store.append(streamId, events(streamId, 1, { tenantId }), 'no-stream');
        const claim = idempotencyClaim(tenantId, `key-${randomUUID()}`, 'retry-me');

        await expect(store.append(streamId, events(streamId, 1, { tenantId }), 7, { idempotency: claim })).rejects.toBeInstanceOf(WrongExpectedVersionError);
        expect(await store.findIdempotentAppend(tenantId, claim.key)).toBeUndefined();

        await store.append(streamId, events(streamId, 1, { tenantId }), 0, { idempotency: claim });
        expect(await store.findIdempotentAppend(tenantId, claim.key)).toEqual({ streamId, firstVersion: 1, eventCount: 1, requestHash: claim.requestHash });
      });

      it('given concurrent appends with the same claim, then exactly one lands', async () => {
        const tenantId = uniqueTenantId();
        const claim = idempotencyClaim(tenantId, `key-${randomUUID()}`, 'race');
        const streamIds = Array.from({ length: 6 }, () => uniqueStreamId('idem-race'));

        const outcomes = await Promise.allSettled(
          streamIds.map((streamId) => store.append(streamId, events(streamId, 1, { tenantId }), 'no-stream', { idempotency: claim })),
        );

        const winners = streamIds.filter((_, index) => outcomes[index].status === 'fulfilled');
        expect(winners).toHaveLength(1);
        for (const outcome of outcomes) {
          if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(IdempotencyKeyUsedError);
        }
        expect((await store.findIdempotentAppend(tenantId, claim.key))?.streamId).toBe(winners[0]);
        for (const streamId of streamIds) expect(await store.streamVersion(streamId)).toBe(streamId === winners[0] ? 0 : undefined);
      });
    });

    describe('tenants', () => {
      it.each([['any'], ['stream-exists'], [1], ['no-stream']] as Array<[ExpectedVersion]>)(
        "given a stream of tenant A, when tenant B's envelopes are appended to it with %p, then it fails, tells B nothing of the stream, and writes nothing",
        async (expected) => {
          const [tenantA, tenantB] = [uniqueTenantId(), uniqueTenantId()];
          const streamId = uniqueStreamId('tenanted');
          const original = events(streamId, 2, { tenantId: tenantA });
          await store.append(streamId, original, 'no-stream');

          const error = await failureOf(store.append(streamId, events(streamId, 1, { tenantId: tenantB }), expected));

          expect(error).toBeInstanceOf(ProoflineError);
          expect((error as ProoflineError).details.actualVersion).toBeUndefined();
          expect(await streamIdsOf(streamId)).toEqual(ids(original));
          expect(await store.streamVersion(streamId)).toBe(1);
        },
      );

      it('given a batch that mixes tenants, then it fails and writes nothing', async () => {
        const streamId = uniqueStreamId('mixed');
        const batch = [...events(streamId, 1, { tenantId: uniqueTenantId() }), ...events(streamId, 1, { tenantId: uniqueTenantId() })];

        await expect(store.append(streamId, batch, 'any')).rejects.toBeInstanceOf(Error);

        expect(await store.streamVersion(streamId)).toBeUndefined();
      });

      it('given an envelope for another stream, then it fails and writes nothing', async () => {
        const streamId = uniqueStreamId('target');
        const stray = event(uniqueStreamId('elsewhere'));

        await expect(store.append(streamId, [...events(streamId, 1), stray], 'any')).rejects.toBeInstanceOf(Error);

        expect(await store.streamVersion(streamId)).toBeUndefined();
        expect(await store.streamVersion(stray.streamId)).toBeUndefined();
      });
    });

    describe('concurrent appends', () => {
      it('given one stream, when many appenders race with the same expected version, then exactly one wins, the rest get 409, and the stream has no gaps', async () => {
        const streamId = uniqueStreamId('race');
        const first = events(streamId, 1);
        await store.append(streamId, first, 'no-stream');
        const contenders = Array.from({ length: 8 }, () => events(streamId, 2));

        const outcomes = await Promise.allSettled(contenders.map((batch) => store.append(streamId, batch, 0)));

        const won = contenders.filter((_, index) => outcomes[index].status === 'fulfilled');
        expect(won).toHaveLength(1);
        for (const outcome of outcomes) {
          if (outcome.status === 'rejected') {
            expect(outcome.reason).toBeInstanceOf(WrongExpectedVersionError);
            expect(outcome.reason).toMatchObject({ status: 409, details: { expectedVersion: 0 } });
          }
        }
        const stored = await store.readStream(streamId);
        expect(stored.map((recorded) => recorded.streamVersion)).toEqual([0, 1, 2]);
        expect(recordedIds(stored)).toEqual([...ids(first), ...ids(won[0])]);
      });

      it("given a new stream, when many appenders race with 'no-stream', then exactly one creates it", async () => {
        const streamId = uniqueStreamId('race');
        const contenders = Array.from({ length: 8 }, () => events(streamId, 3));

        const outcomes = await Promise.allSettled(contenders.map((batch) => store.append(streamId, batch, 'no-stream')));

        expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
        for (const outcome of outcomes) if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(WrongExpectedVersionError);
        expect((await store.readStream(streamId)).map((recorded) => recorded.streamVersion)).toEqual([0, 1, 2]);
      });

      it("given one stream, when many appenders race with 'any', then every batch lands whole and the versions have no gaps", async () => {
        const streamId = uniqueStreamId('race');
        const batches = Array.from({ length: 8 }, () => events(streamId, 3));

        const results = await Promise.all(batches.map((batch) => store.append(streamId, batch, 'any')));

        const stored = await store.readStream(streamId);
        expect(stored.map((recorded) => recorded.streamVersion)).toEqual(Array.from({ length: 24 }, (_, version) => version));
        batches.forEach((batch, index) => {
          const first = results[index].streamVersions[0];
          expect(results[index].streamVersions).toEqual([first, first + 1, first + 2]);
          expect(recordedIds(stored.slice(first, first + 3))).toEqual(ids(batch));
        });
      });

      it.each([['any' as ExpectedVersion], ['stream-exists' as ExpectedVersion]])(
        'given appenders racing on one stream with %p, then readAll lists each stream in version order',
        async (expected) => {
          const from = await headPosition();
          const streamIds = Array.from({ length: 6 }, () => uniqueStreamId('race-order'));
          await Promise.all(streamIds.map((streamId) => store.append(streamId, events(streamId, 1), 'no-stream')));

          await Promise.all(
            streamIds.flatMap((streamId) => Array.from({ length: 6 }, () => store.append(streamId, events(streamId, 3), expected))),
          );

          const read = await readAllUntil(store, from, 1000, (sofar) => streamIds.every((streamId) => sofar.filter((recorded) => recorded.envelope.streamId === streamId).length === 19));
          expectStreamOrder(read.filter((recorded) => streamIds.includes(recorded.envelope.streamId)));
        },
      );

      it('given many streams, when appended to concurrently while a subscription runs, then readAll and the subscription each see every event exactly once, in the same order', async () => {
        const from = await headPosition();
        const streamIds = Array.from({ length: 30 }, () => uniqueStreamId('burst'));
        const subscription = consume(store.subscribe(from, { batchSize: 7, pollIntervalMs: 20 }));
        try {
          const firstRound = streamIds.map((streamId) => events(streamId, 2));
          await Promise.all(streamIds.map((streamId, index) => store.append(streamId, firstRound[index], 'no-stream')));
          const secondRound = streamIds.map((streamId) => events(streamId, 1));
          await Promise.all(streamIds.map((streamId, index) => store.append(streamId, secondRound[index], 1)));
          const expected = [...firstRound.flat(), ...secondRound.flat()];

          const read = (await readAllUntil(store, from, 10, (sofar) => hasAll(sofar, ids(expected)))).filter((recorded) => streamIds.includes(recorded.envelope.streamId));
          expect(read).toHaveLength(expected.length);
          expect(new Set(recordedIds(read))).toEqual(new Set(ids(expected)));
          expectNoDuplicates(recordedIds(read));
          expectStrictlyIncreasing(read.map((recorded) => recorded.position));
          expectStreamOrder(read);

          await subscription.until((received) => hasAll(received, ids(expected)));
          await sleep(100);
          const delivered = subscription.received.filter((recorded) => streamIds.includes(recorded.envelope.streamId));
          expect(recordedIds(delivered)).toEqual(recordedIds(read));
          expectNoDuplicates(recordedIds(subscription.received));
        } finally {
          await subscription.stop();
        }
      });
    });

    describe.each(SUBSCRIPTION_KINDS)('%s', (_kind, open) => {
      if (_kind === 'subscribeBatches') {
        it('given 7 stored events and batchSize 3, then subscribeBatches hands them on in order in batches of at most 3', async () => {
          const from = await headPosition();
          const streamId = uniqueStreamId('batches');
          const stored = events(streamId, 7);
          await store.append(streamId, stored, 'no-stream');
          await readAllUntil(store, from, 50, (read) => hasAll(read, ids(stored)));
          const subscription = store.subscribeBatches(from, { batchSize: 3, pollIntervalMs: 25 });
          const sizes: number[] = [];
          const received: RecordedEvent[] = [];
          for await (const batch of subscription) {
            sizes.push(batch.length);
            received.push(...batch);
            if (hasAll(received, ids(stored))) break;
          }
          subscription.close();
          expect(sizes.every((size) => size >= 1 && size <= 3)).toBe(true);
          expect(recordedIds(received.filter((recorded) => recorded.envelope.streamId === streamId))).toEqual(ids(stored));
        });
      }

      it('given events already stored, when subscribing from START, then it catches up and then receives live events, in order, once each', async () => {
        const [s1, s2] = [uniqueStreamId('sub-1'), uniqueStreamId('sub-2')];
        const existing = [...events(s1, 2), ...events(s2, 1)];
        await store.append(s1, existing.slice(0, 2), 'no-stream');
        await store.append(s2, existing.slice(2), 'no-stream');
        const ours = (list: readonly RecordedEvent[]) => list.filter((recorded) => recorded.envelope.streamId === s1 || recorded.envelope.streamId === s2);

        const subscription = consume(open(store, START, { batchSize: 50, pollIntervalMs: 25 }));
        try {
          await subscription.until((received) => hasAll(received, ids(existing)));
          expect(recordedIds(ours(subscription.received))).toEqual(ids(existing));

          const live = [...events(s2, 1), ...events(s1, 2)];
          await store.append(s2, live.slice(0, 1), 0);
          await store.append(s1, live.slice(1), 1);
          await subscription.until((received) => hasAll(received, ids(live)));
          await sleep(150);

          expect(recordedIds(ours(subscription.received))).toEqual(ids([...existing, ...live]));
          expectNoDuplicates(recordedIds(subscription.received));
          expectStrictlyIncreasing(subscription.received.map((recorded) => recorded.position));
          expectAuthentic(signer, ours(subscription.received));
        } finally {
          await subscription.stop();
        }
      });

      it('given a position in the middle, then the subscription starts right after it', async () => {
        const streamId = uniqueStreamId('sub-middle');
        const stored = events(streamId, 5);
        const result = await store.append(streamId, stored, 'no-stream');

        const subscription = consume(open(store, result.positions[1], { pollIntervalMs: 25 }));
        try {
          await subscription.until((received) => hasAll(received, ids(stored.slice(2))));
          await sleep(100);
          const ours = subscription.received.filter((recorded) => recorded.envelope.streamId === streamId);
          expect(recordedIds(ours)).toEqual(ids(stored.slice(2)));
          expect(subscription.received.every((recorded) => comparePositions(recorded.position, result.positions[1]) > 0)).toBe(true);
        } finally {
          await subscription.stop();
        }
      });

      it('given batchSize 2 and a slow consumer, then it still delivers every event, stored and live, in order, once each', async () => {
        const from = await headPosition();
        const [s1, s2] = [uniqueStreamId('slow-1'), uniqueStreamId('slow-2')];
        const stored = [...events(s1, 3), ...events(s2, 2), ...events(s1, 2)];
        await store.append(s1, stored.slice(0, 3), 'no-stream');
        await store.append(s2, stored.slice(3, 5), 'no-stream');
        await store.append(s1, stored.slice(5), 2);

        const subscription = consume(open(store, from, { batchSize: 2, pollIntervalMs: 25 }), { delayMs: 15 });
        try {
          const live = [...events(s2, 2), ...events(s1, 1)];
          await store.append(s2, live.slice(0, 2), 1);
          await store.append(s1, live.slice(2), 4);
          await subscription.until((received) => hasAll(received, ids([...stored, ...live])));
          await sleep(100);

          expect(recordedIds(subscription.received)).toEqual(ids([...stored, ...live]));
        } finally {
          await subscription.stop();
        }
      });

      it('given a caught-up subscription with a long poll interval, when closed, then the iteration ends promptly', async () => {
        const streamId = uniqueStreamId('sub-close');
        const stored = events(streamId, 2);
        const result = await store.append(streamId, stored, 'no-stream');
        // Readable before subscribing, so the catch-up read finds it without waiting a poll interval.
        await readAllUntil(store, result.positions[0], 10, (read) => hasAll(read, [stored[1].id]));
        const subscription = consume(open(store, result.positions[0], { pollIntervalMs: 60_000 }));
        try {
          await subscription.until((received) => hasAll(received, [stored[1].id]));
          await sleep(50);

          const started = Date.now();
          await subscription.stop();

          expect(Date.now() - started).toBeLessThan(1000);
          expect(subscription.ended).toBe(true);
        } finally {
          await subscription.stop();
        }
      });

      it('given a caught-up subscription, when its abort signal fires, then the iteration ends promptly', async () => {
        const streamId = uniqueStreamId('sub-abort');
        const stored = events(streamId, 2);
        const result = await store.append(streamId, stored, 'no-stream');
        await readAllUntil(store, result.positions[0], 10, (read) => hasAll(read, [stored[1].id]));
        const abort = new AbortController();
        const subscription = consume(open(store, result.positions[0], { pollIntervalMs: 60_000, signal: abort.signal }));
        try {
          await subscription.until((received) => hasAll(received, [stored[1].id]));
          await sleep(50);

          const started = Date.now();
          abort.abort();
          await subscription.done;

          expect(Date.now() - started).toBeLessThan(1000);
        } finally {
          await subscription.stop();
        }
      });

      it('given a closed subscription, then events appended afterwards are not delivered', async () => {
        const streamId = uniqueStreamId('sub-closed');
        const result = await store.append(streamId, events(streamId, 1), 'no-stream');
        const subscription = consume(open(store, result.positions[0], { pollIntervalMs: 10 } satisfies SubscribeOptions));
        await sleep(30);
        await subscription.stop();

        await store.append(streamId, events(streamId, 2), 0);
        await sleep(100);

        expect(subscription.received.filter((recorded) => recorded.envelope.streamId === streamId)).toEqual([]);
      });
    });

    it('every event this suite stored reads back from START intact, verified by the signer, in the streams readStream reports', async () => {
      // Every earlier append has finished, so once this sentinel is readable all of them are.
      const sentinel = await headPosition();
      const read = await readAllUntil(store, START, 250, (sofar) => sofar.some((recorded) => comparePositions(recorded.position, sentinel) === 0));
      const ours = read.filter((recorded) => appendedByThisSuite.has(recorded.envelope.id));

      expectNoDuplicates(recordedIds(read));
      expectStrictlyIncreasing(read.map((recorded) => recorded.position));
      expectAuthentic(signer, ours);
      for (const recorded of ours) expect(recorded.envelope).toEqual(appendedByThisSuite.get(recorded.envelope.id));
      // Sealed is not landed (conflicts, duplicates): readStream of every stream we touched says what landed.
      const touched = new Set([...appendedByThisSuite.values()].map((envelope) => envelope.streamId));
      for (const streamId of touched) {
        const inGlobalOrder = ours.filter((recorded) => recorded.envelope.streamId === streamId);
        expect(recordedIds(inGlobalOrder)).toEqual(await streamIdsOf(streamId));
      }
    });
  });
}
