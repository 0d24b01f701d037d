import { canonicalJson, type EventSignature } from '../../contracts';

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

export interface SignedCheckpoint extends CheckpointBody {
  readonly signature: EventSignature;
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

/** The exact bytes a checkpoint signature covers: the RFC 8785 JSON of the four body fields. */
export function checkpointBytes(body: CheckpointBody): Buffer {
  const { origin, treeSize, rootHash, issuedAt } = body;
  return Buffer.from(canonicalJson({ origin, treeSize, rootHash, issuedAt }), 'utf8');
}
