import { MerkleAccumulator } from './merkle/accumulator';
import { GENESIS_PREV_HASH } from './receipt';

/** What the builder keeps per tenant between batches: the chain's head and its running Merkle root. */
export class TenantChain {
  constructor(
    readonly tenantId: string,
    readonly tree: MerkleAccumulator,
    public lastReceiptHash: string,
    public checkpointedSize: number,
    public checkpointedAt: number,
    /** Receipts since the last checkpoint that are not themselves checkpoints: what makes a new one due. */
    public activity: number,
  ) {}

  /** A head the in-memory tree is known to extend (the last one this builder signed or proved from the kept head). */
  anchor?: { readonly treeSize: number; readonly rootHash: string };

  static empty(tenantId: string, now: number): TenantChain {
    return new TenantChain(tenantId, new MerkleAccumulator(), GENESIS_PREV_HASH, 0, now, 0);
  }

  get size(): number {
    return this.tree.size;
  }

  isCheckpointDue(every: number, intervalMs: number, now: number): boolean {
    return this.activity > 0 && (this.activity >= every || now - this.checkpointedAt >= intervalMs);
  }
}
