import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { consistencyProof, inclusionProof, leafHash, ProofError, rootFromLeafHashes, verifyConsistency, verifyInclusion } from '../../../../src/ledger/merkle';

// contracts/vectors/merkle/proof-probes.json: valid proofs and single corruptions of each, made by
// generate-proof-probes.ts once the known answers passed. Every case must keep its recorded
// outcome; cases with a `note` are "corruptions" that are in fact true statements (see below).

type Outcome = { expect: 'valid'; kind?: undefined } | { expect: 'invalid'; kind: string };
type InclusionCase = Outcome & { name: string; leafIndex: number; treeSize: number; leafHash: string; root: string; proof: string[]; note?: string };
type ConsistencyCase = Outcome & { name: string; size1: number; size2: number; root1: string; root2: string; proof: string[]; note?: string };
interface Probes {
  leaves: string[];
  roots: string[];
  counts: { inclusion: number; consistency: number };
  inclusion: InclusionCase[];
  consistency: ConsistencyCase[];
}

const probes = JSON.parse(readFileSync(join(__dirname, '../../../../contracts/vectors/merkle/proof-probes.json'), 'utf8')) as Probes;
const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const hashes = probes.leaves.map((leaf) => leafHash(hex(leaf)));

function outcome(check: () => void): Outcome {
  try {
    check();
    return { expect: 'valid' };
  } catch (err) {
    if (err instanceof ProofError) return { expect: 'invalid', kind: err.kind };
    throw err;
  }
}
const recorded = (c: Outcome): Outcome => (c.expect === 'valid' ? { expect: 'valid' } : { expect: 'invalid', kind: c.kind });

describe('proof probes (contracts/vectors/merkle/proof-probes.json)', () => {
  it('has every case it counts, and its roots are the roots of its leaves', () => {
    expect([probes.inclusion.length, probes.consistency.length]).toEqual([probes.counts.inclusion, probes.counts.consistency]);
    expect(probes.roots).toEqual(probes.roots.map((_, n) => rootFromLeafHashes(hashes.slice(0, n)).toString('hex')));
  });

  it.each(probes.inclusion)('inclusion — $name → $expect $kind', (c) => {
    expect(outcome(() => verifyInclusion(hex(c.leafHash), c.leafIndex, c.treeSize, c.proof.map(hex), hex(c.root)))).toEqual(recorded(c));
  });

  it.each(probes.consistency)('consistency — $name → $expect $kind', (c) => {
    expect(outcome(() => verifyConsistency(c.size1, c.size2, hex(c.root1), hex(c.root2), c.proof.map(hex)))).toEqual(recorded(c));
  });

  it('the valid proofs are still the ones the builder makes', () => {
    for (const c of probes.inclusion.filter((p) => p.name.endsWith(': valid'))) {
      expect(inclusionProof(hashes, c.leafIndex, c.treeSize).map((h) => h.toString('hex'))).toEqual(c.proof);
    }
    for (const c of probes.consistency.filter((p) => p.name.endsWith(': valid'))) {
      expect(consistencyProof(hashes, c.size1, c.size2).map((h) => h.toString('hex'))).toEqual(c.proof);
    }
  });

  it('every corruption fails, except size changes the proof cannot see (the noted ones)', () => {
    const corruptions = [...probes.inclusion, ...probes.consistency].filter((c) => !c.name.endsWith(': valid'));
    const passing = corruptions.filter((c) => c.expect === 'valid');
    expect(passing.every((c) => c.note !== undefined && /size [+-] 1$/.test(c.name))).toBe(true);
    expect(corruptions.filter((c) => c.note !== undefined)).toEqual(passing);
    // Kinds of failure present in the file, so a change in error classification shows up here.
    expect(new Set(corruptions.flatMap((c) => (c.kind === undefined ? [] : [c.kind])))).toEqual(
      new Set(['root-mismatch', 'wrong-length', 'bad-index', 'bad-sizes', 'bad-hash']),
    );
  });
});
