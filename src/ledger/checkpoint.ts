import { canonicalJson, type EventSignature, type SignatureAlgorithm } from '../../contracts';

export const CHECKPOINT_EVENT_TYPE = 'ledger.checkpoint-issued';

/** A signed tree head: this tenant's log of `treeSize` receipts has this root. See docs/ledger.md. */
export interface CheckpointBody {
  /** `<instance>/<tenantId>`: names the log, so a head of one log never passes for another's. */
  readonly origin: string;
  readonly treeSize: number;
  /** RFC 6962 Merkle tree hash over the first treeSize receipts, hex. */
  readonly rootHash: string;
  readonly issuedAt: string;
}

/** A checkpoint's signature: an event signature's alg, keyId and value, and (version 2) its purpose. */
export interface CheckpointSignature {
  readonly alg: SignatureAlgorithm;
  readonly keyId: string;
  readonly value: string;
  /** `proofline.checkpoint.v2` on every checkpoint issued since ADR 0005 covered checkpoints; absent on version 1. */
  readonly purpose?: typeof CHECKPOINT_SIGNATURE_PURPOSE;
}

export interface SignedCheckpoint extends CheckpointBody {
  readonly signature: CheckpointSignature;
  /**
   * The same head as a C2SP signed note (tlog-checkpoint): origin, size and base64 root, the log's
   * note signature line, and the witnesses' cosignature lines (docs/ledger.md, "Witnesses").
   * Absent for checkpoints issued before notes were written. Not covered by `signature`.
   */
  readonly note?: string;
}

export function originOf(instance: string, tenantId: string): string {
  return `${instance}/${tenantId}`;
}

/** Marks a version 2 checkpoint signature (every checkpoint issued since): its purpose, signer and algorithm are signed. */
export const CHECKPOINT_SIGNATURE_PURPOSE = 'proofline.checkpoint.v2';

/** Who signs, as a version 2 body states it. */
export interface CheckpointSigner {
  readonly alg: SignatureAlgorithm;
  readonly keyId: string;
}

/**
 * The exact bytes a checkpoint signature covers (ADR 0005):
 * - version 2 (`signature.purpose` is `proofline.checkpoint.v2`): the RFC 8785 JSON of
 *   `{type: "proofline.checkpoint.v2", alg, keyId, origin, treeSize, rootHash, issuedAt}`, so the
 *   signature says what it is and which key and algorithm made it;
 * - version 1 (no purpose; checkpoints issued before): the RFC 8785 JSON of the four body fields.
 * Undefined for any other purpose: such a signature is not a checkpoint's, and never verifies.
 */
export function checkpointBytes(checkpoint: CheckpointBody & { readonly signature?: Pick<EventSignature, 'alg' | 'keyId'> & { readonly purpose?: string } }): Buffer | undefined {
  const purpose = checkpoint.signature?.purpose;
  if (purpose === undefined) {
    const { origin, treeSize, rootHash, issuedAt } = checkpoint;
    return Buffer.from(canonicalJson({ origin, treeSize, rootHash, issuedAt }), 'utf8');
  }
  if (purpose !== CHECKPOINT_SIGNATURE_PURPOSE) return undefined;
  return checkpointSigningInput(checkpoint, checkpoint.signature!);
}

/** What a new checkpoint is signed over: the version 2 body, stating its signer. */
export function checkpointSigningInput(body: CheckpointBody, signer: CheckpointSigner): Buffer {
  const { origin, treeSize, rootHash, issuedAt } = body;
  return Buffer.from(canonicalJson({ type: CHECKPOINT_SIGNATURE_PURPOSE, alg: signer.alg, keyId: signer.keyId, origin, treeSize, rootHash, issuedAt }), 'utf8');
}
