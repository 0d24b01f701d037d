import type { KeyObject } from 'node:crypto';
import { signBound, verifyBytes, verifyWithKey, type DetachedVerification } from '../signing/detached-signature';
import type { KeyRegistry } from '../signing/key-registry';
import { algorithmOf } from '../signing/signing-key';
import { CHECKPOINT_SIGNATURE_PURPOSE, checkpointBytes, checkpointSigningInput, type CheckpointBody, type SignedCheckpoint } from './checkpoint';

/** Signs a new checkpoint (version 2: its purpose, key and algorithm inside the signed bytes). */
export function signCheckpoint(keys: KeyRegistry, body: CheckpointBody): SignedCheckpoint {
  const signature = signBound(keys, (signer) => checkpointSigningInput(body, signer));
  return { ...body, signature: { alg: signature.alg, keyId: signature.keyId, value: signature.value, purpose: CHECKPOINT_SIGNATURE_PURPOSE } };
}

/** A checkpoint's signature against the registry (retired keys included, with their lifecycle). */
export function verifyCheckpoint(keys: KeyRegistry, checkpoint: SignedCheckpoint, subject: string): DetachedVerification {
  const bytes = checkpointBytes(checkpoint);
  if (!bytes) return { valid: false, fault: 'bad-signature', message: `${subject}: its signature's purpose ${JSON.stringify(checkpoint.signature.purpose)} is not a checkpoint's` };
  return verifyBytes(keys, bytes, checkpoint.signature, subject, checkpoint.issuedAt);
}

/** The bare check of an offline verifier holding one public key: alg, purpose and signature. */
export function checkpointVerifiesWith(key: KeyObject, checkpoint: SignedCheckpoint): boolean {
  const bytes = checkpointBytes(checkpoint);
  return bytes !== undefined && checkpoint.signature.alg === algorithmOf(key) && verifyWithKey(key, algorithmOf(key), bytes, checkpoint.signature.value);
}
