import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

/**
 * C2SP signed notes (https://c2sp.org/signed-note), checkpoints (https://c2sp.org/tlog-checkpoint)
 * and Ed25519 cosignatures (https://c2sp.org/tlog-cosignature, `cosignature/v1`), byte for byte,
 * so a Proofline checkpoint can be read — and a witness's cosignature checked — by existing
 * transparency tooling. Pure functions over strings and bytes; the byte layouts are in docs/ledger.md.
 */

/** Signature type bytes (signed-note, "Signature types"). */
export const SIGNATURE_TYPE = { ed25519: 0x01, cosignatureV1: 0x04, unassigned: 0xff } as const;

/** U+2014 EM DASH, then a space: the start of every signature line. */
export const SIGNATURE_LINE_PREFIX = '\u2014 ';

/** Verifiers must accept at least 16; more than this many signature lines is refused. */
export const MAX_SIGNATURES = 100;

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface NoteSignature {
  readonly name: string;
  /** The first four bytes of the decoded signature: the key ID, big-endian. */
  readonly keyId: Buffer;
  /** The bytes after the key ID. */
  readonly signature: Buffer;
}

export interface Note {
  /** The signed text, ending in a newline; the blank line before the signatures is not part of it. */
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

export class NoteFormatError extends Error {}

/** Whether `text` holds an ASCII control character (below U+0020), newline excepted when `newlineAllowed`. */
function hasControlCharacter(text: string, newlineAllowed: boolean): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 && !(newlineAllowed && code === 0x0a)) return true;
  }
  return false;
}

/** Key names are non-empty, without Unicode spaces or '+'. */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !/[\s+]/u.test(name) && !hasControlCharacter(name, false);
}

/** key ID = SHA-256(key name || 0x0A || signature type || public key)[:4] */
export function noteKeyId(name: string, type: Buffer | number, publicKey: Buffer): Buffer {
  const typeBytes = typeof type === 'number' ? Buffer.from([type]) : type;
  return createHash('sha256').update(Buffer.concat([Buffer.from(`${name}\n`, 'utf8'), typeBytes, publicKey])).digest().subarray(0, 4);
}

export function signatureLine(name: string, keyId: Buffer, signature: Buffer): string {
  return `${SIGNATURE_LINE_PREFIX}${name} ${Buffer.concat([keyId, signature]).toString('base64')}\n`;
}

export function formatNote(text: string, signatureLines: readonly string[]): string {
  return `${text}\n${signatureLines.join('')}`;
}

/** Strict RFC 4648 §4 base64: padded, standard alphabet, re-encoding to the same text. */
export function strictBase64(value: string): Buffer | undefined {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(value)) return undefined;
  const bytes = Buffer.from(value, 'base64');
  return bytes.toString('base64') === value ? bytes : undefined;
}

/** Parses one signature line (without its newline). */
export function parseSignatureLine(line: string): NoteSignature {
  if (!line.startsWith(SIGNATURE_LINE_PREFIX)) throw new NoteFormatError(`a signature line must start with an em dash and a space: ${JSON.stringify(line.slice(0, 40))}`);
  const rest = line.slice(SIGNATURE_LINE_PREFIX.length);
  const space = rest.lastIndexOf(' ');
  const name = space < 0 ? '' : rest.slice(0, space);
  if (!isValidKeyName(name)) throw new NoteFormatError(`the signature line's key name ${JSON.stringify(name)} is empty or holds a space or '+'`);
  const bytes = strictBase64(rest.slice(space + 1));
  if (!bytes || bytes.length < 5) throw new NoteFormatError(`the signature of ${name} is not base64 of a 4-byte key ID and a signature`);
  return { name, keyId: bytes.subarray(0, 4), signature: bytes.subarray(4) };
}

/** Parses a signed note: the text is everything up to the LAST blank line; then one or more signature lines. */
export function parseNote(note: string): Note {
  if (hasControlCharacter(note, true)) throw new NoteFormatError('a signed note holds no ASCII control character other than newline');
  if (!note.endsWith('\n')) throw new NoteFormatError('a signed note ends in a newline');
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw new NoteFormatError('a signed note has a blank line between its text and its signatures');
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split('\n');
  if (lines.length === 0 || lines[0] === '') throw new NoteFormatError('a signed note has at least one signature line');
  if (lines.length > MAX_SIGNATURES) throw new NoteFormatError(`a signed note with ${lines.length} signature lines is refused (at most ${MAX_SIGNATURES})`);
  return { text, signatures: lines.map(parseSignatureLine) };
}

/** tlog-checkpoint note text: origin, tree size (decimal), base64 root hash, each ending in a newline. */
export function checkpointText(origin: string, treeSize: number, rootHash: Buffer): string {
  if (!isValidKeyName(origin)) throw new NoteFormatError(`origin ${JSON.stringify(origin)} cannot be a checkpoint origin line`);
  return `${origin}\n${treeSize}\n${rootHash.toString('base64')}\n`;
}

export interface CheckpointLines {
  readonly origin: string;
  readonly treeSize: number;
  readonly rootHash: Buffer;
  readonly extensions: readonly string[];
}

export function parseCheckpointText(text: string): CheckpointLines {
  const lines = text.split('\n');
  if (lines.pop() !== '' || lines.length < 3) throw new NoteFormatError('a checkpoint has an origin, a size and a root hash line, each ending in a newline');
  const [origin, size, root, ...extensions] = lines;
  if (origin === '') throw new NoteFormatError('the checkpoint origin is empty');
  if (!/^(?:0|[1-9][0-9]{0,15})$/.test(size) || !Number.isSafeInteger(Number(size))) throw new NoteFormatError(`the checkpoint size ${JSON.stringify(size)} is not a decimal without leading zeroes`);
  const rootHash = strictBase64(root);
  if (!rootHash || rootHash.length !== 32) throw new NoteFormatError('the checkpoint root hash is not base64 of 32 bytes');
  if (extensions.some((line) => line === '')) throw new NoteFormatError('checkpoint extension lines are not empty');
  return { origin, treeSize: Number(size), rootHash, extensions };
}

// ---- Ed25519 keys ----

export function ed25519Raw(publicKey: KeyObject): Buffer {
  if (publicKey.asymmetricKeyType !== 'ed25519') throw new NoteFormatError(`an Ed25519 key is needed, not ${publicKey.asymmetricKeyType ?? 'unknown'}`);
  return publicKey.export({ format: 'der', type: 'spki' }).subarray(ED25519_SPKI_PREFIX.length);
}

export function ed25519FromRaw(raw: Buffer): KeyObject {
  if (raw.length !== 32) throw new NoteFormatError(`an Ed25519 public key is 32 bytes, not ${raw.length}`);
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

// ---- Verifier keys ----

export interface VerifierKey {
  readonly name: string;
  readonly keyId: Buffer;
  readonly type: number;
  readonly publicKey: KeyObject;
}

/** `<name>+<hex key ID>+<base64(type || key)>`, for Ed25519 (0x01) and Ed25519 cosignature (0x04) keys; the key ID must be the recommended one. */
export function parseVerifierKey(vkey: string): VerifierKey {
  // The name holds no '+' and the key ID is hex; the base64 after the second '+' may hold more.
  const parts = /^([^+]*)\+([^+]*)\+(.*)$/s.exec(vkey.trim());
  if (!parts) throw new NoteFormatError(`a verifier key is <name>+<hex key ID>+<base64 key>: ${JSON.stringify(vkey)}`);
  const [, name, idHex, material] = parts;
  if (!isValidKeyName(name)) throw new NoteFormatError(`the verifier key's name ${JSON.stringify(name)} is not a key name`);
  if (!/^[0-9a-f]{8}$/.test(idHex)) throw new NoteFormatError(`the verifier key's ID ${JSON.stringify(idHex)} is not 8 lowercase hex digits`);
  const bytes = strictBase64(material);
  if (!bytes || bytes.length !== 33) throw new NoteFormatError('the verifier key is not base64 of a type byte and a 32-byte Ed25519 key');
  const type = bytes[0];
  if (type !== SIGNATURE_TYPE.ed25519 && type !== SIGNATURE_TYPE.cosignatureV1) throw new NoteFormatError(`verifier key type 0x${type.toString(16).padStart(2, '0')} is not supported (0x01 Ed25519, 0x04 Ed25519 cosignature)`);
  const raw = bytes.subarray(1);
  const keyId = noteKeyId(name, type, raw);
  if (keyId.toString('hex') !== idHex) throw new NoteFormatError(`the verifier key's ID ${idHex} is not SHA-256(name, type, key)[:4] = ${keyId.toString('hex')}`);
  return { name, keyId, type, publicKey: ed25519FromRaw(raw) };
}

export function formatVerifierKey(name: string, type: number, publicKey: KeyObject): string {
  const raw = ed25519Raw(publicKey);
  return `${name}+${noteKeyId(name, type, raw).toString('hex')}+${Buffer.concat([Buffer.from([type]), raw]).toString('base64')}`;
}

// ---- Ed25519 note signatures (type 0x01) ----

export function signNoteEd25519(text: string, name: string, privateKey: KeyObject, publicKey: KeyObject): string {
  return signatureLine(name, noteKeyId(name, SIGNATURE_TYPE.ed25519, ed25519Raw(publicKey)), sign(null, Buffer.from(text, 'utf8'), privateKey));
}

/** Checks a type 0x01 (Ed25519) signature line of `key` over `text`. */
export function verifyNoteEd25519(text: string, line: NoteSignature, key: VerifierKey): boolean {
  return key.type === SIGNATURE_TYPE.ed25519 && line.name === key.name && line.keyId.equals(key.keyId) && line.signature.length === 64 && verify(null, Buffer.from(text, 'utf8'), key.publicKey, line.signature);
}

// ---- cosignature/v1 (type 0x04) ----

/** The bytes a cosignature/v1 signs: the header line, the time line, then the whole checkpoint text. */
export function cosignedMessage(text: string, timestamp: bigint): Buffer {
  return Buffer.from(`cosignature/v1\ntime ${timestamp.toString()}\n${text}`, 'utf8');
}

export function cosign(text: string, name: string, privateKey: KeyObject, publicKey: KeyObject, timestamp: bigint): string {
  const stamp = Buffer.alloc(8);
  stamp.writeBigUInt64BE(timestamp);
  const signature = sign(null, cosignedMessage(text, timestamp), privateKey);
  return signatureLine(name, noteKeyId(name, SIGNATURE_TYPE.cosignatureV1, ed25519Raw(publicKey)), Buffer.concat([stamp, signature]));
}

export type CosignatureCheck = { readonly valid: true; readonly timestamp: bigint } | { readonly valid: false; readonly message: string };

/** Checks one signature line of `witness` (a type 0x04 verifier key) over `text`. */
export function verifyCosignature(text: string, line: NoteSignature, witness: VerifierKey): CosignatureCheck {
  if (line.name !== witness.name || !line.keyId.equals(witness.keyId)) return { valid: false, message: `the line is from ${line.name}+${line.keyId.toString('hex')}, not ${witness.name}+${witness.keyId.toString('hex')}` };
  if (line.signature.length !== 72) return { valid: false, message: `a cosignature/v1 is an 8-byte timestamp and a 64-byte signature, not ${line.signature.length} bytes` };
  const timestamp = line.signature.readBigUInt64BE(0);
  if (timestamp >= 2n ** 63n) return { valid: false, message: 'the cosignature timestamp exceeds 2^63 - 1' };
  const ok = verify(null, cosignedMessage(text, timestamp), witness.publicKey, line.signature.subarray(8));
  return ok ? { valid: true, timestamp } : { valid: false, message: `the cosignature of ${witness.name} does not verify` };
}
