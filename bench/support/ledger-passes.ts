import { createHash } from 'node:crypto';
import type { Infrastructure } from '../../src/app/infrastructure';
import type { RecordedEvent } from '../../src/eventstore/event-store.port';
import type { StoredReceipt } from '../../src/ledger/ledger-repository';
import { verifyChain } from '../../src/ledger/ledger-verifier';
import { formatPosition } from '../../src/eventstore/global-position';
import { leafHash, nodeHash, verifyInclusion } from '../../src/ledger/merkle';
import { eventHashOf, receiptBytes, sha256Hex } from '../../src/ledger/receipt';
import { ReceiptBuilder } from '../../src/ledger/receipt-builder';
import { dataHashOf, EventSigner } from '../../src/signing/event-signer';
import { BENCH_TENANT } from './events';
import { resetLedger } from './ledger-data';
import type { Pass } from './passes';
import { nowMs, rateOf } from './stats';

/** The passes the ledger benchmark times: building, verifying, the SHA-256 baselines, inclusion proofs. */

/** Anything the timed loops compute ends up here, so no loop can be optimised away. */
export const sink = { value: 0 };

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest();

/** `ReceiptBuilder.catchUp()` over every stored event, from an empty ledger and a new builder (own signer: no cached batch statements). */
export function buildPass(name: string, infra: Infrastructure): Pass {
  let builder: ReceiptBuilder | undefined;
  return {
    name,
    before: async () => {
      await resetLedger(infra.database.knex);
      builder = new ReceiptBuilder(infra.database.knex, infra.store, new EventSigner(infra.keys), infra.keys, infra.ledger.settings);
    },
    run: async () => (await builder!.catchUp()).receipts,
  };
}

/**
 * For one chain in memory: the raw baseline (SHA-256 of each event's stored bytes and of each
 * receipt's canonical bytes, prepared beforehand), verifyChain hash-only, and verifyChain
 * with a fresh EventSigner (signatures; its batch-statement cache starts empty every run).
 */
export function verifyPasses(kind: string, infra: Infrastructure, receipts: readonly StoredReceipt[], events: readonly RecordedEvent[]): Pass[] {
  const eventBytes = events.map((event) => Buffer.from(event.raw, 'utf8'));
  const receiptBuffers = receipts.map((receipt) => receiptBytes(receipt));
  const checked = (fault: ReturnType<typeof verifyChain>) => {
    if (fault) throw new Error(`verifyChain found a fault in an untouched ledger: ${fault.kind} at ${fault.position}: ${fault.message}`);
    return receipts.length;
  };
  return [
    {
      name: `raw SHA-256 (${kind})`,
      run: () => {
        for (let i = 0; i < receiptBuffers.length; i++) sink.value ^= sha256(eventBytes[i])[0] ^ sha256(receiptBuffers[i])[0];
        return receiptBuffers.length;
      },
    },
    { name: `verifyChain hash-only (${kind})`, run: () => checked(verifyChain(BENCH_TENANT, receipts, events)) },
    { name: `verifyChain signatures (${kind})`, run: () => checked(verifyChain(BENCH_TENANT, receipts, events, { signer: new EventSigner(infra.keys) })) },
  ];
}

/** Bytes hashed per receipt by the raw baseline: the event's stored text and the receipt's canonical JSON. */
export function bytesPerReceipt(receipts: readonly StoredReceipt[], events: readonly RecordedEvent[]): { event: number; receipt: number } {
  const event = events.reduce((sum, e) => sum + Buffer.byteLength(e.raw, 'utf8'), 0) / events.length;
  const receipt = receipts.reduce((sum, r) => sum + receiptBytes(r).length, 0) / receipts.length;
  return { event: Math.round(event), receipt: Math.round(receipt) };
}

/**
 * What the hash-only walk does per receipt (ledger-verifier.ts brokenLink and eventFault, in
 * that order), each part alone on one receipt and its event, against the raw baseline's two
 * hashes: calls per second on this thread.
 */
export function verifyParts(receipt: StoredReceipt, event: RecordedEvent): Record<string, number> {
  const bytes = receiptBytes(receipt);
  const raw = Buffer.from(event.raw, 'utf8');
  const ms = 400;
  return {
    'raw: SHA-256 of the stored event bytes': rateOf(ms, () => (sink.value ^= sha256(raw)[0])),
    'raw: SHA-256 of the receipt bytes': rateOf(ms, () => (sink.value ^= sha256(bytes)[0])),
    'receiptBytes(receipt) (canonical JSON)': rateOf(ms, () => (sink.value ^= receiptBytes(receipt)[0])),
    'sha256Hex(receipt bytes) (receiptHash)': rateOf(ms, () => (sink.value ^= sha256Hex(bytes).length)),
    'leafHash(receipt bytes).toString(hex)': rateOf(ms, () => (sink.value ^= leafHash(bytes).toString('hex').length)),
    'dataHashOf(data) (canonical JSON + SHA-256)': rateOf(ms, () => (sink.value ^= dataHashOf(event.envelope.data).length)),
    'eventHashOf(event) (UTF-8 encode + SHA-256)': rateOf(ms, () => (sink.value ^= eventHashOf(event).length)),
    'formatPosition(position)': rateOf(ms, () => (sink.value ^= formatPosition(event.position).length)),
  };
}

export interface ProofSet {
  readonly leaves: readonly Buffer[];
  readonly proofs: readonly Buffer[][];
  readonly root: Buffer;
  /** Random leaf indexes, used in turn `perRound` at a time. */
  readonly indexes: readonly number[];
  readonly perRound: number;
}

/** Each verifyInclusion timed on its own (proofs made beforehand), `perRound` random leaves per round. */
export function inclusionPass(set: ProofSet): Pass {
  let cursor = 0;
  let chunk: number[] = [];
  const size = set.leaves.length;
  return {
    name: 'verifyInclusion',
    before: () => {
      chunk = Array.from({ length: set.perRound }, (_, i) => set.indexes[(cursor + i) % set.indexes.length]);
      cursor += set.perRound;
    },
    run: () => {
      const samplesMs: number[] = [];
      for (const index of chunk) {
        const started = nowMs();
        verifyInclusion(set.leaves[index], index, size, set.proofs[index], set.root);
        samplesMs.push(nowMs() - started);
      }
      return { items: chunk.length, samplesMs };
    },
  };
}

/** The unit for proof latency: one SHA-256 of a 64-byte input, and (for reference) one RFC 6962 node hash. */
export function hashPasses(calls = 100_000): Pass[] {
  const input = Buffer.alloc(64, 7);
  const left = input.subarray(0, 32);
  const right = input.subarray(32);
  return [
    {
      name: 'SHA-256 of 64 bytes',
      run: () => {
        for (let i = 0; i < calls; i++) sink.value ^= sha256(input)[0];
        return calls;
      },
    },
    {
      name: 'nodeHash (0x01 || 32 B || 32 B)',
      run: () => {
        for (let i = 0; i < calls; i++) sink.value ^= nodeHash(left, right)[0];
        return calls;
      },
    },
  ];
}

/** Deterministic pseudo-random indexes in [0, size): the same leaves every run. */
export function randomIndexes(count: number, size: number, seed = 0x5eed): number[] {
  let state = seed >>> 0;
  return Array.from({ length: count }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return Math.floor((state / 2 ** 32) * size);
  });
}
