import { createHash } from 'node:crypto';

/**
 * RFC 6962 §2.1 / RFC 9162 §2.1.1 hashing, SHA-256 only.
 *
 * The one-byte domain separation prefixes are what stop a second-preimage attack: without them
 * an interior node's 64-byte input (left ‖ right) could be presented as a leaf. Every hash that
 * enters a tree must therefore come from `leafHash`, never from hashing raw leaf bytes directly.
 */

/** Length in bytes of every hash this library produces or accepts. */
export const HASH_SIZE = 32;

/** Prefix for leaf hashes: MTH({d}) = SHA-256(0x00 ‖ d). */
export const LEAF_PREFIX = 0x00;

/** Prefix for interior nodes: SHA-256(0x01 ‖ left ‖ right). */
export const NODE_PREFIX = 0x01;

const LEAF_PREFIX_BYTES = Uint8Array.of(LEAF_PREFIX);
const NODE_PREFIX_BYTES = Uint8Array.of(NODE_PREFIX);

/** MTH({}) = SHA-256 of the empty string. Not the same as the hash of an empty leaf. */
export function emptyRoot(): Buffer {
  return createHash('sha256').digest();
}

/** SHA-256(0x00 ‖ leaf). `leaf` is the raw entry bytes (may be empty). */
export function leafHash(leaf: Uint8Array): Buffer {
  return createHash('sha256').update(LEAF_PREFIX_BYTES).update(leaf).digest();
}

/**
 * SHA-256(0x01 ‖ left ‖ right). Callers pass 32-byte hashes; the length is not checked here
 * because this is the hot path, so every public entry point validates hashes before hashing.
 */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(NODE_PREFIX_BYTES).update(left).update(right).digest();
}
