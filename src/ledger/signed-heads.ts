import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonDurably } from './durable-file';
import type { KeyRegistry } from '../signing/key-registry';
import type { SignedCheckpoint } from './checkpoint';

/** What a new checkpoint must extend: the last signed head, or the head an operator accepted by a rewind (unsigned). */
export type KeptHead = Pick<SignedCheckpoint, 'origin' | 'treeSize' | 'rootHash'> & Partial<Pick<SignedCheckpoint, 'issuedAt' | 'signature'>>;

/** A signed head of a history an operator gave up by a rewind: never again a head to extend. */
export type GivenUpHead = Pick<SignedCheckpoint, 'treeSize' | 'rootHash'>;

/** What a registry without a data dir keeps in memory, per origin. */
interface InMemoryHeads {
  readonly heads: Map<string, KeptHead>;
  readonly givenUp: Map<string, GivenUpHead[]>;
}

/**
 * The last head this signer signed for each log, kept OUTSIDE the database — beside the signing
 * key, in `<dataDir>/keys/heads/` — so an operator who rewrites the database cannot make the
 * signer forget what it signed. The builder signs a new head only with a valid consistency
 * proof from this one (receipt-builder.ts). Each file is written to a temporary name, synced
 * and renamed, so a crash leaves the old head or the new one, never half of either.
 *
 * A registry without a data dir (tests, benchmarks) keeps the heads in memory, shared by every
 * builder over that registry: a "restart" in a test is a new builder over the same keys.
 */
export class SignedHeads {
  private static readonly inMemory = new WeakMap<KeyRegistry, InMemoryHeads>();

  private constructor(
    private readonly directory: string | undefined,
    private readonly memory: InMemoryHeads,
  ) {}

  /**
   * The heads of the signer over `keys`: in `sharedDirectory` when given (PROOFLINE_LEDGER_HEADS_DIR,
   * one volume for every instance that may build, so a standby taking over knows what the last
   * holder signed), else in `<keys dir>/heads`.
   */
  static beside(keys: KeyRegistry, sharedDirectory?: string): SignedHeads {
    let memory = SignedHeads.inMemory.get(keys);
    if (!memory) SignedHeads.inMemory.set(keys, (memory = { heads: new Map(), givenUp: new Map() }));
    if (sharedDirectory) return new SignedHeads(sharedDirectory, memory);
    const directory = keys.directoryPath;
    return new SignedHeads(directory ? join(directory, 'heads') : undefined, memory);
  }

  /** The last head signed for `origin`, or undefined before the first. */
  read(origin: string): KeptHead | undefined {
    if (!this.directory) return this.memory.heads.get(origin);
    const path = this.pathOf(origin);
    if (!existsSync(path)) return undefined;
    const kept = JSON.parse(readFileSync(path, 'utf8')) as KeptHead;
    if (kept.origin !== origin) throw new Error(`${path} holds the head of ${kept.origin}, not of ${origin}`);
    return kept;
  }

  /** Records `head` as the last one signed for its origin; call before the signature leaves the process. */
  write(head: KeptHead): void {
    if (!this.directory) {
      this.memory.heads.set(head.origin, head);
      return;
    }
    writeJsonDurably(this.pathOf(head.origin), head);
  }

  /**
   * The operator's explicit rewind after a legitimate restore: `accepted` (the head of the
   * restored database, which does not extend the kept one) becomes the head new checkpoints must
   * extend. The head given up is appended to `heads/rewinds.jsonl` with the reason, never lost.
   */
  rewind(accepted: KeptHead, reason: string, now: Date, givenUp: readonly GivenUpHead[] = []): KeptHead | undefined {
    const previous = this.read(accepted.origin);
    if (this.directory) {
      mkdirSync(this.directory, { recursive: true, mode: 0o700 });
      appendFileSync(join(this.directory, 'rewinds.jsonl'), JSON.stringify({ at: now.toISOString(), reason, gaveUp: previous ?? null, accepted }) + '\n', { mode: 0o600 });
    }
    const all = [...this.givenUp(accepted.origin), ...givenUp];
    if (this.directory) writeJsonDurably(this.givenUpPathOf(accepted.origin), all);
    else this.memory.givenUp.set(accepted.origin, all);
    this.write(accepted);
    return previous;
  }

  /**
   * The signed heads in the store that rewinds of `origin` gave up (they belong to the history the
   * restore replaced): by size and root, never by time, so no clock decides what is extended.
   */
  givenUp(origin: string): GivenUpHead[] {
    if (!this.directory) return this.memory.givenUp.get(origin) ?? [];
    const path = this.givenUpPathOf(origin);
    return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as GivenUpHead[]) : [];
  }

  private givenUpPathOf(origin: string): string {
    return this.pathOf(origin).replace(/\.json$/, '.given-up.json');
  }

  private pathOf(origin: string): string {
    // The origin holds a tenant id, which may hold any character: the file is named by its hash.
    return join(this.directory!, `${createHash('sha256').update(origin, 'utf8').digest('hex').slice(0, 32)}.json`);
  }
}
