import type { Knex } from 'knex';
import { streamIdFor } from '../commands/stream-id';
import { ProoflineError } from '../errors/proofline-error';
import type { EventStore } from '../eventstore/event-store.port';
import type { EventSigner } from '../signing/event-signer';
import type { KeyRegistry } from '../signing/key-registry';
import { originOf, type SignedCheckpoint } from './checkpoint';
import { LedgerRepository, type StoredCheckpoint, type TenantHalt } from './ledger-repository';
import { verifyLedger, type LedgerVerification } from './ledger-verifier';
import { consistencyProof, inclusionProof, rootFromLeafHashes } from './merkle/tree';
import { ReceiptBuilder, type ForkRefusal, type LedgerSettings } from './receipt-builder';
import { SignedHeads, type KeptHead } from './signed-heads';
import { presentCheckpoint } from './note/checkpoint-note';
import { RECEIPT_DOCUMENT_FORMAT, type ReceiptDocument } from './receipt-document';
import { requestCosignature, type WitnessEndpoint } from './witness/witness-client';

export interface InclusionProofView {
  readonly leafIndex: number;
  readonly treeSize: number;
  readonly rootHash: string;
  readonly hashes: string[];
}

export interface ConsistencyProofView {
  readonly fromSize: number;
  readonly toSize: number;
  readonly fromRoot: string;
  readonly toRoot: string;
  readonly hashes: string[];
  /**
   * The signed heads of exactly these sizes, or null where none was issued. The roots above are
   * computed by the server: an auditor trusts only a signed head, or better the one they kept.
   */
  readonly fromCheckpoint: SignedCheckpoint | null;
  readonly toCheckpoint: SignedCheckpoint | null;
}

export interface LedgerStatus {
  readonly tenantId: string;
  readonly receipts: number;
  readonly latestCheckpoint: SignedCheckpoint | null;
  /**
   * running; halted: this tenant's receipts stopped at a bad event (halt says which); fork-refused:
   * the signer will not sign this tenant's tree (forkRefused has both heads); stalled: the shared
   * builder's last round failed for a reason that may concern another tenant (not given here).
   */
  readonly builder: 'running' | 'halted' | 'fork-refused' | 'stalled';
  readonly halt?: TenantHalt;
  readonly forkRefused?: ForkRefusal;
}

export interface WitnessOutcome {
  readonly witness: string;
  readonly ok: boolean;
  readonly message: string;
}

export interface WitnessRound {
  readonly treeSize: number;
  readonly outcomes: readonly WitnessOutcome[];
}

/** Receipts found by event or approval: where each one's document is. */
export interface ReceiptListing {
  readonly data: ReadonlyArray<{ sequence: number; eventId: string; eventType?: string; receiptHash: string; document: string }>;
  readonly hasMore: false;
  readonly nextCursor: null;
}

const notAnchored = (tenantId: string) => new ProoflineError('LEDGER.NO_CHECKPOINT', `tenant ${tenantId} has no signed checkpoint yet`, 404, { tenantId });

/** The ledger's read side (checkpoints, proofs, receipt documents, verify) and its builder. */
export class Ledger {
  readonly repository: LedgerRepository;
  readonly builder: ReceiptBuilder;

  constructor(
    knex: Knex,
    private readonly store: EventStore,
    private readonly signer: EventSigner,
    private readonly keys: KeyRegistry,
    readonly settings: LedgerSettings,
  ) {
    this.repository = new LedgerRepository(knex, store);
    this.builder = new ReceiptBuilder(knex, store, signer, keys, settings);
  }

  /**
   * Where an event's receipt is: by event id, or every receipt of an approval's events (its value
   * definition's stream, `valuedef-<tenant>.<approvalId>`), in ledger order. The documents are at
   * GET /ledger/:tenant/receipts/:sequence. Only this tenant's receipts are ever found.
   */
  async findReceipts(tenantId: string, by: { eventId?: string; approvalId?: string }): Promise<ReceiptListing> {
    // The stream id holds the tenant: another tenant's approval id names a stream this tenant does not have.
    const approvalEvents = by.approvalId === undefined ? [] : await this.store.readStream(streamIdFor('valuedef', tenantId, by.approvalId));
    const eventIds = by.eventId !== undefined ? [by.eventId] : approvalEvents.map((event) => event.envelope.id);
    const receipts = await this.repository.receiptsOfEvents(tenantId, eventIds);
    const types = new Map(approvalEvents.map((event) => [event.envelope.id, event.envelope.type]));
    return {
      data: receipts.map((receipt) => ({ sequence: receipt.sequence, eventId: receipt.eventId, ...(types.has(receipt.eventId) ? { eventType: types.get(receipt.eventId)! } : {}), receiptHash: receipt.receiptHash, document: `/ledger/${tenantId}/receipts/${receipt.sequence}` })),
      hasMore: false,
      nextCursor: null,
    };
  }

  async checkpoint(tenantId: string): Promise<SignedCheckpoint> {
    const latest = await this.repository.latestCheckpoint(tenantId);
    if (!latest) throw notAnchored(tenantId);
    return (await this.present(tenantId, [latest]))[0];
  }

  /** Checkpoints as served: each with its signed note and the witnesses' cosignatures stored with it. */
  private async present(tenantId: string, stored: readonly StoredCheckpoint[]): Promise<SignedCheckpoint[]> {
    const cosignatures = stored.some((checkpoint) => checkpoint.noteSignature) ? await this.repository.cosignatures(tenantId, stored.map((c) => c.treeSize)) : new Map();
    return stored.map((checkpoint) => presentCheckpoint(checkpoint, cosignatures.get(checkpoint.treeSize)));
  }

  /**
   * Asks each witness to cosign the tenant's latest checkpoint (tlog-witness add-checkpoint, with
   * the consistency proof from the size the witness last cosigned), and stores each cosignature
   * that verifies with the witness's key. A witness that refuses — it holds another history, or
   * is down — is reported and nothing is stored for it; the others go on.
   */
  async witness(tenantId: string, witnesses: readonly WitnessEndpoint[]): Promise<WitnessRound> {
    const latest = await this.repository.latestCheckpoint(tenantId);
    if (!latest) throw notAnchored(tenantId);
    if (!latest.noteSignature) throw new ProoflineError('LEDGER.NO_NOTE', `the latest checkpoint of tenant ${tenantId} (size ${latest.treeSize}) was issued before checkpoints were signed notes: witnesses can cosign the next one`, 409, { treeSize: latest.treeSize });
    const note = presentCheckpoint(latest).note;
    // A row whose head cannot be written as a note (a planted root that is not hex, an origin with a space): nothing to show witnesses.
    if (note === undefined) {
      throw new ProoflineError('LEDGER.NOT_A_NOTE', `the latest checkpoint of tenant ${tenantId} (size ${latest.treeSize}) cannot be written as a signed note (its origin or root is not what Proofline signs); no witness was asked. Run 'proofline ledger verify --tenant ${tenantId}'`, 409, { treeSize: latest.treeSize });
    }
    let leaves: Buffer[] | undefined;
    const proofFrom = async (from: number) => {
      if (from === 0 || from >= latest.treeSize) return [];
      leaves ??= await this.repository.leafHashes(tenantId, latest.treeSize);
      return consistencyProof(leaves, from, latest.treeSize);
    };
    const outcomes: WitnessOutcome[] = [];
    for (const endpoint of witnesses) {
      const name = endpoint.vkey.name;
      const keyId = endpoint.vkey.keyId.toString('hex');
      const from = await this.repository.lastCosignedSize(tenantId, name, keyId);
      const answer = await requestCosignature(endpoint, note, Math.min(from, latest.treeSize), proofFrom);
      if (!answer.ok) {
        outcomes.push({ witness: name, ok: false, message: answer.message });
        continue;
      }
      await this.repository.insertCosignature({ tenantId, treeSize: latest.treeSize, witnessName: name, keyId, signature: answer.signature, cosignedAt: answer.cosignedAt });
      outcomes.push({ witness: name, ok: true, message: `cosigned size ${latest.treeSize} (from size ${answer.oldSize})` });
    }
    return { treeSize: latest.treeSize, outcomes };
  }

  /** The tenant's ledger status; `sharedError` is the builder round's last error (LedgerRunner.lastError). */
  async status(tenantId: string, sharedError?: string): Promise<LedgerStatus> {
    const [receipts, latest, halt] = await Promise.all([this.repository.size(tenantId), this.repository.latestCheckpoint(tenantId), this.repository.halt(tenantId)]);
    const forkRefused = this.builder.forkRefusal(tenantId);
    const builder = halt ? 'halted' : forkRefused ? 'fork-refused' : sharedError ? 'stalled' : 'running';
    const latestCheckpoint = latest ? (await this.present(tenantId, [latest]))[0] : null;
    return { tenantId, receipts, latestCheckpoint, builder, ...(halt ? { halt } : {}), ...(forkRefused ? { forkRefused } : {}) };
  }

  /**
   * The operator's explicit rewind after a legitimate restore from backup (docs/ledger.md): the
   * tree the database holds now becomes the head later checkpoints must extend, although it does
   * not extend the last one signed. `expectedRoot` must be that tree's root, as the operator read
   * it from the LEDGER.FORK_REFUSED alert, so a rewind never accepts a tree nobody looked at.
   * Needs the data dir that holds the signing key (the heads live beside it).
   */
  async rewindSigner(tenantId: string, expectedRoot: string, reason: string, now = new Date()): Promise<{ gaveUp?: KeptHead; accepted: KeptHead }> {
    const size = await this.repository.size(tenantId);
    const root = rootFromLeafHashes(await this.repository.leafHashes(tenantId, size)).toString('hex');
    if (root !== expectedRoot) {
      throw new ProoflineError('LEDGER.REWIND_MISMATCH', `the database's tree of tenant ${tenantId} has size ${size} and root ${root}, not ${expectedRoot}: nothing was changed`, 409, { treeSize: size, rootHash: root });
    }
    const accepted: KeptHead = { origin: originOf(this.settings.instance, tenantId), treeSize: size, rootHash: root };
    // The store's checkpoints beyond the accepted tree belong to the history given up: recorded by size and root, never judged again.
    const givenUp = (await this.repository.largestCheckpoints(tenantId, size, 1_000_000)).map(({ treeSize, rootHash }) => ({ treeSize, rootHash }));
    const gaveUp = SignedHeads.beside(this.keys, this.settings.headsDirectory).rewind(accepted, reason, now, givenUp);
    return { ...(gaveUp ? { gaveUp } : {}), accepted };
  }

  async inclusion(tenantId: string, sequence: number, treeSize?: number): Promise<InclusionProofView> {
    const size = treeSize ?? (await this.checkpoint(tenantId)).treeSize;
    const available = await this.repository.size(tenantId);
    if (size > available) throw outOfRange('treeSize', `treeSize ${size} is larger than the ledger of tenant ${tenantId} (${available} receipts)`);
    if (sequence >= size) throw outOfRange('seq', `receipt ${sequence} is not in a tree of size ${size}`);
    const leaves = await this.repository.leafHashes(tenantId, size);
    return { leafIndex: sequence, treeSize: size, rootHash: rootFromLeafHashes(leaves).toString('hex'), hashes: inclusionProof(leaves, sequence, size).map(hex) };
  }

  async consistency(tenantId: string, fromSize: number, toSize: number): Promise<ConsistencyProofView> {
    const available = await this.repository.size(tenantId);
    if (toSize > available) throw outOfRange('to', `to ${toSize} is larger than the ledger of tenant ${tenantId} (${available} receipts)`);
    if (fromSize > toSize) throw outOfRange('from', `from ${fromSize} is larger than to ${toSize}`);
    const leaves = await this.repository.leafHashes(tenantId, toSize);
    const stored = (await this.repository.checkpoints(tenantId)).filter((checkpoint) => checkpoint.treeSize === fromSize || checkpoint.treeSize === toSize);
    const signed = new Map((await this.present(tenantId, stored)).map((checkpoint) => [checkpoint.treeSize, checkpoint]));
    return {
      fromSize,
      toSize,
      fromRoot: rootFromLeafHashes(leaves.slice(0, fromSize)).toString('hex'),
      toRoot: rootFromLeafHashes(leaves).toString('hex'),
      hashes: consistencyProof(leaves, fromSize, toSize).map(hex),
      fromCheckpoint: signed.get(fromSize) ?? null,
      toCheckpoint: signed.get(toSize) ?? null,
    };
  }

  /** Every signed head of the tenant, smallest first: what auditors archive (a page of at most `limit` after size `after`). */
  async checkpoints(tenantId: string, after = 0, limit = 1000): Promise<SignedCheckpoint[]> {
    return this.present(tenantId, (await this.repository.checkpoints(tenantId)).filter((checkpoint) => checkpoint.treeSize > after).slice(0, limit));
  }

  /** With `since` (the size of a checkpoint the auditor kept): also the consistency proof from it to the document's checkpoint. */
  async receiptDocument(tenantId: string, sequence: number, since?: number): Promise<ReceiptDocument> {
    const stored = await this.repository.receipt(tenantId, sequence);
    if (!stored) throw new ProoflineError('LEDGER.NO_SUCH_RECEIPT', `tenant ${tenantId} has no receipt ${sequence}`, 404, { sequence });
    const checkpoint = await this.checkpoint(tenantId);
    if (sequence >= checkpoint.treeSize) {
      throw new ProoflineError('LEDGER.NOT_YET_ANCHORED', `receipt ${sequence} is newer than the latest checkpoint (size ${checkpoint.treeSize}); the next checkpoint covers it, issued within ${Math.ceil(this.settings.checkpointIntervalMs / 1000)} s of new activity (a checkpoint's own receipt waits for the tenant's next event)`, 409, {
        sequence,
        latestTreeSize: checkpoint.treeSize,
      });
    }
    const proof = await this.inclusion(tenantId, sequence, checkpoint.treeSize);
    const event = (await this.eventById(tenantId, stored.eventId, stored.position));
    const keyIds = new Set([event.metadata.signature.keyId, checkpoint.signature.keyId]);
    const { leafHash: _leaf, ...receipt } = stored;
    if (since !== undefined && since > checkpoint.treeSize) throw outOfRange('since', `since ${since} is larger than the latest checkpoint (size ${checkpoint.treeSize})`);
    const consistency = since === undefined ? undefined : { fromSize: since, hashes: (await this.consistency(tenantId, since, checkpoint.treeSize)).hashes };
    return {
      ...(consistency ? { consistency } : {}),
      format: RECEIPT_DOCUMENT_FORMAT,
      receipt,
      event,
      inclusionProof: { leafIndex: proof.leafIndex, treeSize: proof.treeSize, hashes: proof.hashes },
      checkpoint,
      keys: this.keys.published().filter((key) => keyIds.has(key.keyId)).map(({ keyId, alg, publicKeyPem, certificatePem }) => ({ keyId, alg, publicKeyPem, certificatePem })),
    };
  }

  verify(tenantId: string, onProgress?: (checked: number, total: number) => void): Promise<LedgerVerification> {
    return verifyLedger({ instance: this.settings.instance, store: this.store, repository: this.repository, signer: this.signer, keys: this.keys }, tenantId, onProgress);
  }

  private async eventById(tenantId: string, eventId: string, position: string) {
    const [commit, prepare] = position.split('/').map(BigInt);
    // From the event's own position: one just before it is no event's, which EventStoreDB refuses.
    const [event] = await this.store.readAll({ commit, prepare }, 1, { tenantId, includeFrom: true });
    if (!event || event.envelope.id !== eventId) {
      throw new ProoflineError('LEDGER.EVENT_MISSING', `receipt names event ${eventId} at ${position}, which the store does not hold there; run verify`, 409, { eventId });
    }
    return event.envelope;
  }
}

function hex(buffer: Buffer): string {
  return buffer.toString('hex');
}

function outOfRange(field: string, message: string): ProoflineError {
  return new ProoflineError('LEDGER.OUT_OF_RANGE', message, 422, { fields: [{ field, rule: 'range', message }] });
}
