import {
  consistencyProof,
  emptyRoot,
  inclusionProof,
  isValidConsistency,
  isValidInclusion,
  leafHash,
  MerkleAccumulator,
  nodeHash,
  ProofError,
  rootFromConsistencyProof,
  rootFromInclusionProof,
  rootFromLeafHashes,
  verifyConsistency,
  verifyInclusion,
} from '../../../../src/ledger/merkle';

const hashes = Array.from({ length: 16 }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));
const root = (n: number): Buffer => rootFromLeafHashes(hashes.slice(0, n));
const h = (label: string): Buffer => leafHash(Buffer.from(label));

/** Runs `fn`, expecting a ProofError of `kind` whose message is exactly `message`. */
function expectProofError(fn: () => unknown, kind: string, message: string | RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ProofError);
  expect((caught as ProofError).kind).toBe(kind);
  if (typeof message === 'string') expect((caught as ProofError).message).toBe(message);
  else expect((caught as ProofError).message).toMatch(message);
}

describe('Merkle edge cases', () => {
  describe('size 0', () => {
    it('the empty tree has root SHA-256("") in every constructor', () => {
      expect(rootFromLeafHashes([])).toEqual(emptyRoot());
      expect(new MerkleAccumulator().root()).toEqual(emptyRoot());
      expect(new MerkleAccumulator().size).toBe(0);
      expect(MerkleAccumulator.restore(0, []).root()).toEqual(emptyRoot());
    });

    it('has no leaves to prove', () => {
      expectProofError(() => inclusionProof(hashes, 0, 0), 'bad-index', 'index 0 is outside a tree of size 0');
      expectProofError(() => verifyInclusion(hashes[0], 0, 0, [], emptyRoot()), 'bad-index', 'index 0 is outside a tree of size 0');
    });
  });

  describe('size 1', () => {
    it('the root is the leaf hash and the proof is empty', () => {
      expect(root(1)).toEqual(hashes[0]);
      expect(inclusionProof(hashes, 0, 1)).toEqual([]);
      expect(rootFromInclusionProof(hashes[0], 0, 1, [])).toEqual(hashes[0]);
      verifyInclusion(hashes[0], 0, 1, [], hashes[0]);
    });

    it('but not the empty root, nor with any proof hash', () => {
      expectProofError(() => verifyInclusion(hashes[0], 0, 1, [], emptyRoot()), 'root-mismatch', `inclusion proof for leaf 0 in a tree of size 1 gives root ${hashes[0].toString('hex')}, expected ${emptyRoot().toString('hex')}`);
      expectProofError(() => verifyInclusion(hashes[0], 0, 1, [hashes[0]], hashes[0]), 'wrong-length', 'inclusion proof for leaf 0 has 1 hashes, tree of size 1 needs 0');
    });
  });

  describe('consistency m = n', () => {
    it('is the empty proof, valid iff the roots are equal', () => {
      for (const n of [1, 2, 7, 16]) {
        expect(consistencyProof(hashes, n, n)).toEqual([]);
        verifyConsistency(n, n, root(n), root(n), []);
        expect(rootFromConsistencyProof(n, n, root(n), [])).toEqual(root(n));
      }
      expectProofError(() => verifyConsistency(5, 5, root(5), root(4), []), 'root-mismatch', /^consistency proof from size 5 to 5 gives second root/);
      expectProofError(() => verifyConsistency(5, 5, root(5), root(5), [root(5)]), 'wrong-length', 'consistency proof has 1 hashes, sizes 5 and 5 need 0');
    });
  });

  describe('consistency from the empty tree (m = 0)', () => {
    // RFC 6962 §2.1.2 / RFC 9162 §2.1.4 define PROOF(m, D[n]) for 0 < m < n only (plus the empty
    // m = n subproof), and transparency-dev/merkle rejects size1 = 0 in both proof.Consistency and
    // proof.VerifyConsistency, even for 0 → 0. Proofline follows it: every tree trivially extends
    // the empty tree, so such a "proof" would only hide a lost or defaulted size.
    it('cannot be built', () => {
      expectProofError(() => consistencyProof(hashes, 0, 5), 'bad-sizes', 'no consistency proof from an empty tree (sizes 0 and 5)');
      expectProofError(() => consistencyProof(hashes, 0, 0), 'bad-sizes', 'no consistency proof from an empty tree (sizes 0 and 0)');
    });

    it('is never valid, whatever the roots and proof', () => {
      expectProofError(() => verifyConsistency(0, 0, emptyRoot(), emptyRoot(), []), 'bad-sizes', 'no consistency proof from an empty tree (sizes 0 and 0)');
      expectProofError(() => verifyConsistency(0, 5, emptyRoot(), root(5), []), 'bad-sizes', 'no consistency proof from an empty tree (sizes 0 and 5)');
      expect(isValidConsistency(0, 1, emptyRoot(), root(1), [root(1)])).toBe(false);
    });
  });

  describe('bad arguments carry their numbers', () => {
    it('inclusion', () => {
      expectProofError(() => inclusionProof(hashes, 9, 9), 'bad-index', 'index 9 is outside a tree of size 9');
      expectProofError(() => inclusionProof(hashes, -1, 9), 'bad-index', 'index -1 is outside a tree of size 9');
      expectProofError(() => inclusionProof(hashes, 1.5, 9), 'bad-index', 'index 1.5 is outside a tree of size 9');
      expectProofError(() => inclusionProof(hashes, 0, 17), 'bad-sizes', 'tree size 17 exceeds the 16 leaf hashes given');
      expectProofError(() => inclusionProof(hashes, 0, Number.NaN), 'bad-sizes', 'tree size NaN is not a non-negative safe integer');
      expectProofError(() => verifyInclusion(hashes[3], 3, 9, inclusionProof(hashes, 3, 9).concat([hashes[0]]), root(9)), 'wrong-length', 'inclusion proof for leaf 3 has 5 hashes, tree of size 9 needs 4');
      expectProofError(() => verifyInclusion(hashes[3], 3, 9, [], root(9)), 'wrong-length', 'inclusion proof for leaf 3 has 0 hashes, tree of size 9 needs 4');
      expectProofError(() => verifyInclusion(hashes[3], 2 ** 64 - 1, 9, [], root(9)), 'bad-index', 'index 18446744073709552000 is outside a tree of size 9');
    });

    it('consistency', () => {
      expectProofError(() => consistencyProof(hashes, 6, 5), 'bad-sizes', 'first size 6 exceeds second size 5');
      expectProofError(() => consistencyProof(hashes, 3, 17), 'bad-sizes', 'second size 17 exceeds the 16 leaf hashes given');
      expectProofError(() => verifyConsistency(6, 5, root(6), root(5), []), 'bad-sizes', 'first size 6 exceeds second size 5');
      expectProofError(() => verifyConsistency(-1, 5, root(1), root(5), []), 'bad-sizes', 'first size -1 is not a non-negative safe integer');
      expectProofError(() => verifyConsistency(6, 8, root(6), root(8), consistencyProof(hashes, 6, 8).slice(1)), 'wrong-length', 'consistency proof has 2 hashes, sizes 6 and 8 need 3');
      expectProofError(() => verifyConsistency(1, 2, root(1), root(2), []), 'wrong-length', 'consistency proof has 0 hashes, sizes 1 and 2 need 1');
    });

    it('hashes that are not 32 bytes', () => {
      const short = Buffer.alloc(31);
      expectProofError(() => verifyInclusion(short, 0, 1, [], hashes[0]), 'bad-hash', 'leaf hash has 31 bytes, expected 32');
      expectProofError(() => verifyInclusion(hashes[0], 0, 1, [], short), 'bad-hash', 'root has 31 bytes, expected 32');
      expectProofError(() => verifyInclusion(hashes[0], 0, 2, [short], root(2)), 'bad-hash', 'inclusion proof hash 0 has 31 bytes, expected 32');
      expectProofError(() => verifyConsistency(1, 1, short, short, []), 'bad-hash', 'first root has 31 bytes, expected 32');
      expectProofError(() => verifyConsistency(1, 1, hashes[0], short, []), 'bad-hash', 'second root has 31 bytes, expected 32');
      expectProofError(() => verifyConsistency(1, 2, root(1), root(2), [short]), 'bad-hash', 'consistency proof hash 0 has 31 bytes, expected 32');
      expectProofError(() => new MerkleAccumulator().append(Buffer.from('raw entry, not a hash')), 'bad-hash', 'leaf hash 0 has 21 bytes, expected 32');
      expectProofError(() => rootFromLeafHashes([hashes[0], short]), 'bad-hash', 'leaf hash 1 has 31 bytes, expected 32');
      expectProofError(() => inclusionProof([hashes[0], hashes[1], short], 0, 3), 'bad-hash', 'leaf hash 2 has 31 bytes, expected 32');
    });

    it('the boolean wrappers answer false for ProofErrors only', () => {
      expect(isValidInclusion(hashes[0], 5, 5, [], root(5))).toBe(false);
      expect(isValidInclusion(hashes[2], 2, 5, inclusionProof(hashes, 2, 5), root(5))).toBe(true);
      expect(isValidConsistency(2, 5, root(2), root(5), consistencyProof(hashes, 2, 5))).toBe(true);
      expect(() => isValidInclusion(hashes[0], 0, 2, [undefined as unknown as Buffer], root(2))).toThrow(TypeError);
    });
  });

  describe('MerkleAccumulator', () => {
    it('restores from its peaks and keeps going', () => {
      const acc = MerkleAccumulator.fromLeafHashes(hashes.slice(0, 11));
      expect(acc.peaks()).toHaveLength(3); // 11 = 8 + 2 + 1
      const again = MerkleAccumulator.restore(acc.size, acc.peaks());
      for (const leaf of hashes.slice(11)) again.append(leaf);
      expect(again.size).toBe(16);
      expect(again.root()).toEqual(root(16));
    });

    it('rejects peaks that do not fit the size', () => {
      expectProofError(() => MerkleAccumulator.restore(11, [root(8)]), 'wrong-length', 'a tree of size 11 has 3 peaks, got 1');
      expectProofError(() => MerkleAccumulator.restore(1.5, []), 'bad-sizes', 'size 1.5 is not a non-negative safe integer');
    });

    it('does not share buffers with its caller', () => {
      const leaf = Buffer.from(hashes[0]);
      const acc = new MerkleAccumulator();
      acc.append(leaf);
      leaf.fill(0);
      acc.peaks()[0].fill(0);
      expect(acc.root()).toEqual(hashes[0]);
    });
  });

  describe('large trees', () => {
    it('100 000 leaves: one pass for the root, and proofs at the far end still verify', () => {
      const many = Array.from({ length: 100_000 }, (_, i) => leafHash(Buffer.from(`entry ${i}`)));
      const acc = new MerkleAccumulator();
      let root99999 = emptyRoot();
      for (const [i, leaf] of many.entries()) {
        acc.append(leaf);
        if (i === 99_998) root99999 = acc.root();
      }
      const top = rootFromLeafHashes(many);
      expect(acc.root()).toEqual(top);
      expect(acc.peaks()).toHaveLength(6); // 100 000 = 0b11000011010100000
      verifyInclusion(many[99_999], 99_999, 100_000, inclusionProof(many, 99_999, 100_000), top);
      verifyInclusion(many[31_337], 31_337, 100_000, inclusionProof(many, 31_337, 100_000), top);
      verifyConsistency(99_999, 100_000, root99999, top, consistencyProof(many, 99_999, 100_000));
    });

    it('indices and sizes beyond 2^32 use exact arithmetic (no 32-bit bitwise truncation)', () => {
      // A tree of 2^40 + 1 leaves is its left perfect subtree X and the last leaf L: root = H(X, L).
      const big = 2 ** 40;
      const x = h('left subtree of 2^40 leaves');
      const last = h('leaf 2^40');
      const top = nodeHash(x, last);
      verifyInclusion(last, big, big + 1, [x], top);
      verifyConsistency(big, big + 1, x, top, [last]);
      // Leaf 0 of a perfect 2^40 tree: 40 right siblings.
      const siblings = Array.from({ length: 40 }, (_, i) => h(`sibling ${i}`));
      const perfect = siblings.reduce((acc, s) => nodeHash(acc, s), hashes[0]);
      verifyInclusion(hashes[0], 0, big, siblings, perfect);
      expectProofError(() => verifyInclusion(hashes[0], 0, big + 1, siblings, perfect), 'wrong-length', `inclusion proof for leaf 0 has 40 hashes, tree of size ${big + 1} needs 41`);
      // The largest safe size still gets a length, not an exception.
      expectProofError(() => verifyInclusion(hashes[0], 0, Number.MAX_SAFE_INTEGER, [], perfect), 'wrong-length', `inclusion proof for leaf 0 has 0 hashes, tree of size ${Number.MAX_SAFE_INTEGER} needs 53`);
    });
  });
});
