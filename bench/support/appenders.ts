import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type { EventEnvelope } from '../../contracts';
import type { EventStore } from '../../src/eventstore/event-store.port';
import type { EventSigner } from '../../src/signing/event-signer';
import { nameAt, rawRowOf, unsignedRenamed, workspaceStreamId } from './events';
import type { Operation } from './kit';
import { insertRaw } from './raw-events';

/**
 * Operations for runLoad: each worker appends to a stream of its own (distinct streams, so
 * appenders never conflict), `batchSize` events per append, tracking its expected version.
 * Each appender uses fresh stream ids, so phases never share streams.
 */

function streamOf(prefix: string, worker: number): string {
  return workspaceStreamId(`${prefix}-${worker}`);
}

function freshPrefix(label: string): string {
  return `${label}-${randomBytes(3).toString('hex')}`;
}

/** Seal (sign; one signature per batch) then append through the store: what CommandPipeline does after deciding. */
export function signedAppends(store: EventStore, signer: EventSigner, batchSize: number, label = 'signed'): Operation {
  const prefix = freshPrefix(label);
  const versions = new Map<number, number>();
  return async (worker) => {
    const streamId = streamOf(prefix, worker);
    const last = versions.get(worker) ?? -1;
    const envelopes = signer.sealBatch(Array.from({ length: batchSize }, (_, i) => unsignedRenamed(streamId, nameAt(last + 1 + i), nameAt(last + i))));
    const result = await store.append(streamId, envelopes, last < 0 ? 'no-stream' : last);
    versions.set(worker, result.nextExpectedVersion);
    return envelopes.length;
  };
}

/** The unsigned baseline: plain INSERTs of rows the size of `template`, one statement per append. */
export function rawInserts(knex: Knex, template: EventEnvelope, batchSize: number, label = 'raw'): Operation {
  const prefix = freshPrefix(label);
  const versions = new Map<number, number>();
  return async (worker) => {
    const streamId = streamOf(prefix, worker);
    const last = versions.get(worker) ?? -1;
    const rows = Array.from({ length: batchSize }, (_, i) => rawRowOf(template, streamId, last + 1 + i));
    const written = await insertRaw(knex, rows);
    versions.set(worker, last + written);
    return written;
  };
}

/**
 * Appends of envelopes signed beforehand (not timed): the store's own cost without signing.
 * Each worker stops when its supply runs out.
 */
export function presignedAppends(store: EventStore, signer: EventSigner, batchSize: number, concurrency: number, perWorker: number, label = 'presigned'): Operation {
  const prefix = freshPrefix(label);
  const supply = new Map<number, EventEnvelope[]>();
  for (let worker = 0; worker < concurrency; worker++) {
    const streamId = streamOf(prefix, worker);
    supply.set(worker, Array.from({ length: perWorker }, (_, i) => signer.seal(unsignedRenamed(streamId, nameAt(i + 1), nameAt(i)))));
  }
  const versions = new Map<number, number>();
  return async (worker) => {
    const queue = supply.get(worker)!;
    if (queue.length < batchSize) return -1;
    const envelopes = queue.splice(0, batchSize);
    const last = versions.get(worker) ?? -1;
    const result = await store.append(streamOf(prefix, worker), envelopes, last < 0 ? 'no-stream' : last);
    versions.set(worker, result.nextExpectedVersion);
    return envelopes.length;
  };
}
