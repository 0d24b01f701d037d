import { half, isOdd } from './arith';
import { ProofError } from './errors';
import { emptyRoot, HASH_SIZE, nodeHash } from './hashes';

/**
 * Incremental RFC 6962 tree head (a compact range [0, size)): keeps only the roots of the perfect
 * subtrees that tile the leaves — one per set bit of `size`, largest (leftmost) first — so memory
 * is O(log n) and `append` costs amortised O(1) hashes (at most log2 n).
 *
 * Invariant: `root()` equals `rootFromLeafHashes(all appended hashes)` for every size. That holds
 * because MTH splits at the largest power of two below n, which is exactly the leftmost peak, so
 * folding the peaks right-to-left reproduces the recursive definition.
 *
 * Not thread-safe in any meaningful sense and not persistent: a process that restarts either
 * replays its leaf hashes or stores `peaks()`/`size` and calls `MerkleAccumulator.restore`.
 */
export class MerkleAccumulator {
  private readonly stack: Buffer[] = [];
  private count = 0;

  /** Number of leaves appended so far. */
  get size(): number {
    return this.count;
  }

  /** Appends the *leaf hash* (SHA-256(0x00 ‖ entry)), not the raw entry. */
  append(leafHash: Uint8Array): void {
    if (leafHash.length !== HASH_SIZE) {
      throw new ProofError('bad-hash', `leaf hash ${this.count} has ${leafHash.length} bytes, expected ${HASH_SIZE}`, {
        index: this.count,
        bytes: leafHash.length,
      });
    }
    let carry: Buffer = Buffer.from(leafHash);
    // Each trailing 1-bit of the old size is a peak of the same height as `carry`: merge them.
    for (let s = this.count; isOdd(s); s = half(s)) {
      carry = nodeHash(this.stack.pop() as Buffer, carry);
    }
    this.stack.push(carry);
    this.count += 1;
  }

  /** MTH of everything appended so far; the empty-tree hash SHA-256("") at size 0. */
  root(): Buffer {
    if (this.stack.length === 0) return emptyRoot();
    let acc = this.stack[this.stack.length - 1];
    for (let i = this.stack.length - 2; i >= 0; i--) acc = nodeHash(this.stack[i], acc);
    return acc;
  }

  /** Copies of the peak hashes, leftmost (largest subtree) first; enough to `restore` later. */
  peaks(): Buffer[] {
    return this.stack.map((h) => Buffer.from(h));
  }

  /**
   * Rebuilds an accumulator from a stored (size, peaks) pair. The peaks cannot be checked against
   * anything here — only their count and lengths — so they must come from trusted storage.
   */
  static restore(size: number, peaks: readonly Uint8Array[]): MerkleAccumulator {
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new ProofError('bad-sizes', `size ${String(size)} is not a non-negative safe integer`);
    }
    let expected = 0;
    for (let s = size; s > 0; s = half(s)) if (isOdd(s)) expected += 1;
    if (peaks.length !== expected) {
      throw new ProofError('wrong-length', `a tree of size ${size} has ${expected} peaks, got ${peaks.length}`, {
        size,
        expected,
        actual: peaks.length,
      });
    }
    const acc = new MerkleAccumulator();
    peaks.forEach((peak, i) => {
      if (peak.length !== HASH_SIZE) {
        throw new ProofError('bad-hash', `peak ${i} has ${peak.length} bytes, expected ${HASH_SIZE}`, { index: i, bytes: peak.length });
      }
      acc.stack.push(Buffer.from(peak));
    });
    acc.count = size;
    return acc;
  }

  static fromLeafHashes(leafHashes: Iterable<Uint8Array>): MerkleAccumulator {
    const acc = new MerkleAccumulator();
    for (const h of leafHashes) acc.append(h);
    return acc;
  }
}
