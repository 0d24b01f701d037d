import * as vm from 'node:vm';
import { canonicalJson } from '../../contracts';
import type { EventStore, EventSubscription, ReadAllFilter, RecordedEvent } from '../../src/eventstore/event-store.port';
import { comparePositions, formatPosition, type GlobalPosition } from '../../src/eventstore/global-position';
import type { EventSigner } from '../../src/signing/event-signer';

/** Test helpers shared by the conformance suite and the event store integration tests. */

export async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the operation to fail, but it succeeded');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function hasAll(read: readonly RecordedEvent[], wanted: readonly string[]): boolean {
  const seen = new Set(read.map((recorded) => recorded.envelope.id));
  return wanted.every((id) => seen.has(id));
}

/**
 * Pages through readAll from `from`, `batchSize` at a time, until a short page and `done` holds
 * (or the time is up: then the caller's assertions say what is missing). Checks as it goes that
 * no page exceeds the batch size.
 */
export async function readAllUntil(
  store: EventStore,
  from: GlobalPosition,
  batchSize: number,
  done: (read: readonly RecordedEvent[]) => boolean,
  filter?: ReadAllFilter,
  timeoutMs = 10_000,
): Promise<RecordedEvent[]> {
  const read: RecordedEvent[] = [];
  const deadline = Date.now() + timeoutMs;
  let position = from;
  for (;;) {
    const page = await store.readAll(position, batchSize, filter);
    expect(page.length).toBeLessThanOrEqual(batchSize);
    read.push(...page);
    if (page.length > 0) position = page[page.length - 1].position;
    if (page.length === batchSize) continue;
    if (done(read) || Date.now() > deadline) return read;
    await sleep(20);
  }
}

export interface Consumer {
  readonly received: RecordedEvent[];
  readonly done: Promise<void>;
  readonly ended: boolean;
  until(predicate: (received: readonly RecordedEvent[]) => boolean, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Runs a for-await loop over the subscription in the background, optionally slowly. */
export function consume(subscription: EventSubscription, options: { delayMs?: number } = {}): Consumer {
  const received: RecordedEvent[] = [];
  let ended = false;
  const done = (async () => {
    for await (const recorded of subscription) {
      received.push(recorded);
      if (options.delayMs) await sleep(options.delayMs);
    }
    ended = true;
  })();
  return {
    received,
    done,
    get ended() {
      return ended;
    },
    async until(predicate, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(received)) {
        if (ended) throw new Error(`the subscription ended after ${received.length} events before the expected ones arrived`);
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms with ${received.length} events received`);
        await sleep(10);
      }
    },
    async stop() {
      subscription.close();
      await done;
    },
  };
}

export function expectStrictlyIncreasing(positions: readonly GlobalPosition[]): void {
  for (let index = 1; index < positions.length; index++) {
    if (comparePositions(positions[index - 1], positions[index]) >= 0) {
      throw new Error(`positions not strictly increasing at ${index}: ${formatPosition(positions[index - 1])} then ${formatPosition(positions[index])}`);
    }
  }
}

export function expectNoDuplicates(eventIds: readonly string[]): void {
  const repeated = eventIds.filter((id, index) => eventIds.indexOf(id) !== index);
  expect(repeated).toEqual([]);
}

/** Within each stream, global order must follow stream version order. */
export function expectStreamOrder(read: readonly RecordedEvent[]): void {
  const last = new Map<string, number>();
  for (const recorded of read) {
    const previous = last.get(recorded.envelope.streamId) ?? -1;
    expect(recorded.streamVersion).toBe(previous + 1);
    last.set(recorded.envelope.streamId, recorded.streamVersion);
  }
}

export function expectAuthentic(signer: EventSigner, read: readonly RecordedEvent[]): void {
  const faults = read
    .map((recorded) => ({ id: recorded.envelope.id, verification: signer.verifyRecorded(recorded), canonical: recorded.raw === canonicalJson(recorded.envelope) }))
    .filter((checked) => !checked.verification.valid || !checked.canonical);
  expect(faults).toEqual([]);
}


/**
 * PGlite loads Node built-ins with `import()`, which code running inside jest may only do when
 * node runs with --experimental-vm-modules; without it PGlite's start-up rejects unhandled and
 * takes the whole jest process down. Call this before opening an embedded database so the
 * suite fails with the fix instead.
 */
export function assertEmbeddedDatabaseCanStart(): void {
  if (!('SourceTextModule' in vm)) {
    throw new Error('embedded PGlite cannot start inside jest without dynamic import(): run jest with NODE_OPTIONS=--experimental-vm-modules');
  }
}
