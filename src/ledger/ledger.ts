import type { Knex } from 'knex';
import { ProoflineError } from '../errors/proofline-error';
import type { EventStore } from '../eventstore/event-store.port';
import type { EventSigner } from '../signing/event-signer';
import type { KeyRegistry } from '../signing/key-registry';
import type { SignedCheckpoint } from './checkpoint';
import { LedgerRepository } from './ledger-repository';
import { verifyLedger, type LedgerVerification } from './ledger-verifier';
import { consistencyProof, inclusionProof, rootFromLeafHashes } from './merkle/tree';
import { ReceiptBuilder, type LedgerSettings } from './receipt-builder';
import { RECEIPT_DOCUMENT_FORMAT, type ReceiptDocument } from './receipt-document';

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
    this.repository = new LedgerRepository(knex);
    this.builder = new ReceiptBuilder(knex, store, signer, keys, settings);
  }

  async checkpoint(tenantId: string): Promise<SignedCheckpoint> {
    const latest = await this.repository.latestCheckpoint(tenantId);
    if (!latest) throw notAnchored(tenantId);
    const { eventId: _eventId, ...checkpoint } = latest;
    return checkpoint;
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
    return {
      fromSize,
      toSize,
      fromRoot: rootFromLeafHashes(leaves.slice(0, fromSize)).toString('hex'),
      toRoot: rootFromLeafHashes(leaves).toString('hex'),
      hashes: consistencyProof(leaves, fromSize, toSize).map(hex),
    };
  }

  async receiptDocument(tenantId: string, sequence: number): Promise<ReceiptDocument> {
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
    return {
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
    const before = prepare > 0n ? { commit, prepare: prepare - 1n } : { commit: commit - 1n, prepare: 0n };
    const [event] = await this.store.readAll(before, 1, { tenantId });
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
