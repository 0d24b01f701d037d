import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonDurably } from '../durable-file';
import { emptyRoot } from '../merkle/hashes';
import { isValidConsistency } from '../merkle/verify';
import { logSignatureOf } from '../note/log-note';
import { cosign, formatNote, formatVerifierKey, isValidKeyName, NoteFormatError, parseCheckpointText, parseNote, SIGNATURE_TYPE, strictBase64 } from '../note/signed-note';

/**
 * A witness (C2SP tlog-witness): its own Ed25519 key and its own record, per log origin, of the
 * last checkpoint it cosigned — both in its own directory, never in Proofline's database. It
 * cosigns a checkpoint only when the request's old size is the size it holds and the
 * consistency proof from the root it holds verifies: it never cosigns a fork (same size, other
 * root; a smaller tree; a larger tree without a valid proof), and its record survives restarts.
 */

/** The logs a witness trusts: an exact origin, or every origin starting with a prefix (`proofline/*`), with the log's public keys. */
export interface TrustedLog {
  readonly origin: string;
  readonly keys: readonly KeyObject[];
}

export interface WitnessAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

interface CosignedHead {
  readonly origin: string;
  readonly treeSize: number;
  /** base64, as in the checkpoint */
  readonly rootHash: string;
  readonly cosignedAt: string;
  /** The checkpoint with the log's signature(s) and this witness's cosignature (served to monitors). */
  readonly note: string;
}

const KEY_FILE = 'witness-key.pem';
const NAME_FILE = 'witness.json';
const LOCK_FILE = 'witness.lock';
const MAX_PROOF_LINES = 63;

const text = (status: number, body: string, contentType = 'text/plain; charset=utf-8'): WitnessAnswer => ({ status, contentType, body: body.endsWith('\n') ? body : `${body}\n` });

export class Witness {
  private queue: Promise<unknown> = Promise.resolve();
  private released = false;

  private constructor(
    readonly directory: string,
    readonly name: string,
    private readonly privateKey: KeyObject,
    private readonly publicKey: KeyObject,
    private readonly logs: readonly TrustedLog[],
    private readonly clock: () => Date,
  ) {}

  /** Creates a witness directory: a new Ed25519 key (0600) and its name. Refuses to overwrite one. */
  static init(directory: string, name: string): string {
    if (!isValidKeyName(name)) throw new Error(`the witness name ${JSON.stringify(name)} must be non-empty, without spaces or '+' (a schema-less URL such as witness.example.com/w1)`);
    if (existsSync(join(directory, KEY_FILE))) throw new Error(`${join(directory, KEY_FILE)} exists: this directory already holds a witness`);
    mkdirSync(join(directory, 'logs'), { recursive: true, mode: 0o700 });
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    writeFileSync(join(directory, KEY_FILE), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    writeFileSync(join(directory, NAME_FILE), JSON.stringify({ name }, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    return formatVerifierKey(name, SIGNATURE_TYPE.cosignatureV1, publicKey);
  }

  /** Reads the witness's key and name; with `lock`, takes the directory for this process (one witness process per directory). */
  static open(directory: string, logs: readonly TrustedLog[], options: { lock?: boolean; clock?: () => Date } = {}): Witness {
    const keyPath = join(directory, KEY_FILE);
    if (!existsSync(keyPath)) throw new Error(`${keyPath} does not exist: create the witness with 'proofline witness init --dir ${directory} --name <name>'`);
    const privateKey = createPrivateKey(readFileSync(keyPath, 'utf8'));
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`${keyPath} is not an Ed25519 key`);
    const { name } = JSON.parse(readFileSync(join(directory, NAME_FILE), 'utf8')) as { name: string };
    if (options.lock) takeLock(join(directory, LOCK_FILE));
    return new Witness(directory, name, privateKey, createPublicKey(privateKey), logs, options.clock ?? (() => new Date()));
  }

  /** The witness's verifier key: `<name>+<key ID>+<base64(0x04 || key)>`, what verifiers pass as --witness. */
  vkey(): string {
    return formatVerifierKey(this.name, SIGNATURE_TYPE.cosignatureV1, this.publicKey);
  }

  close(): void {
    if (this.released) return;
    this.released = true;
    const lock = join(this.directory, LOCK_FILE);
    if (existsSync(lock) && readFileSync(lock, 'utf8').trim() === String(process.pid)) unlinkSync(lock);
  }

  /** The checkpoint last cosigned for `origin`, with the cosignature (tlog-witness monitor retrieval), or undefined. */
  cosigned(origin: string): CosignedHead | undefined {
    const path = this.statePath(origin);
    if (!existsSync(path)) return undefined;
    const head = JSON.parse(readFileSync(path, 'utf8')) as CosignedHead;
    if (head.origin !== origin) throw new Error(`${path} holds the head of ${head.origin}, not of ${origin}`);
    return head;
  }

  cosignedByOriginHash(originHash: string): CosignedHead | undefined {
    const path = join(this.directory, 'logs', `${originHash}.json`);
    if (!/^[0-9a-f]{64}$/.test(originHash) || !existsSync(path)) return undefined;
    return JSON.parse(readFileSync(path, 'utf8')) as CosignedHead;
  }

  /** POST /add-checkpoint (tlog-witness): one request at a time, so a check and its update are atomic. */
  addCheckpoint(body: string): Promise<WitnessAnswer> {
    const run = this.queue.then(() => this.add(body));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private add(body: string): WitnessAnswer {
    const split = body.indexOf('\n\n');
    if (split < 0) return text(400, 'the body is an old size line, consistency proof lines, a blank line and a checkpoint');
    const header = body.slice(0, split).split('\n');
    const old = /^old (0|[1-9][0-9]{0,15})$/.exec(header[0]);
    if (!old) return text(400, `the first line must be "old <size>" (decimal, no leading zeroes), not ${JSON.stringify(header[0])}`);
    const oldSize = Number(old[1]);
    const proofLines = header.slice(1);
    if (proofLines.length > MAX_PROOF_LINES) return text(400, `at most ${MAX_PROOF_LINES} consistency proof lines, not ${proofLines.length}`);
    const proof: Buffer[] = [];
    for (const line of proofLines) {
      const hash = strictBase64(line);
      if (!hash || hash.length !== 32) return text(400, `a consistency proof line is the base64 of a 32-byte hash, not ${JSON.stringify(line.slice(0, 60))}`);
      proof.push(hash);
    }
    let note;
    let checkpoint;
    try {
      note = parseNote(body.slice(split + 2));
      checkpoint = parseCheckpointText(note.text);
    } catch (error) {
      if (error instanceof NoteFormatError) return text(400, error.message);
      throw error;
    }
    // Every --log entry naming this origin counts (e.g. the log's key before and after a rotation), not only the first.
    const logs = this.logs.filter((candidate) => (candidate.origin.endsWith('*') ? checkpoint.origin.startsWith(candidate.origin.slice(0, -1)) : candidate.origin === checkpoint.origin));
    if (logs.length === 0) return text(404, `this witness does not know the log ${checkpoint.origin}`);
    const signed = logSignatureOf(note.text, note.signatures, checkpoint.origin, logs.flatMap((log) => log.keys));
    if (!signed.ok) return text(403, signed.message);
    if (oldSize > checkpoint.treeSize) return text(400, `old size ${oldSize} is larger than the checkpoint's size ${checkpoint.treeSize}`);
    const held = this.cosigned(checkpoint.origin);
    const heldSize = held?.treeSize ?? 0;
    if (oldSize !== heldSize) return text(409, String(heldSize), 'text/x.tlog.size');
    if (checkpoint.treeSize === 0 && !checkpoint.rootHash.equals(emptyRoot())) return text(422, 'a checkpoint of size 0 has the root hash of the empty tree');
    if (oldSize === 0) {
      if (proof.length > 0) return text(422, 'from old size 0 the consistency proof is empty');
    } else if (oldSize === checkpoint.treeSize) {
      // tlog-witness: the size it holds with another root is a 409 naming that size (a fork, never cosigned).
      if (checkpoint.rootHash.toString('base64') !== held!.rootHash) return text(409, String(heldSize), 'text/x.tlog.size');
      if (proof.length > 0) return text(422, `from size ${oldSize} to the same size the consistency proof is empty, not ${proof.length} hashes`);
    } else if (!isValidConsistency(oldSize, checkpoint.treeSize, Buffer.from(held!.rootHash, 'base64'), checkpoint.rootHash, proof)) {
      return text(422, `no valid consistency proof from size ${oldSize} root ${held!.rootHash} to size ${checkpoint.treeSize} root ${checkpoint.rootHash.toString('base64')} (${proof.length} hashes): a fork is never cosigned`);
    }
    const now = this.clock();
    const line = cosign(note.text, this.name, this.privateKey, this.publicKey, BigInt(Math.floor(now.getTime() / 1000)));
    const logLines = body.slice(split + 2).slice(note.text.length + 1);
    this.persist({ origin: checkpoint.origin, treeSize: checkpoint.treeSize, rootHash: checkpoint.rootHash.toString('base64'), cosignedAt: now.toISOString(), note: formatNote(note.text, [logLines, line]) });
    return text(200, line);
  }

  private persist(head: CosignedHead): void {
    writeJsonDurably(this.statePath(head.origin), head);
  }

  private statePath(origin: string): string {
    return join(this.directory, 'logs', `${originHash(origin)}.json`);
  }
}

/** Lowercase hex SHA-256 of the origin: the witness's file name for a log and its monitoring path. */
export function originHash(origin: string): string {
  return createHash('sha256').update(origin, 'utf8').digest('hex');
}

/** One process per witness directory: a lock file holding the pid; a lock left by a dead process is taken over. */
function takeLock(path: string): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number(readFileSync(path, 'utf8').trim());
      if (Number.isSafeInteger(pid) && pid > 0 && isAlive(pid)) throw new Error(`another witness process (pid ${pid}) holds ${path}`);
      unlinkSync(path);
    }
  }
  throw new Error(`could not take ${path}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
