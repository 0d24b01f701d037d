import fc from 'fast-check';
import {
  consistencyProof,
  inclusionProof,
  isValidConsistency,
  isValidInclusion,
  leafHash,
  MerkleAccumulator,
  ProofError,
  rootFromLeafHashes,
  verifyConsistency,
  verifyInclusion,
} from '../../../../src/ledger/merkle';
import {
  consistencyMutationHolds,
  inclusionMutationHolds,
  refConsistencyProof,
  refInclusionProof,
  refLeafHash,
  refRoot,
} from './reference';

// Properties against the naive recursive RFC 6962 transcription in ./reference.ts. Sizes stay
// ≤ 64 as the exhaustive checks are cubic in the size.

const MAX = 64;
const leafData = fc.uint8Array({ maxLength: 24 });
/** Leaves may repeat: proofs must not care. */
const anyLeaves = fc.array(leafData, { minLength: MAX, maxLength: MAX });
/** Distinct leaves, for mutation tests: with repeats, moving to another index can be harmless. */
const distinctLeaves = fc.uniqueArray(leafData, { minLength: MAX, maxLength: MAX, selector: (b) => Buffer.from(b).toString('hex') });

const hashAll = (leaves: readonly Uint8Array[]): Buffer[] => leaves.map((leaf) => leafHash(leaf));
const rootsOf = (hashes: readonly Buffer[]): Buffer[] => {
  const acc = new MerkleAccumulator();
  const roots = [acc.root()];
  for (const h of hashes) {
    acc.append(h);
    roots.push(acc.root());
  }
  return roots;
};
/** Cheap Buffer-list equality; jest's deep equality only runs to print a failure. */
const expectSame = (actual: readonly Buffer[], expected: readonly Buffer[], what: string): void => {
  if (actual.length === expected.length && actual.every((h, i) => h.equals(expected[i]))) return;
  expect({ what, actual: actual.map((h) => h.toString('hex')) }).toEqual({ what, actual: expected.map((h) => h.toString('hex')) });
};
const kindOf = (check: () => void): string => {
  try {
    check();
    return 'valid';
  } catch (err) {
    if (err instanceof ProofError) return err.kind;
    throw err;
  }
};

describe('Merkle properties', () => {
  it('leafHash and every root agree with the recursive definition; the accumulator matches every prefix', () => {
    fc.assert(
      fc.property(fc.array(leafData, { maxLength: 300 }), (leaves) => {
        const hashes = hashAll(leaves);
        expect(hashes).toEqual(leaves.map(refLeafHash));
        const acc = new MerkleAccumulator();
        for (let n = 0; n <= hashes.length; n++) {
          if (n > 0) acc.append(hashes[n - 1]);
          const expected = refRoot(hashes.slice(0, n));
          expect(acc.size).toBe(n);
          expect(acc.root()).toEqual(expected);
          expect(rootFromLeafHashes(hashes.slice(0, n))).toEqual(expected);
        }
        expect(MerkleAccumulator.restore(acc.size, acc.peaks()).root()).toEqual(acc.root());
      }),
      { numRuns: 25 },
    );
  });

  it(`every inclusion proof for size ≤ ${MAX} is PATH(m, D[n]) and verifies`, () => {
    fc.assert(
      fc.property(anyLeaves, (leaves) => {
        const hashes = hashAll(leaves);
        const roots = rootsOf(hashes);
        for (let n = 1; n <= MAX; n++) {
          for (let i = 0; i < n; i++) {
            const proof = inclusionProof(hashes, i, n);
            expectSame(proof, refInclusionProof(hashes, i, n), `PATH(${i}, D[${n}])`);
            verifyInclusion(hashes[i], i, n, proof, roots[n]);
          }
        }
      }),
      { numRuns: 3 },
    );
  });

  it(`every consistency proof for 0 < m ≤ n ≤ ${MAX} is PROOF(m, D[n]) and verifies`, () => {
    fc.assert(
      fc.property(anyLeaves, (leaves) => {
        const hashes = hashAll(leaves);
        const roots = rootsOf(hashes);
        for (let n = 1; n <= MAX; n++) {
          for (let m = 1; m <= n; m++) {
            const proof = consistencyProof(hashes, m, n);
            expectSame(proof, refConsistencyProof(hashes, m, n), `PROOF(${m}, D[${n}])`);
            verifyConsistency(m, n, roots[m], roots[n], proof);
          }
        }
      }),
      { numRuns: 3 },
    );
  });

  describe('single mutations', () => {
    // Each mutation is applied to one genuine proof. Flipping, dropping or adding a hash must
    // always fail, with the kind that says why. Changing index or size fails exactly when the
    // recursive definition says the same hashes do not rebuild the same root (the reference
    // decides this symbolically): the RFC proofs do not hash the tree size in, so a neighbouring
    // size with the same tree shape is also "proved" — only a signed (size, root) binds the size.
    const mutation = fc.oneof(
      fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ op: fc.constant('drop' as const), at: fc.nat() }),
      fc.record({ op: fc.constant('add' as const), at: fc.nat(), hash: fc.uint8Array({ minLength: 32, maxLength: 32 }) }),
      fc.record({ op: fc.constant('index' as const), to: fc.nat({ max: MAX + 4 }) }),
      fc.record({ op: fc.constant('size' as const), to: fc.integer({ min: 1, max: MAX + 4 }) }),
    );
    const flipBit = (hashes: readonly Buffer[], at: number, bit: number): Buffer[] =>
      hashes.map((h, i) => {
        if (i !== at) return h;
        const c = Buffer.from(h);
        c[bit >> 3] ^= 1 << (bit & 7);
        return c;
      });

    it('of inclusion proofs are caught', () => {
      fc.assert(
        fc.property(distinctLeaves, fc.integer({ min: 1, max: MAX }), fc.nat(), mutation, (leaves, size, rawIndex, mut) => {
          const hashes = hashAll(leaves);
          const index = rawIndex % size;
          const root = refRoot(hashes.slice(0, size));
          const proof = inclusionProof(hashes, index, size);
          const verify = (p: Buffer[], i = index, n = size, leaf = hashes[index]) => kindOf(() => verifyInclusion(leaf, i, n, p, root));
          switch (mut.op) {
            case 'flip': {
              // Position `proof.length` stands for the leaf hash itself.
              const at = mut.at % (proof.length + 1);
              const result = at === proof.length ? verify(proof, index, size, flipBit([hashes[index]], 0, mut.bit)[0]) : verify(flipBit(proof, at, mut.bit));
              expect(result).toBe('root-mismatch');
              break;
            }
            case 'drop':
              fc.pre(proof.length > 0);
              expect(verify(proof.filter((_, i) => i !== mut.at % proof.length))).toBe('wrong-length');
              break;
            case 'add': {
              const at = mut.at % (proof.length + 1);
              expect(verify([...proof.slice(0, at), Buffer.from(mut.hash), ...proof.slice(at)])).toBe('wrong-length');
              break;
            }
            case 'index':
              fc.pre(mut.to !== index);
              expect(isValidInclusion(hashes[index], mut.to, size, proof, root)).toBe(inclusionMutationHolds(index, size, mut.to, size));
              expect(inclusionMutationHolds(index, size, mut.to, size)).toBe(false);
              break;
            case 'size':
              fc.pre(mut.to !== size);
              expect(isValidInclusion(hashes[index], index, mut.to, proof, root)).toBe(inclusionMutationHolds(index, size, index, mut.to));
              break;
          }
        }),
        { numRuns: 1000 },
      );
    });

    it('of consistency proofs are caught', () => {
      fc.assert(
        fc.property(
          distinctLeaves,
          fc.integer({ min: 1, max: MAX }),
          fc.integer({ min: 1, max: MAX }),
          mutation,
          fc.boolean(),
          (leaves, a, b, mut, onFirst) => {
            const [m, n] = a <= b ? [a, b] : [b, a];
            const hashes = hashAll(leaves);
            const root1 = refRoot(hashes.slice(0, m));
            const root2 = refRoot(hashes.slice(0, n));
            const proof = consistencyProof(hashes, m, n);
            const verify = (p: Buffer[], r1 = root1, r2 = root2) => kindOf(() => verifyConsistency(m, n, r1, r2, p));
            switch (mut.op) {
              case 'flip': {
                // Positions past the proof stand for root1 and root2.
                const at = mut.at % (proof.length + 2);
                if (at < proof.length) expect(verify(flipBit(proof, at, mut.bit))).toBe('root-mismatch');
                else if (at === proof.length) expect(verify(proof, flipBit([root1], 0, mut.bit)[0])).toBe('root-mismatch');
                else expect(verify(proof, root1, flipBit([root2], 0, mut.bit)[0])).toBe('root-mismatch');
                break;
              }
              case 'drop':
                fc.pre(proof.length > 0);
                expect(verify(proof.filter((_, i) => i !== mut.at % proof.length))).toBe('wrong-length');
                break;
              case 'add': {
                const at = mut.at % (proof.length + 1);
                expect(verify([...proof.slice(0, at), Buffer.from(mut.hash), ...proof.slice(at)])).toBe('wrong-length');
                break;
              }
              case 'index':
              case 'size': {
                // Change one of the two sizes (there is no index): first or second, by the boolean.
                const [m2, n2] = onFirst ? [mut.to, n] : [m, mut.to];
                fc.pre(m2 !== m || n2 !== n);
                expect(isValidConsistency(m2, n2, root1, root2, proof)).toBe(consistencyMutationHolds(m, n, m2, n2));
                break;
              }
            }
          },
        ),
        { numRuns: 1000 },
      );
    });
  });

  it('the symbolic oracle matches the verifier on every size change up to 20 (exhaustive)', () => {
    const hashes = hashAll(Array.from({ length: 24 }, (_, i) => Buffer.from(`leaf ${i}`)));
    const roots = rootsOf(hashes);
    let accepted = 0;
    for (let n = 1; n <= 16; n++) {
      for (let i = 0; i < n; i++) {
        const proof = inclusionProof(hashes, i, n);
        for (let n2 = 1; n2 <= 20; n2++) {
          for (const i2 of [i, i - 1, i + 1]) {
            const valid = isValidInclusion(hashes[i], i2, n2, proof, roots[n]);
            if (valid !== inclusionMutationHolds(i, n, i2, n2)) expect({ i, n, i2, n2, valid }).toEqual({ i, n, i2, n2, valid: !valid });
            if (valid && (i2 !== i || n2 !== n)) accepted += 1;
          }
        }
      }
      for (let m = 1; m <= n; m++) {
        const proof = consistencyProof(hashes, m, n);
        for (let n2 = 1; n2 <= 20; n2++) {
          for (let m2 = 1; m2 <= n2; m2++) {
            const valid = isValidConsistency(m2, n2, roots[m], roots[n], proof);
            if (valid !== consistencyMutationHolds(m, n, m2, n2)) expect({ m, n, m2, n2, valid }).toEqual({ m, n, m2, n2, valid: !valid });
          }
        }
      }
    }
    // Sizes really are unbound by the proof alone (e.g. leaf 0 of size 3 "is in" size 4 with root 3).
    expect(accepted).toBeGreaterThan(0);
    expect(isValidInclusion(hashes[0], 0, 4, inclusionProof(hashes, 0, 3), roots[3])).toBe(true);
  });
});
