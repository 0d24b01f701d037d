import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  consistencyProof,
  emptyRoot,
  inclusionProof,
  LEAF_PREFIX,
  leafHash,
  MerkleAccumulator,
  NODE_PREFIX,
  nodeHash,
  rootFromConsistencyProof,
  rootFromInclusionProof,
  rootFromLeafHashes,
  verifyConsistency,
  verifyInclusion,
} from '../../../../src/ledger/merkle';

// Known answers from transparency-dev/merkle (see contracts/vectors/merkle/README.md). The JSON is
// the machine-readable copy; the constants below are the same values with a recipe each, so any
// of them can be re-derived with coreutils + xxd. Recipes were run once and all matched.

interface KnownAnswers {
  source: { repository: string; commit: string };
  hasher: { desc: string; leaf?: string; left?: string; right?: string; hash: string }[];
  leaves: string[];
  nodeHashes: string[][];
  roots: string[];
  inclusionProofs: { index: number; treeSize: number; proof: string[] }[];
  consistencyProofs: { size1: number; size2: number; proof: string[] }[];
}

const kat = JSON.parse(
  readFileSync(join(__dirname, '../../../../contracts/vectors/merkle/rfc6962-known-answers.json'), 'utf8'),
) as KnownAnswers;
const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const hexes = (list: readonly Buffer[]): string[] => list.map((b) => b.toString('hex'));

// Leaf hashes, SHA-256(0x00 ‖ leaf): testonly.NodeHashes()[0].
const LEAF = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d', // printf '\x00' | sha256sum
  '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', // printf '0000' | xxd -r -p | sha256sum
  '0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7', // printf '0010' | xxd -r -p | sha256sum
  '07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7', // printf '002021' | xxd -r -p | sha256sum
  'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b', // printf '003031' | xxd -r -p | sha256sum
  '4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658', // printf '0040414243' | xxd -r -p | sha256sum
  'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f', // printf '005051525354555657' | xxd -r -p | sha256sum
  '46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1', // printf '00606162636465666768696a6b6c6d6e6f' | xxd -r -p | sha256sum
];
// SHA-256(0x01 ‖ left ‖ right) over the level below: NodeHashes()[1].
const LEVEL1 = [
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125', // printf '016e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7' | xxd -r -p | sha256sum
  '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', // printf '010298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe707506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7' | xxd -r -p | sha256sum
  '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', // printf '01bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658' | xxd -r -p | sha256sum
  'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', // printf '01b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1' | xxd -r -p | sha256sum
];
// SHA-256(0x01 ‖ left ‖ right) over the level below: NodeHashes()[2].
const LEVEL2 = [
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7', // printf '01fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c1255f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e' | xxd -r -p | sha256sum
  '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4', // printf '010ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6aca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0' | xxd -r -p | sha256sum
];
// SHA-256(0x01 ‖ left ‖ right) over the level below: NodeHashes()[3].
const LEVEL3 = [
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328', // printf '01d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b76b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4' | xxd -r -p | sha256sum
];
// MTH(leaves 4..6) for size 7: not a perfect subtree, so not in NodeHashes(); the RFC's node l.
const SIZE7_RIGHT = '837dbb152e9b079010717e84e865da4ebc0fa198a806d59d31bf15accef22d0e'; // printf '010ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6ab08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f' | xxd -r -p | sha256sum
// Roots by tree size (RootHashes(), with EmptyRootHash() at 0).
const ROOT = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', // printf '' | sha256sum
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d', // = LEAF[0]
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125', // = LEVEL1[0]
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77', // printf '01fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c1250298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7' | xxd -r -p | sha256sum
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7', // = LEVEL2[0]
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4', // printf '01d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b' | xxd -r -p | sha256sum
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef', // printf '01d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b70ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a' | xxd -r -p | sha256sum
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c', // printf '01d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7837dbb152e9b079010717e84e865da4ebc0fa198a806d59d31bf15accef22d0e' | xxd -r -p | sha256sum
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328', // = LEVEL3[0]
];

const LEAF_HASHES = LEAF.map(hex);
const leafHashesOf = (n: number): Buffer[] => LEAF_HASHES.slice(0, n);

describe('RFC 6962 known answers (transparency-dev/merkle)', () => {
  it('names its source and agrees with the constants above', () => {
    expect(kat.source).toMatchObject({ repository: 'https://github.com/transparency-dev/merkle', commit: '417fb0c314750d94e53942e9f92e79b6d35915db' });
    expect(kat.nodeHashes).toEqual([LEAF, LEVEL1, LEVEL2, LEVEL3]);
    expect(kat.roots).toEqual(ROOT);
    expect(kat.leaves).toEqual(['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f']);
  });

  describe('hashes (rfc6962/rfc6962_test.go)', () => {
    it('uses the RFC prefixes', () => {
      expect([LEAF_PREFIX, NODE_PREFIX]).toEqual([0x00, 0x01]);
    });

    it('empty root = SHA-256("")', () => {
      // printf '' | sha256sum
      expect(emptyRoot().toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
      expect(emptyRoot().toString('hex')).toBe(kat.hasher[0].hash);
    });

    it('empty leaf ≠ empty tree', () => {
      // printf '\x00' | sha256sum
      expect(leafHash(Buffer.alloc(0)).toString('hex')).toBe('6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d');
      expect(kat.hasher[1]).toMatchObject({ leaf: '', hash: '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d' });
    });

    it('leaf "L123456"', () => {
      // printf '\x00L123456' | sha256sum
      expect(leafHash(Buffer.from('L123456')).toString('hex')).toBe('395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56');
      expect(kat.hasher[2]).toMatchObject({ leaf: '4c313233343536', hash: '395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56' });
    });

    it('node("N123", "N456") — byte layout 0x01 ‖ left ‖ right', () => {
      // printf '\x01N123N456' | sha256sum
      expect(nodeHash(Buffer.from('N123'), Buffer.from('N456')).toString('hex')).toBe('aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb');
      expect(kat.hasher[3]).toMatchObject({ left: '4e313233', right: '4e343536', hash: 'aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb' });
    });
  });

  describe('tree of the eight standard leaves (testonly/constants.go)', () => {
    it.each(kat.leaves.map((leaf, i) => [i, leaf] as const))('leaf %i (%s) hashes to LEAF[i]', (i, leaf) => {
      expect(leafHash(hex(leaf)).toString('hex')).toBe(LEAF[i]);
    });

    it.each([1, 2, 3])('every level-%i perfect subtree hash', (level) => {
      const width = 2 ** level;
      const expected = [LEAF, LEVEL1, LEVEL2, LEVEL3][level];
      const actual = expected.map((_, i) => rootFromLeafHashes(LEAF_HASHES.slice(i * width, (i + 1) * width)).toString('hex'));
      expect(actual).toEqual(expected);
      // Each level is also nodeHash of the pairs below it (the recipes above).
      const below = [LEAF, LEVEL1, LEVEL2][level - 1];
      expect(expected).toEqual(expected.map((_, i) => nodeHash(hex(below[2 * i]), hex(below[2 * i + 1])).toString('hex')));
    });

    it.each(ROOT.map((root, n) => [n, root] as const))('root of size %i', (n, root) => {
      expect(rootFromLeafHashes(leafHashesOf(n)).toString('hex')).toBe(root);
      expect(MerkleAccumulator.fromLeafHashes(leafHashesOf(n)).root().toString('hex')).toBe(root);
    });
  });

  describe('published inclusion proofs (cmd/proofgen/main.go inclusionProofs)', () => {
    it('are the ones listed here by node name', () => {
      expect(kat.inclusionProofs).toEqual([
        { index: 0, treeSize: 1, proof: [] },
        { index: 0, treeSize: 8, proof: [LEAF[1], LEVEL1[1], LEVEL2[1]] },
        { index: 5, treeSize: 8, proof: [LEAF[4], LEVEL1[3], LEVEL2[0]] },
        { index: 2, treeSize: 3, proof: [LEVEL1[0]] },
        { index: 1, treeSize: 5, proof: [LEAF[0], LEVEL1[1], LEAF[4]] },
      ]);
    });

    it.each(kat.inclusionProofs)('index $index, size $treeSize: built and verified', ({ index, treeSize, proof }) => {
      expect(hexes(inclusionProof(LEAF_HASHES, index, treeSize))).toEqual(proof);
      expect(rootFromInclusionProof(LEAF_HASHES[index], index, treeSize, proof.map(hex)).toString('hex')).toBe(ROOT[treeSize]);
      expect(() => verifyInclusion(LEAF_HASHES[index], index, treeSize, proof.map(hex), hex(ROOT[treeSize]))).not.toThrow();
    });
  });

  describe('published consistency proofs (cmd/proofgen/main.go consistencyProofs)', () => {
    it('are the ones listed here by node name', () => {
      expect(kat.consistencyProofs).toEqual([
        { size1: 1, size2: 1, proof: [] },
        { size1: 1, size2: 8, proof: [LEAF[1], LEVEL1[1], LEVEL2[1]] },
        { size1: 6, size2: 8, proof: [LEVEL1[2], LEVEL1[3], LEVEL2[0]] },
        { size1: 2, size2: 5, proof: [LEVEL1[1], LEAF[4]] },
        { size1: 6, size2: 7, proof: [LEVEL1[2], LEAF[6], LEVEL2[0]] },
      ]);
    });

    it.each(kat.consistencyProofs)('$size1 → $size2: built and verified', ({ size1, size2, proof }) => {
      expect(hexes(consistencyProof(LEAF_HASHES, size1, size2))).toEqual(proof);
      expect(rootFromConsistencyProof(size1, size2, hex(ROOT[size1]), proof.map(hex)).toString('hex')).toBe(ROOT[size2]);
      expect(() => verifyConsistency(size1, size2, hex(ROOT[size1]), hex(ROOT[size2]), proof.map(hex))).not.toThrow();
    });
  });

  describe('RFC 6962 §2.1.3 worked example (first seven of the leaves above)', () => {
    // The RFC's names: leaves a..f and j (d6 alone), g = (a,b), h = (c,d), i = (e,f), k = (g,h), l = (i,j).
    const [a, b, c, d, , f, j] = LEAF.slice(0, 7);
    const [g, h, i] = LEVEL1;
    const k = LEVEL2[0];
    const l = SIZE7_RIGHT;
    const seven = leafHashesOf(7);

    it.each([
      [0, [b, h, l]],
      [3, [c, g, l]],
      [4, [f, j, k]],
      [6, [i, k]],
    ] as const)('audit path for d%i', (index, path) => {
      expect(hexes(inclusionProof(seven, index, 7))).toEqual(path);
      expect(() => verifyInclusion(LEAF_HASHES[index], index, 7, path.map(hex), hex(ROOT[7]))).not.toThrow();
    });

    it.each([
      [3, [c, d, g, l]],
      [4, [l]],
      [6, [i, j, k]],
    ] as const)('PROOF(%i, D[7])', (m, proof) => {
      expect(hexes(consistencyProof(seven, m, 7))).toEqual(proof);
      expect(() => verifyConsistency(m, 7, hex(ROOT[m]), hex(ROOT[7]), proof.map(hex))).not.toThrow();
    });

    it('the size-7 root is k ‖ l', () => {
      expect(nodeHash(hex(k), hex(l)).toString('hex')).toBe(ROOT[7]);
      expect(nodeHash(hex(i), hex(j)).toString('hex')).toBe(l);
      expect(nodeHash(hex(a), hex(b)).toString('hex')).toBe(g);
    });
  });
});
