import type { KeyObject } from 'node:crypto';
import type { SignedCheckpoint } from '../checkpoint';
import type { StoredCheckpoint, StoredCosignature } from '../ledger-repository';
import { logSignatureOf } from './log-note';
import { checkpointText, formatNote, NoteFormatError, parseNote, SIGNATURE_LINE_PREFIX, verifyCosignature, type VerifierKey } from './signed-note';

const isRootHex = (value: unknown): value is string => typeof value === 'string' && /^[0-9a-f]{64}$/.test(value);

/** The tlog-checkpoint text of a Proofline checkpoint: origin, size, base64 of the root. */
export function noteTextOf(checkpoint: Pick<SignedCheckpoint, 'origin' | 'treeSize' | 'rootHash'>): string {
  // Buffer.from(hex) stops silently at the first non-hex character: a root with junk after it would give the same note.
  if (!isRootHex(checkpoint.rootHash)) throw new NoteFormatError(`the root hash ${JSON.stringify(checkpoint.rootHash)} is not 64 lowercase hex digits`);
  if (!Number.isSafeInteger(checkpoint.treeSize) || checkpoint.treeSize < 0) throw new NoteFormatError(`the tree size ${JSON.stringify(checkpoint.treeSize)} is not a whole number`);
  return checkpointText(checkpoint.origin, checkpoint.treeSize, Buffer.from(checkpoint.rootHash, 'hex'));
}

/** The checkpoint as served: without its row's bookkeeping, with its signed note (log signature, then cosignatures) when it has one. */
export function presentCheckpoint(stored: StoredCheckpoint, cosignatures: readonly StoredCosignature[] = []): SignedCheckpoint {
  const { eventId: _eventId, noteSignature, note: _note, ...checkpoint } = stored;
  if (!noteSignature) return checkpoint;
  let text: string;
  try {
    text = noteTextOf(checkpoint);
  } catch (error) {
    // A row whose head cannot be a note (a planted root that is not hex, an origin with a space) is served as it is, without one: ledger verify names it.
    if (error instanceof NoteFormatError) return checkpoint;
    throw error;
  }
  const lines = [`${SIGNATURE_LINE_PREFIX}${checkpoint.origin} ${noteSignature}\n`, ...cosignatures.map((c) => `${SIGNATURE_LINE_PREFIX}${c.witnessName} ${c.signature}\n`)];
  return { ...checkpoint, note: formatNote(text, lines) };
}

export interface WitnessCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly message: string;
  /** The witnesses (of those given) whose cosignature verifies. */
  readonly cosignedBy: readonly string[];
}

/**
 * A verifier's witness policy: `checkpoint.note` must be exactly this checkpoint's head, and carry
 * valid cosignatures from at least `min` of `witnesses` (type 0x04 verifier keys; each counted
 * once). A cosignature line that names a given witness's key but does not verify fails the check.
 * With `trustedKeys`, the log's own note signature must verify too.
 */
export function witnessCheck(checkpoint: SignedCheckpoint, witnesses: readonly VerifierKey[], min: number, trustedKeys?: readonly KeyObject[]): WitnessCheck {
  const name = `witnesses of the checkpoint of size ${checkpoint.treeSize}`;
  const fail = (message: string, cosignedBy: string[] = []): WitnessCheck => ({ name, ok: false, message, cosignedBy });
  if (typeof checkpoint.note !== 'string') return fail(`the checkpoint carries no signed note, so no cosignature (${min} required)`);
  let note;
  let head;
  try {
    note = parseNote(checkpoint.note);
    head = noteTextOf(checkpoint);
  } catch (error) {
    if (error instanceof NoteFormatError) return fail(`its note or head is not a checkpoint note: ${error.message}`);
    throw error;
  }
  if (note.text !== head) return fail(`its note is the head ${JSON.stringify(note.text)}, not this checkpoint's (${checkpoint.origin}, ${checkpoint.treeSize}, ${checkpoint.rootHash})`);
  if (trustedKeys) {
    const log = logSignatureOf(note.text, note.signatures, checkpoint.origin, trustedKeys);
    if (!log.ok) return fail(log.message);
  }
  const cosignedBy: string[] = [];
  const seen = new Set<string>();
  for (const witness of witnesses) {
    const id = `${witness.name}+${witness.keyId.toString('hex')}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const line = note.signatures.find((signature) => signature.name === witness.name && signature.keyId.equals(witness.keyId));
    if (!line) continue;
    const verified = verifyCosignature(note.text, line, witness);
    if (!verified.valid) return fail(`the cosignature line of witness ${id} does not verify: ${verified.message}`, cosignedBy);
    cosignedBy.push(`${witness.name} at ${new Date(Number(verified.timestamp) * 1000).toISOString()}`);
  }
  const ok = cosignedBy.length >= min;
  return {
    name,
    ok,
    cosignedBy,
    message: `${cosignedBy.length} of the ${seen.size} given witnesses cosigned it${cosignedBy.length ? ` (${cosignedBy.join(', ')})` : ''}; ${min} required`,
  };
}
