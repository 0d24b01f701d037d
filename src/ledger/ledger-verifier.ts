import { comparePositions, formatPosition, START, type GlobalPosition } from '../eventstore/global-position';
import type { EventStore, RecordedEvent } from '../eventstore/event-store.port';
import type { EventSigner, Verification, VerificationFault } from '../signing/event-signer';
import type { KeyRegistry } from '../signing/key-registry';
import { storedBytesFault } from '../signing/stored-event';
import { originOf, type SignedCheckpoint } from './checkpoint';
import { verifyCheckpoint } from './checkpoint-signature';
import type { LedgerRepository, StoredReceipt } from './ledger-repository';
import { leafHash } from './merkle/hashes';
import { MerkleAccumulator } from './merkle/accumulator';
import { eventHashOf, GENESIS_PREV_HASH, receiptBytes, sha256Hex } from './receipt';

export type LedgerFaultKind = 'altered' | 'not-canonical' | 'missing' | 'inserted' | 'reordered' | 'bad-event-signature' | 'broken-chain' | 'bad-checkpoint';

export interface LedgerFault {
  readonly kind: LedgerFaultKind;
  /** The first receipt sequence (0-based) at which the ledger and the store disagree. */
  readonly position: number;
  readonly eventId?: string;
  readonly message: string;
}

export interface LedgerVerification {
  readonly ok: boolean;
  readonly tenantId: string;
  readonly receipts: number;
  readonly events: number;
  readonly checkpoints: number;
  /** Events stored but not yet receipted (the builder is behind); not a fault. */
  readonly pendingEvents: number;
  readonly fault?: LedgerFault;
}

export interface LedgerVerifierDeps {
  /** This deployment's PROOFLINE_INSTANCE_NAME: a checkpoint must name exactly `<instance>/<tenant>`. */
  readonly instance: string;
  readonly store: EventStore;
  readonly repository: LedgerRepository;
  readonly signer: EventSigner;
  readonly keys: KeyRegistry;
}

/**
 * Replays a tenant's receipt chain against the event store: recomputes every event hash and
 * signature, every receipt hash and chain link, every checkpoint's root and signature, and
 * names the first position where they disagree and how (see docs/ledger.md, "Verify").
 */
export async function verifyLedger(deps: LedgerVerifierDeps, tenantId: string, onProgress?: ProgressListener): Promise<LedgerVerification> {
  // Read before the receipts: every event at or before this position had its receipt committed with it.
  const builderPosition = await deps.repository.progress();
  const receipts = await deps.repository.receipts(tenantId);
  const events = await readTenant(deps.store, tenantId);
  const checkpoints = await deps.repository.checkpoints(tenantId);
  const chainFault = verifyChain(tenantId, receipts, events, { signer: deps.signer, onProgress });
  const tailFault = receiptsRemovedFromTheEnd(deps.signer, receipts, events, builderPosition) ?? copiesAfterTheEnd(receipts, events);
  const checkpointFault = firstBadCheckpoint(deps.keys, originOf(deps.instance, tenantId), receipts, checkpoints);
  const fault = [chainFault, tailFault, checkpointFault].filter((f): f is LedgerFault => f !== undefined).sort((a, b) => a.position - b.position)[0];
  return {
    ok: fault === undefined,
    tenantId,
    receipts: receipts.length,
    events: events.length,
    checkpoints: checkpoints.length,
    pendingEvents: Math.max(0, events.length - receipts.length),
    ...(fault ? { fault } : {}),
  };
}

async function readTenant(store: EventStore, tenantId: string): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  let position = START;
  for (;;) {
    const batch = await store.readAll(position, 1000, { tenantId });
    events.push(...batch);
    if (batch.length < 1000) return events;
    position = batch[batch.length - 1].position;
  }
}

export type ProgressListener = (checked: number, total: number) => void;

export interface ChainCheckOptions {
  /** Without a signer only hashes are checked (data hash, event hash, receipt hashes and links). */
  readonly signer?: EventSigner;
  readonly onProgress?: ProgressListener;
}

/**
 * The chain walk over receipts and events already in memory: the first receipt whose hash,
 * link, event or event signature does not hold. Exported for benchmarks and tools.
 */
export function verifyChain(tenantId: string, receipts: readonly StoredReceipt[], events: readonly RecordedEvent[], options: ChainCheckOptions = {}): LedgerFault | undefined {
  const { signer, onProgress } = options;
  for (let i = 0; i < receipts.length; i++) {
    if (i % 1000 === 0) onProgress?.(i, receipts.length);
    const receipt = receipts[i];
    const broken = brokenLink(tenantId, receipt, i, i === 0 ? GENESIS_PREV_HASH : receipts[i - 1].receiptHash);
    if (broken) return { kind: 'broken-chain', position: i, eventId: receipt.eventId, message: broken };
    const event = events[i];
    if (!event) return { kind: 'missing', position: i, eventId: receipt.eventId, message: `receipt ${i} names event ${receipt.eventId}, which the store no longer has` };
    const fault = event.envelope.id === receipt.eventId ? eventFault(signer, event, receipt, i) : misplaced(receipts, events, i);
    if (fault) return fault;
  }
  onProgress?.(receipts.length, receipts.length);
  return undefined;
}

/**
 * An event after the last receipt is normally just new (pending). If the builder has already
 * passed it, either it is a bad event the builder halted the tenant at (named by its own fault),
 * or its receipt existed and was removed — with every later one, or the chain would break.
 */
function receiptsRemovedFromTheEnd(signer: EventSigner, receipts: readonly StoredReceipt[], events: readonly RecordedEvent[], builderPosition: GlobalPosition): LedgerFault | undefined {
  const event = events[receipts.length];
  if (!event || comparePositions(event.position, builderPosition) > 0) return undefined;
  const own = signer.verifyStored(event);
  if (!own.valid) return { kind: faultKindOf(own.fault), position: receipts.length, eventId: event.storedAs.eventId, message: `the receipt builder halted this tenant here: ${own.message}` };
  return {
    kind: 'broken-chain',
    position: receipts.length,
    eventId: event.envelope.id,
    message: `event ${event.envelope.id} at ${formatPosition(event.position)} is behind the receipt builder (${formatPosition(builderPosition)}) but has no receipt: receipts from ${receipts.length} on were removed`,
  };
}

/**
 * An event after the last receipt whose id a receipt (or an earlier pending event) already bears is
 * not new: it is a second stored copy of a signed event. Its signature verifies, so only its id gives it away.
 */
function copiesAfterTheEnd(receipts: readonly StoredReceipt[], events: readonly RecordedEvent[]): LedgerFault | undefined {
  const seen = new Map(receipts.map((receipt, i) => [receipt.eventId, `receipt ${i}`]));
  for (let i = receipts.length; i < events.length; i++) {
    const eventId = events[i].envelope.id;
    const earlier = seen.get(eventId);
    if (earlier !== undefined) {
      return { kind: 'inserted', position: i, eventId, message: `event ${eventId} stands at ${i}, after the last receipt, but ${earlier} already names an event with this id: a copy was inserted` };
    }
    seen.set(eventId, `the pending event at ${i}`);
  }
  return undefined;
}

/** What is wrong with receipt `i` itself, judged only by the receipts: its hash, its link, its place. */
function brokenLink(tenantId: string, receipt: StoredReceipt, i: number, expectedPrev: string): string | undefined {
  if (receipt.sequence !== i || receipt.tenantId !== tenantId) return `receipt ${i} says it is sequence ${receipt.sequence} of tenant ${receipt.tenantId}`;
  const bytes = receiptBytes(receipt);
  if (sha256Hex(bytes) !== receipt.receiptHash) return `receipt ${i}: its fields do not hash to its receiptHash`;
  if (receipt.prevHash !== expectedPrev) return `receipt ${i}: prevHash ${receipt.prevHash} is not the hash of receipt ${i - 1}`;
  if (leafHash(bytes).toString('hex') !== receipt.leafHash) return `receipt ${i}: stored leaf hash is not SHA-256(0x00 || receipt)`;
  return undefined;
}

function eventFault(signer: EventSigner | undefined, event: RecordedEvent, receipt: StoredReceipt, i: number): LedgerFault | undefined {
  const eventId = event.envelope.id;
  const verification = signer ? signer.verifyStored(event) : filingOnly(event);
  if (!verification.valid) return { kind: faultKindOf(verification.fault), position: i, eventId, message: verification.message };
  if (eventHashOf(event) !== receipt.eventHash) return { kind: 'altered', position: i, eventId, message: `event ${eventId}: stored bytes do not hash to receipt ${i}'s eventHash` };
  if (formatPosition(event.position) !== receipt.position) {
    return { kind: 'reordered', position: i, eventId, message: `event ${eventId} is at ${formatPosition(event.position)}, receipt ${i} recorded ${receipt.position}` };
  }
  return undefined;
}

function faultKindOf(fault: VerificationFault): LedgerFaultKind {
  if (fault === 'not-canonical') return 'not-canonical';
  return fault === 'data-hash-mismatch' || fault === 'malformed' || fault === 'misfiled' ? 'altered' : 'bad-event-signature';
}

/**
 * Hash-only mode: the event hash (checked next) covers the stored bytes, data included, so only
 * the row's bytes (one canonical byte string of the v1 shape) and its filing are checked here.
 */
function filingOnly(event: RecordedEvent): Verification {
  const { envelope, storedAs } = event;
  const bytes = storedBytesFault(event);
  if (bytes) return { valid: false, fault: bytes.fault, message: bytes.message };
  return storedAs.eventId === envelope.id && storedAs.streamId === envelope.streamId && storedAs.tenantId === envelope.tenantId
    ? { valid: true }
    : { valid: false, fault: 'misfiled', message: `event ${envelope.id} is stored as event ${storedAs.eventId} of stream ${storedAs.streamId}` };
}

/** Receipt i and event i differ: was the receipted event removed, another inserted, or the two moved? */
function misplaced(receipts: readonly StoredReceipt[], events: readonly RecordedEvent[], i: number): LedgerFault {
  const receipt = receipts[i];
  const event = events[i];
  const eventIndex = events.findIndex((candidate) => candidate.envelope.id === receipt.eventId);
  if (eventIndex < 0) return { kind: 'missing', position: i, eventId: receipt.eventId, message: `receipt ${i} names event ${receipt.eventId}, which the store no longer has` };
  const hasReceipt = receipts.some((candidate) => candidate.eventId === event.envelope.id);
  if (!hasReceipt) return { kind: 'inserted', position: i, eventId: event.envelope.id, message: `event ${event.envelope.id} stands at ${i} but no receipt names it` };
  return { kind: 'reordered', position: i, eventId: event.envelope.id, message: `event ${event.envelope.id} stands at ${i}; receipt ${i} names event ${receipt.eventId}, found at ${eventIndex}` };
}

/** Checkpoints in increasing size: one pass of a Merkle accumulator gives every root they sign. */
function firstBadCheckpoint(keys: KeyRegistry, origin: string, receipts: readonly StoredReceipt[], checkpoints: readonly SignedCheckpoint[]): LedgerFault | undefined {
  const tree = new MerkleAccumulator();
  for (const checkpoint of [...checkpoints].sort((a, b) => a.treeSize - b.treeSize)) {
    const position = checkpoint.treeSize - 1;
    const bad = (message: string): LedgerFault => ({ kind: 'bad-checkpoint', position, message: `checkpoint of size ${checkpoint.treeSize}: ${message}` });
    const signature = verifyCheckpoint(keys, checkpoint, `checkpoint of size ${checkpoint.treeSize}`);
    if (!signature.valid) return bad(signature.message);
    if (checkpoint.origin !== origin) return bad(`origin ${checkpoint.origin} is not this log (${origin})`);
    if (checkpoint.treeSize > receipts.length) return bad(`covers ${checkpoint.treeSize} receipts, the chain has ${receipts.length}`);
    while (tree.size < checkpoint.treeSize) tree.append(leafHash(receiptBytes(receipts[tree.size])));
    const root = tree.root().toString('hex');
    if (root !== checkpoint.rootHash) return bad(`signed root ${checkpoint.rootHash}, the receipts give ${root}`);
  }
  return undefined;
}
