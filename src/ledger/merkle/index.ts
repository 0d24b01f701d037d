export { MerkleAccumulator } from './accumulator';
export { ProofError, type ProofErrorKind } from './errors';
export { emptyRoot, HASH_SIZE, LEAF_PREFIX, leafHash, NODE_PREFIX, nodeHash } from './hashes';
export { consistencyProof, inclusionProof, rootFromLeafHashes } from './tree';
export {
  isValidConsistency,
  isValidInclusion,
  rootFromConsistencyProof,
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion,
} from './verify';
export * from './batch';
