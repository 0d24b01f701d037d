import { MerkleAccumulator } from './accumulator';
import { requireCount, splitPoint } from './arith';
import { ProofError } from './errors';
import { HASH_SIZE } from './hashes';

export { MerkleAccumulator } from './accumulator';

/**
 * Proof construction over an in-memory list of *leaf hashes* (SHA-256(0x00 ‖ entry)), following
 * RFC 6962 §2.1.1–2.1.2 (= RFC 9162 §2.1.3.1, §2.1.4.1). Pure functions: nothing is cached, so
 * each proof costs O(treeSize) hashes and O(log treeSize) extra memory. That is fine for building
 * receipts in batches; a server answering many proofs over a large log should keep interior nodes.
 *
 * Proofs are always about a tree of an explicit size over a *prefix* of `leafHashes`, so a proof
 * for an older tree head can be produced from today's longer list.
 */

/** MTH(D[n]) of RFC 6962 §2.1; SHA-256("") for the empty list. O(n) hashes, O(log n) memory. */
export function rootFromLeafHashes(leafHashes: readonly Uint8Array[]): Buffer {
  return MerkleAccumulator.fromLeafHashes(leafHashes).root();
}

/**
 * PATH(index, D[treeSize]) of RFC 6962 §2.1.1: sibling hashes from the leaf upwards.
 * Requires 0 ≤ index < treeSize ≤ leafHashes.length; a tree of size 1 has the empty proof.
 */
export function inclusionProof(leafHashes: readonly Uint8Array[], index: number, treeSize: number): Buffer[] {
  requirePrefix(leafHashes, treeSize, 'tree size');
  if (!Number.isSafeInteger(index) || index < 0 || index >= treeSize) {
    throw new ProofError('bad-index', `index ${String(index)} is outside a tree of size ${treeSize}`, { index, treeSize });
  }
  // Walk down from the root; each step keeps the half holding `index` and records the other.
  const siblings: Buffer[] = [];
  let lo = 0;
  let hi = treeSize;
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (index < lo + k) {
      siblings.push(subtreeRoot(leafHashes, lo + k, hi));
      hi = lo + k;
    } else {
      siblings.push(subtreeRoot(leafHashes, lo, lo + k));
      lo += k;
    }
  }
  return siblings.reverse();
}

/**
 * PROOF(size1, D[size2]) of RFC 6962 §2.1.2. Requires 0 < size1 ≤ size2 ≤ leafHashes.length.
 * size1 = size2 gives the empty proof (SUBPROOF(m, D[m], true) = {}). size1 = 0 is rejected, as
 * the RFC defines PROOF only for 0 < m and transparency-dev/merkle refuses it ("consistency proof
 * from empty tree is meaningless"): every tree extends the empty one, so there is nothing to prove.
 */
export function consistencyProof(leafHashes: readonly Uint8Array[], size1: number, size2: number): Buffer[] {
  requireCount(size1, 'first size', 'bad-sizes');
  requirePrefix(leafHashes, size2, 'second size');
  if (size1 > size2) {
    throw new ProofError('bad-sizes', `first size ${size1} exceeds second size ${size2}`, { size1, size2 });
  }
  if (size1 === 0) {
    throw new ProofError('bad-sizes', `no consistency proof from an empty tree (sizes 0 and ${size2})`, { size1, size2 });
  }
  // Iterative SUBPROOF(m, D[lo:hi], b): the recursion is a tail call followed by appending one
  // subtree hash, so collect those hashes top-down and emit them bottom-up after the base case.
  const tail: Buffer[] = [];
  let head: Buffer | undefined;
  let lo = 0;
  let hi = size2;
  let known = true; // RFC's b: is MTH(D[lo:lo+m]) the old root the verifier already holds?
  for (;;) {
    if (size1 - lo === hi - lo) {
      if (!known) head = subtreeRoot(leafHashes, lo, hi);
      break;
    }
    const k = splitPoint(hi - lo);
    if (size1 - lo <= k) {
      tail.push(subtreeRoot(leafHashes, lo + k, hi));
      hi = lo + k;
    } else {
      tail.push(subtreeRoot(leafHashes, lo, lo + k));
      lo += k;
      known = false;
    }
  }
  tail.reverse();
  return head === undefined ? tail : [head, ...tail];
}

/** Checks size against the list and every hash in the prefix once, so the walk can trust them. */
function requirePrefix(leafHashes: readonly Uint8Array[], size: number, name: string): void {
  requireCount(size, name, 'bad-sizes');
  if (size > leafHashes.length) {
    throw new ProofError('bad-sizes', `${name} ${size} exceeds the ${leafHashes.length} leaf hashes given`, {
      size,
      available: leafHashes.length,
    });
  }
  for (let i = 0; i < size; i++) {
    if (leafHashes[i].length !== HASH_SIZE) {
      throw new ProofError('bad-hash', `leaf hash ${i} has ${leafHashes[i].length} bytes, expected ${HASH_SIZE}`, {
        index: i,
        bytes: leafHashes[i].length,
      });
    }
  }
}

/** MTH(D[lo:hi]) for 0 ≤ lo < hi, over hashes already validated by `requirePrefix`. */
function subtreeRoot(leafHashes: readonly Uint8Array[], lo: number, hi: number): Buffer {
  const acc = new MerkleAccumulator();
  for (let i = lo; i < hi; i++) acc.append(leafHashes[i]);
  return acc.root();
}
