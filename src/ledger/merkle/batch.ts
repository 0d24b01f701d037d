import { nodeHash } from './hashes';
import { splitPoint } from './arith';

export interface BatchTree {
  readonly root: Buffer;
  /** proofs[i] is the RFC 6962 inclusion proof of leaf i, the same as inclusionProof(leaves, i, n). */
  readonly proofs: Buffer[][];
}

/**
 * The root and every leaf's inclusion proof in one pass over the RFC 6962 recursion: O(n log n)
 * hashes and proof entries, where calling inclusionProof per leaf would cost O(n²).
 * Precondition: at least one leaf hash.
 */
export function batchTree(leafHashes: readonly Buffer[]): BatchTree {
  if (leafHashes.length === 0) throw new RangeError('a batch tree needs at least one leaf');
  return subtree(leafHashes, 0, leafHashes.length);
}

function subtree(leaves: readonly Buffer[], start: number, size: number): BatchTree {
  if (size === 1) return { root: leaves[start], proofs: [[]] };
  const k = splitPoint(size);
  const left = subtree(leaves, start, k);
  const right = subtree(leaves, start + k, size - k);
  // A leaf's path runs from its sibling upwards, so the other half's root comes last.
  for (const proof of left.proofs) proof.push(right.root);
  for (const proof of right.proofs) proof.push(left.root);
  return { root: nodeHash(left.root, right.root), proofs: [...left.proofs, ...right.proofs] };
}
