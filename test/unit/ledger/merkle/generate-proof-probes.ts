/**
 * Writes contracts/vectors/merkle/proof-probes.json: valid proofs from src/ledger/merkle plus
 * single corruptions of each, with the outcome the implementation gives them. Run only after
 * known-answers.spec.ts passes, and re-run only on purpose — the file is a regression contract:
 *
 *   npx ts-node --transpile-only test/unit/ledger/merkle/generate-proof-probes.ts
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  consistencyProof,
  emptyRoot,
  inclusionProof,
  leafHash,
  ProofError,
  rootFromLeafHashes,
  verifyConsistency,
  verifyInclusion,
} from '../../../../src/ledger/merkle';

const OUT = join(__dirname, '../../../../contracts/vectors/merkle/proof-probes.json');

// The eight transparency-dev leaves, then "leaf 8".."leaf 15" as UTF-8.
const LEAVES = [
  ...['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => Buffer.from(h, 'hex')),
  ...Array.from({ length: 8 }, (_, i) => Buffer.from(`leaf ${i + 8}`, 'utf8')),
];
const HASHES = LEAVES.map((leaf) => leafHash(leaf));
const root = (n: number): Buffer => rootFromLeafHashes(HASHES.slice(0, n));
const hex = (b: Buffer): string => b.toString('hex');
const flip = (b: Buffer): Buffer => {
  const c = Buffer.from(b);
  c[0] ^= 0x01;
  return c;
};

function outcome(check: () => void): { expect: 'valid' } | { expect: 'invalid'; kind: string } {
  try {
    check();
    return { expect: 'valid' };
  } catch (err) {
    if (err instanceof ProofError) return { expect: 'invalid', kind: err.kind };
    throw err;
  }
}

// Mutations that leave a true statement would make a confusing "corrupted" vector; say why.
const SIZE_NOTE = 'tree size is not hashed into the proof: the same hashes prove this too; only a signed (size, root) pair binds the size';

interface Inc {
  name: string;
  leafIndex: number;
  treeSize: number;
  leafHash: Buffer;
  root: Buffer;
  proof: Buffer[];
}
function inclusionCases(index: number, size: number): Inc[] {
  const base: Inc = { name: `leaf ${index} in size ${size}`, leafIndex: index, treeSize: size, leafHash: HASHES[index], root: root(size), proof: inclusionProof(HASHES, index, size) };
  const v = (name: string, change: Partial<Inc>): Inc => ({ ...base, ...change, name: `${base.name}: ${name}` });
  const out: Inc[] = [{ ...base, name: `${base.name}: valid` }];
  base.proof.forEach((_, j) => out.push(v(`bit 0x01 of byte 0 flipped in proof[${j}]`, { proof: base.proof.map((h, i) => (i === j ? flip(h) : h)) })));
  out.push(v('bit flipped in the leaf hash', { leafHash: flip(base.leafHash) }));
  out.push(v('tree size + 1', { treeSize: size + 1 }));
  if (size - 1 > index) out.push(v('tree size - 1', { treeSize: size - 1 }));
  out.push(v('tree size × 2', { treeSize: size * 2 }));
  if (base.proof.length > 0) out.push(v('proof truncated (last hash dropped)', { proof: base.proof.slice(0, -1) }));
  out.push(v('extra hash appended (the root)', { proof: [...base.proof, base.root] }));
  out.push(v('extra hash prepended (the leaf hash)', { proof: [base.leafHash, ...base.proof] }));
  out.push(v(index + 1 < size ? 'index + 1' : 'index - 1', { leafIndex: index + 1 < size ? index + 1 : index - 1 }));
  out.push(v('index = tree size', { leafIndex: size }));
  out.push(v(size > 1 ? `root swapped for the root of size ${size - 1}` : 'root swapped for the empty-tree root', { root: size > 1 ? root(size - 1) : emptyRoot() }));
  if (base.proof.length > 0) out.push(v('proof[0] cut to 31 bytes', { proof: [base.proof[0].subarray(0, 31), ...base.proof.slice(1)] }));
  return out.filter((c) => c.leafIndex >= 0);
}

interface Con {
  name: string;
  size1: number;
  size2: number;
  root1: Buffer;
  root2: Buffer;
  proof: Buffer[];
}
function consistencyCases(m: number, n: number): Con[] {
  const base: Con = { name: `size ${m} to ${n}`, size1: m, size2: n, root1: root(m), root2: root(n), proof: consistencyProof(HASHES, m, n) };
  const v = (name: string, change: Partial<Con>): Con => ({ ...base, ...change, name: `${base.name}: ${name}` });
  const out: Con[] = [{ ...base, name: `${base.name}: valid` }];
  base.proof.forEach((_, j) => out.push(v(`bit 0x01 of byte 0 flipped in proof[${j}]`, { proof: base.proof.map((h, i) => (i === j ? flip(h) : h)) })));
  if (m + 1 <= n) out.push(v('first size + 1', { size1: m + 1 }));
  if (m > 1) out.push(v('first size - 1', { size1: m - 1 }));
  out.push(v('second size + 1', { size2: n + 1 }));
  if (n - 1 >= m) out.push(v('second size - 1', { size2: n - 1 }));
  if (base.proof.length > 0) out.push(v('proof truncated (last hash dropped)', { proof: base.proof.slice(0, -1) }));
  out.push(v('extra hash appended (the second root)', { proof: [...base.proof, base.root2] }));
  if (m < n) out.push(v('roots swapped', { root1: base.root2, root2: base.root1 }));
  out.push(v(m > 1 ? `first root swapped for the root of size ${m - 1}` : 'first root swapped for the empty-tree root', { root1: m > 1 ? root(m - 1) : emptyRoot() }));
  out.push(v(`second root swapped for the root of size ${n + 1}`, { root2: root(n + 1) }));
  out.push(v('first size 0 (empty tree)', { size1: 0, root1: emptyRoot() }));
  if (m < n) out.push(v('sizes swapped', { size1: n, size2: m }));
  if (base.proof.length > 0) out.push(v('proof[0] cut to 31 bytes', { proof: [base.proof[0].subarray(0, 31), ...base.proof.slice(1)] }));
  return out;
}

const inclusion = ([[0, 1], [2, 3], [5, 8], [6, 7], [4, 13], [12, 13], [9, 15]] as const).flatMap(([i, n]) => inclusionCases(i, n)).map((c) => {
  const result = outcome(() => verifyInclusion(c.leafHash, c.leafIndex, c.treeSize, c.proof, c.root));
  return {
    name: c.name,
    leafIndex: c.leafIndex,
    treeSize: c.treeSize,
    leafHash: hex(c.leafHash),
    root: hex(c.root),
    proof: c.proof.map(hex),
    ...result,
    ...(result.expect === 'valid' && !c.name.endsWith(': valid') ? { note: SIZE_NOTE } : {}),
  };
});
const consistency = ([[1, 1], [5, 5], [1, 8], [3, 7], [4, 7], [6, 8], [7, 13], [8, 15], [13, 15]] as const).flatMap(([m, n]) => consistencyCases(m, n)).map((c) => {
  const result = outcome(() => verifyConsistency(c.size1, c.size2, c.root1, c.root2, c.proof));
  return {
    name: c.name,
    size1: c.size1,
    size2: c.size2,
    root1: hex(c.root1),
    root2: hex(c.root2),
    proof: c.proof.map(hex),
    ...result,
    ...(result.expect === 'valid' && !c.name.endsWith(': valid') ? { note: SIZE_NOTE } : {}),
  };
});

const bad = [...inclusion, ...consistency].filter((c) => c.name.endsWith(': valid') !== (c.expect === 'valid') && !('note' in c));
if (bad.length > 0) throw new Error(`unexpected outcomes: ${bad.map((c) => c.name).join('; ')}`);

const doc = {
  source:
    'Generated by test/unit/ledger/merkle/generate-proof-probes.ts with src/ledger/merkle after it reproduced every value in rfc6962-known-answers.json. Regression contract: the outcome and error kind of each case are what Proofline must keep answering.',
  leaves: LEAVES.map(hex),
  leavesNote: 'Leaves 0-7 are the transparency-dev/merkle LeafInputs(); 8-15 are the UTF-8 strings "leaf 8".."leaf 15". Hashes are hex; roots are MTH of the first treeSize leaves.',
  roots: Array.from({ length: LEAVES.length + 1 }, (_, n) => hex(root(n))),
  counts: { inclusion: inclusion.length, consistency: consistency.length },
  inclusion,
  consistency,
};
writeFileSync(OUT, `${JSON.stringify(doc, null, 2)}\n`);
console.log(`wrote ${inclusion.length} inclusion and ${consistency.length} consistency cases to ${OUT}`);
