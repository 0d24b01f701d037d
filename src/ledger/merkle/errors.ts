/**
 * Why a proof (or a request for one) was rejected. Stable strings: callers branch on them.
 *  - 'bad-index'    a leaf index outside [0, treeSize), or not a safe non-negative integer.
 *  - 'bad-sizes'    tree sizes that cannot be related: first > second, size 0 where a
 *                   non-empty tree is required, more leaves asked for than exist, non-integers.
 *  - 'bad-hash'     a hash (leaf, root or proof element) that is not 32 bytes.
 *  - 'wrong-length' the proof has a different number of hashes than (index, size) or
 *                   (size1, size2) dictate; no hashing is done in that case.
 *  - 'root-mismatch' the proof is well-formed but does not reproduce the expected root.
 */
export type ProofErrorKind = 'bad-index' | 'bad-sizes' | 'bad-hash' | 'wrong-length' | 'root-mismatch';

/**
 * Thrown by the verifiers and by the proof builders for bad arguments. Messages carry the
 * numbers ("inclusion proof has 5 hashes, tree of size 9 needs 4") so a log line is enough to
 * reproduce the failure; `details` carries the same numbers for structured logging.
 */
export class ProofError extends Error {
  constructor(
    readonly kind: ProofErrorKind,
    message: string,
    readonly details: Readonly<Record<string, number>> = {},
  ) {
    super(message);
    this.name = 'ProofError';
  }
}
