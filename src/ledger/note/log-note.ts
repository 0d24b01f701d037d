import { sign, verify, type KeyObject } from 'node:crypto';
import { ed25519Raw, noteKeyId, SIGNATURE_TYPE, type NoteSignature } from './signed-note';

/**
 * The log's own signature line on a checkpoint note, made with Proofline's signing key under the
 * key name = the checkpoint's origin (tlog-checkpoint: the log's key name SHOULD match the origin).
 *
 * - Ed25519 keys: a standard signed-note Ed25519 signature (type 0x01), which any C2SP tooling
 *   verifies given the vkey `proofline ledger vkey` prints.
 * - RSA keys: signed-note assigns no type to RSA, so the line uses the type reserved for that
 *   (0xff) followed by the identifier `proofline/rsa-pkcs1-sha256`, over the DER SubjectPublicKeyInfo:
 *   key ID = SHA-256(origin || 0x0A || 0xff || "proofline/rsa-pkcs1-sha256" || SPKI)[:4], and
 *   the signature is RSASSA-PKCS1-v1_5 with SHA-256 over the note text. Other tooling can read
 *   such a note but not check this line (it ignores it as an unknown key).
 */
export const RSA_NOTE_TYPE = Buffer.concat([Buffer.from([SIGNATURE_TYPE.unassigned]), Buffer.from('proofline/rsa-pkcs1-sha256', 'ascii')]);

/** The signature type bytes and public key material of `publicKey` in a note key ID. */
function keyMaterial(publicKey: KeyObject): { type: Buffer; material: Buffer; digest: 'sha256' | null } {
  if (publicKey.asymmetricKeyType === 'ed25519') return { type: Buffer.from([SIGNATURE_TYPE.ed25519]), material: ed25519Raw(publicKey), digest: null };
  if (publicKey.asymmetricKeyType === 'rsa') return { type: RSA_NOTE_TYPE, material: publicKey.export({ type: 'spki', format: 'der' }), digest: 'sha256' };
  throw new Error(`no note signature type for a ${publicKey.asymmetricKeyType ?? 'unknown'} key`);
}

export function logKeyId(origin: string, publicKey: KeyObject): Buffer {
  const { type, material } = keyMaterial(publicKey);
  return noteKeyId(origin, type, material);
}

/** The log's signature over a checkpoint note text: base64(key ID || signature), what follows `— <origin> ` in its line. */
export function signLogNote(text: string, origin: string, privateKey: KeyObject, publicKey: KeyObject): string {
  const { digest } = keyMaterial(publicKey);
  return Buffer.concat([logKeyId(origin, publicKey), sign(digest, Buffer.from(text, 'utf8'), privateKey)]).toString('base64');
}

/**
 * Whether the note carries a valid signature of the log `origin` by one of `trustedKeys`: the
 * first line whose name and key ID match a trusted key decides (signed-note: a failed known-key
 * signature rejects the note).
 */
export function logSignatureOf(text: string, signatures: readonly NoteSignature[], origin: string, trustedKeys: readonly KeyObject[]): { ok: boolean; message: string } {
  for (const key of trustedKeys) {
    let id: Buffer;
    try {
      id = logKeyId(origin, key);
    } catch {
      continue;
    }
    const line = signatures.find((signature) => signature.name === origin && signature.keyId.equals(id));
    if (!line) continue;
    const ok = verify(keyMaterial(key).digest, Buffer.from(text, 'utf8'), key, line.signature);
    return { ok, message: ok ? `the log's note signature ${origin}+${id.toString('hex')} verifies` : `the log's note signature ${origin}+${id.toString('hex')} does not verify` };
  }
  return { ok: false, message: `no note signature of ${origin} by a trusted key` };
}
