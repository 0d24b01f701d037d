import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProofError, verifyConsistency, verifyInclusion } from '../../../../src/ledger/merkle';

// Every inclusion and consistency probe of transparency-dev/merkle testdata/ (generated upstream
// by cmd/proofgen from the published proofs), converted base64 → hex; see
// contracts/vectors/merkle/README.md. Each must get upstream's verdict (wantErr).

interface InclusionProbe {
  file: string;
  desc: string;
  leafIdx: number;
  treeSize: number;
  leafHash: string;
  root: string;
  proof: string[];
  wantErr: boolean;
}
interface ConsistencyProbe {
  file: string;
  desc: string;
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  proof: string[];
  wantErr: boolean;
}
interface Testdata {
  source: { repository: string; commit: string };
  counts: { inclusion: number; consistency: number };
  inclusion: InclusionProbe[];
  consistency: ConsistencyProbe[];
}

const data = JSON.parse(
  readFileSync(join(__dirname, '../../../../contracts/vectors/merkle/transparency-dev-testdata.json'), 'utf8'),
) as Testdata;
const hex = (s: string): Buffer => Buffer.from(s, 'hex');

/**
 * Where Proofline deliberately differs from upstream. Upstream accepts size1 = size2 = 1 with
 * equal 12-byte "roots" ("don't care 2") because it only compares them; Proofline requires every
 * root to be a 32-byte SHA-256 value, so a malformed checkpoint is never "consistent".
 */
const DEVIATIONS: Record<string, string> = {
  'testdata/consistency/additional/sizes-are-equal-one-and-proof-is-empty.json': 'bad-hash',
};

function outcome(check: () => void): string {
  try {
    check();
    return 'valid';
  } catch (err) {
    if (err instanceof ProofError) return err.kind;
    throw err;
  }
}

describe('transparency-dev/merkle testdata probes', () => {
  it('holds every upstream probe', () => {
    expect(data.source.commit).toBe('417fb0c314750d94e53942e9f92e79b6d35915db');
    expect([data.inclusion.length, data.consistency.length]).toEqual([data.counts.inclusion, data.counts.consistency]);
    expect(data.inclusion.length + data.consistency.length).toBe(196);
  });

  it.each(data.inclusion)('$file', (p) => {
    const result = outcome(() => verifyInclusion(hex(p.leafHash), p.leafIdx, p.treeSize, p.proof.map(hex), hex(p.root)));
    if (p.wantErr) expect(result).not.toBe('valid');
    else expect(result).toBe('valid');
  });

  it.each(data.consistency)('$file', (p) => {
    const result = outcome(() => verifyConsistency(p.size1, p.size2, hex(p.root1), hex(p.root2), p.proof.map(hex)));
    const deviation = DEVIATIONS[p.file];
    if (deviation !== undefined) expect(result).toBe(deviation);
    else if (p.wantErr) expect(result).not.toBe('valid');
    else expect(result).toBe('valid');
  });

  it('the only deviations are the documented ones', () => {
    const files = new Set([...data.inclusion, ...data.consistency].map((p) => p.file));
    for (const file of Object.keys(DEVIATIONS)) expect(files.has(file)).toBe(true);
    expect(Object.keys(DEVIATIONS)).toHaveLength(1);
  });
});
