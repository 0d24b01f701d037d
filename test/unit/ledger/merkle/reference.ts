import { createHash } from 'node:crypto';

/**
 * A deliberately naive, recursive transcription of RFC 6962 §2.1 (MTH, PATH, PROOF/SUBPROOF),
 * sharing no code with src/ledger/merkle. Used as the oracle in the property tests, both over
 * real SHA-256 hashes and over symbolic terms (strings) that show which hashes a proof binds.
 */

type Range = readonly [lo: number, hi: number];

const sha = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

export const refLeafHash = (leaf: Uint8Array): Buffer => sha(Buffer.from([0]), leaf);

function k(n: number): number {
  let p = 1;
  while (p * 2 < n) p *= 2;
  return p;
}

/** MTH(D[lo:hi]) by the recursive definition. */
export function refRoot(leafHashes: readonly Buffer[], lo = 0, hi = leafHashes.length): Buffer {
  if (hi - lo === 0) return sha();
  if (hi - lo === 1) return leafHashes[lo];
  const mid = lo + k(hi - lo);
  return sha(Buffer.from([1]), refRoot(leafHashes, lo, mid), refRoot(leafHashes, mid, hi));
}

/** The leaf ranges whose MTHs form PATH(m, D[lo:hi]), bottom-up. */
export function pathRanges(m: number, lo: number, hi: number): Range[] {
  if (hi - lo <= 1) return [];
  const mid = lo + k(hi - lo);
  return m < mid ? [...pathRanges(m, lo, mid), [mid, hi]] : [...pathRanges(m, mid, hi), [lo, mid]];
}

/** The leaf ranges whose MTHs form SUBPROOF(m, D[lo:hi], b), m counted from lo. */
export function subproofRanges(m: number, lo: number, hi: number, b: boolean): Range[] {
  if (m === hi - lo) return b ? [] : [[lo, hi]];
  const mid = lo + k(hi - lo);
  return m <= mid - lo
    ? [...subproofRanges(m, lo, mid, b), [mid, hi]]
    : [...subproofRanges(m - (mid - lo), mid, hi, false), [lo, mid]];
}

export const refInclusionProof = (leafHashes: readonly Buffer[], index: number, size: number): Buffer[] =>
  pathRanges(index, 0, size).map(([lo, hi]) => refRoot(leafHashes, lo, hi));

export const refConsistencyProof = (leafHashes: readonly Buffer[], m: number, n: number): Buffer[] =>
  m === n ? [] : subproofRanges(m, 0, n, true).map(([lo, hi]) => refRoot(leafHashes, lo, hi));

/** MTH(D[lo:hi]) as a term over leaf names, e.g. "((L0,L1),L2)". Equal terms ⇔ equal hashes (w.h.p.). */
export function term(lo: number, hi: number): string {
  if (hi - lo === 1) return `L${lo}`;
  const mid = lo + k(hi - lo);
  return `(${term(lo, mid)},${term(mid, hi)})`;
}

/**
 * Rebuilds MTH(D[lo:hi]) of a tree shaped by `ranges` whose j-th node is given the value
 * `values[j]`, plus any `known` range → value pairs; undefined if some leaf is not covered.
 */
function rebuild(lo: number, hi: number, ranges: readonly Range[], values: readonly string[], known: ReadonlyMap<string, string>): string | undefined {
  const key = `${lo}:${hi}`;
  const j = ranges.findIndex(([a, b]) => a === lo && b === hi);
  if (j >= 0) return values[j];
  if (known.has(key)) return known.get(key);
  if (hi - lo <= 1) return undefined;
  const mid = lo + k(hi - lo);
  const left = rebuild(lo, mid, ranges, values, known);
  const right = rebuild(mid, hi, ranges, values, known);
  return left === undefined || right === undefined ? undefined : `(${left},${right})`;
}

/**
 * Would the genuine inclusion proof for (index, size) verify when presented as (index2, size2)
 * against the same leaf and root? Decided symbolically from the recursive definition: the
 * verifier for (index2, size2) assigns each proof hash to the node PATH(index2, size2) puts there,
 * so it passes exactly when that tree rebuilds the same term as the real root.
 */
export function inclusionMutationHolds(index: number, size: number, index2: number, size2: number): boolean {
  if (index2 < 0 || index2 >= size2) return false;
  const values = pathRanges(index, 0, size).map(([lo, hi]) => term(lo, hi));
  const ranges = pathRanges(index2, 0, size2);
  if (ranges.length !== values.length) return false;
  const known = new Map([[`${index2}:${index2 + 1}`, `L${index}`]]);
  return rebuild(0, size2, ranges, values, known) === term(0, size);
}

/**
 * Same question for the consistency proof (m, n) presented as (m2, n2) against the real roots.
 * The verifier checks the old root only when m2 is not a power of two (otherwise root1 is an
 * input it trusts and places at [0, m2)), and always rebuilds the new root.
 */
export function consistencyMutationHolds(m: number, n: number, m2: number, n2: number): boolean {
  if (m2 < 1 || m2 > n2) return false;
  const values = (m === n ? [] : subproofRanges(m, 0, n, true)).map(([lo, hi]) => term(lo, hi));
  const ranges = m2 === n2 ? [] : subproofRanges(m2, 0, n2, true);
  if (ranges.length !== values.length) return false;
  if (m2 === n2) return term(0, m) === term(0, n);
  const m2IsPow2 = (m2 & (m2 - 1)) === 0;
  if (!m2IsPow2 && rebuild(0, m2, ranges, values, new Map()) !== term(0, m)) return false;
  const known = new Map(m2IsPow2 ? [[`0:${m2}`, term(0, m)]] : []);
  return rebuild(0, n2, ranges, values, known) === term(0, n);
}
