import { half, isOdd, isPowerOfTwo, requireCount } from './arith';
import { ProofError } from './errors';
import { HASH_SIZE, nodeHash } from './hashes';

/**
 * Proof verification exactly as the RFC 9162 algorithms are written (§2.1.3.2 inclusion,
 * §2.1.4.2 consistency): walk (fn, sn) = (node index, last index) up the tree, one proof hash per
 * level that has a sibling. Before any hashing the proof length is checked against the length
 * the same walk implies, so a malformed proof is reported as 'wrong-length' with both numbers
 * rather than as a confusing root mismatch.
 *
 * Order of checks (and so which `kind` a doubly-broken input gets): sizes/index, then the leaf
 * hash or first root, then proof length, then proof hash lengths, then (consistency) the first
 * root, then the expected root's length and value.
 * All hashes must be exactly 32 bytes: a root of any other length can never be a valid
 * SHA-256 tree head, so it is rejected as 'bad-hash' even where the proof would be empty.
 */

/**
 * The root a tree of size `treeSize` must have if `proof` is the inclusion proof of `leafHash`
 * at `index`. Throws ProofError unless 0 ≤ index < treeSize and the proof is well-formed.
 */
export function rootFromInclusionProof(leafHash: Uint8Array, index: number, treeSize: number, proof: readonly Uint8Array[]): Buffer {
  requireCount(treeSize, 'tree size', 'bad-sizes');
  if (!Number.isSafeInteger(index) || index < 0 || index >= treeSize) {
    throw new ProofError('bad-index', `index ${String(index)} is outside a tree of size ${treeSize}`, { index, treeSize });
  }
  requireHash(leafHash, 'leaf hash');
  const needed = walkLength(index, treeSize - 1);
  if (proof.length !== needed) {
    throw new ProofError('wrong-length', `inclusion proof for leaf ${index} has ${proof.length} hashes, tree of size ${treeSize} needs ${needed}`, {
      index,
      treeSize,
      actual: proof.length,
      needed,
    });
  }
  proof.forEach((h, i) => requireHash(h, `inclusion proof hash ${i}`));

  let fn = index;
  let sn = treeSize - 1;
  let r: Buffer = Buffer.from(leafHash);
  for (const p of proof) {
    if (isOdd(fn) || fn === sn) {
      r = nodeHash(p, r);
      // Step 4.b.ii. Once fn = sn every later hash is a left sibling anyway, so with the length
      // fixed up front this only keeps (fn, sn) in step with the RFC (walkLength counts with it).
      while (!isOdd(fn) && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else {
      r = nodeHash(r, p);
    }
    [fn, sn] = [half(fn), half(sn)];
  }
  return r;
}

/** Throws ProofError unless `proof` proves `leafHash` sits at `index` in the tree with `root`. */
export function verifyInclusion(leafHash: Uint8Array, index: number, treeSize: number, proof: readonly Uint8Array[], root: Uint8Array): void {
  const computed = rootFromInclusionProof(leafHash, index, treeSize, proof);
  requireHash(root, 'root');
  if (!computed.equals(root)) {
    throw new ProofError('root-mismatch', `inclusion proof for leaf ${index} in a tree of size ${treeSize} gives root ${computed.toString('hex')}, expected ${Buffer.from(root).toString('hex')}`, {
      index,
      treeSize,
    });
  }
}

/**
 * The root of the tree of size `size2` implied by `proof`, after checking that the proof also
 * reproduces `root1` for size1. Requires 0 < size1 ≤ size2; size1 = size2 needs the empty proof
 * and returns root1. size1 = 0 is rejected ('bad-sizes'): RFC 9162 defines consistency proofs for
 * 0 < m only and transparency-dev/merkle refuses them, since any tree extends the empty one.
 */
export function rootFromConsistencyProof(size1: number, size2: number, root1: Uint8Array, proof: readonly Uint8Array[]): Buffer {
  requireCount(size1, 'first size', 'bad-sizes');
  requireCount(size2, 'second size', 'bad-sizes');
  if (size1 > size2) {
    throw new ProofError('bad-sizes', `first size ${size1} exceeds second size ${size2}`, { size1, size2 });
  }
  if (size1 === 0) {
    throw new ProofError('bad-sizes', `no consistency proof from an empty tree (sizes 0 and ${size2})`, { size1, size2 });
  }
  requireHash(root1, 'first root');

  // Step 2 prepends root1 when size1 is a power of two; step 4 drops the levels where the old
  // tree's last node is a right child, as those hashes are shared by both trees.
  const prepend = isPowerOfTwo(size1);
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (isOdd(fn)) [fn, sn] = [half(fn), half(sn)];
  const needed = size1 === size2 ? 0 : (prepend ? 0 : 1) + walkLength(fn, sn);
  if (proof.length !== needed) {
    throw new ProofError('wrong-length', `consistency proof has ${proof.length} hashes, sizes ${size1} and ${size2} need ${needed}`, {
      size1,
      size2,
      actual: proof.length,
      needed,
    });
  }
  proof.forEach((h, i) => requireHash(h, `consistency proof hash ${i}`));
  if (size1 === size2) return Buffer.from(root1);

  const path = prepend ? [root1, ...proof] : proof;
  let fr: Buffer = Buffer.from(path[0]);
  let sr: Buffer = fr;
  for (const c of path.slice(1)) {
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (!isOdd(fn) && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else {
      sr = nodeHash(sr, c);
    }
    [fn, sn] = [half(fn), half(sn)];
  }
  if (!fr.equals(root1)) {
    throw new ProofError('root-mismatch', `consistency proof from size ${size1} to ${size2} gives first root ${fr.toString('hex')}, expected ${Buffer.from(root1).toString('hex')}`, {
      size1,
      size2,
    });
  }
  return sr;
}

/** Throws ProofError unless the tree (size2, root2) is an append-only extension of (size1, root1). */
export function verifyConsistency(size1: number, size2: number, root1: Uint8Array, root2: Uint8Array, proof: readonly Uint8Array[]): void {
  const computed = rootFromConsistencyProof(size1, size2, root1, proof);
  requireHash(root2, 'second root');
  if (!computed.equals(root2)) {
    throw new ProofError('root-mismatch', `consistency proof from size ${size1} to ${size2} gives second root ${computed.toString('hex')}, expected ${Buffer.from(root2).toString('hex')}`, {
      size1,
      size2,
    });
  }
}

/** Boolean form of `verifyInclusion`: false for any ProofError; other errors (bugs) propagate. */
export function isValidInclusion(leafHash: Uint8Array, index: number, treeSize: number, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  return holds(() => verifyInclusion(leafHash, index, treeSize, proof, root));
}

/** Boolean form of `verifyConsistency`: false for any ProofError; other errors propagate. */
export function isValidConsistency(size1: number, size2: number, root1: Uint8Array, root2: Uint8Array, proof: readonly Uint8Array[]): boolean {
  return holds(() => verifyConsistency(size1, size2, root1, root2, proof));
}

/**
 * How many proof hashes the RFC 9162 walk consumes from (fn, sn) until sn reaches 0: one per
 * level, except that once fn is on the right border (fn = sn) the levels where it has no right
 * sibling are skipped. Running the walk without hashing keeps the count and the check in step.
 */
function walkLength(fn: number, sn: number): number {
  let count = 0;
  while (sn > 0) {
    count += 1;
    if (fn === sn) while (!isOdd(fn) && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    [fn, sn] = [half(fn), half(sn)];
  }
  return count;
}

function requireHash(hash: Uint8Array, name: string): void {
  if (hash.length !== HASH_SIZE) {
    throw new ProofError('bad-hash', `${name} has ${hash.length} bytes, expected ${HASH_SIZE}`, { bytes: hash.length });
  }
}

function holds(check: () => void): boolean {
  try {
    check();
    return true;
  } catch (err) {
    if (err instanceof ProofError) return false;
    throw err;
  }
}
