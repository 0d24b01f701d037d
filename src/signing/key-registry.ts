import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import type { SigningKeyType } from '../config/proofline-config';
import { issueSelfSignedCertificate } from './certificate';
import { algorithmOf, generateKeyPair, keyIdOf, keyTypeOf, type PublishedKey, type SigningKey } from './signing-key';

export interface KeyRegistryOptions {
  /** Where keys live (`<dataDir>/keys`); undefined keeps them in memory only (tests, benchmarks). */
  readonly dataDir?: string;
  readonly keyType: SigningKeyType;
  /** A PKCS#8 PEM private key from the environment; it becomes the active key and is never written to disk. */
  readonly privateKeyPem?: string;
  readonly now?: () => Date;
  /**
   * For commands that only verify (`events verify`, `ledger verify`, `keys list`): the registry
   * is read as it is, never rotated or written, whatever PROOFLINE_SIGNING_KEY_TYPE says.
   */
  readonly readOnly?: boolean;
  /**
   * What rotation does with the retired key's private half: move it to `keys/retired/` (default),
   * out of the signing path — it is never loaded again — or delete it.
   */
  readonly retiredPrivateKeys?: 'archive' | 'delete';
}

interface RegistryFile {
  readonly keys: PublishedKey[];
}

const CERTIFICATE_VALIDITY_DAYS = 3650;

/**
 * The signing keys of this Proofline instance: one active key signs, every key ever active
 * stays published so old events keep verifying. Private keys are written with mode 0600.
 */
export class KeyRegistry {
  private readonly keys = new Map<string, SigningKey>();
  private activeKeyId = '';

  private constructor(private readonly options: KeyRegistryOptions) {}

  static open(options: KeyRegistryOptions): KeyRegistry {
    const registry = new KeyRegistry(options);
    registry.load();
    // A read-only open neither adopts PROOFLINE_SIGNING_KEY (that retires the active key) nor rotates: it writes nothing.
    if (options.readOnly) return registry;
    if (options.privateKeyPem) registry.adoptEnvironmentKey(options.privateKeyPem);
    registry.archiveRetiredPrivateKeys();
    const active = registry.keys.get(registry.activeKeyId);
    // No private half: the active key came from PROOFLINE_SIGNING_KEY on an earlier boot and is never on disk.
    if (!active?.privateKey || (!options.privateKeyPem && keyTypeOf(active.alg) !== options.keyType)) registry.rotate();
    return registry;
  }

  active(): SigningKey & { privateKey: KeyObject } {
    const key = this.keys.get(this.activeKeyId);
    if (!key?.privateKey) throw new Error('the key registry has no active signing key');
    return key as SigningKey & { privateKey: KeyObject };
  }

  /** `<dataDir>/keys`: the key holder's directory (the ledger keeps its signed heads there); undefined in memory. */
  get directoryPath(): string | undefined {
    return this.directory();
  }

  get(keyId: string): SigningKey | undefined {
    return this.keys.get(keyId);
  }

  published(): PublishedKey[] {
    return [...this.keys.values()].map(publish);
  }

  /**
   * Makes a fresh key of the configured type active. The previous one is retired: its public half
   * stays published (what it signed before keeps verifying; what is dated after its retirement
   * does not), its private half leaves the signing path (keys/retired/, or deleted by option).
   */
  rotate(): SigningKey {
    const pair = generateKeyPair(this.options.keyType);
    const key = this.describe(pair.publicKey, pair.privateKey);
    this.retireActive();
    this.keys.set(key.keyId, key);
    this.activeKeyId = key.keyId;
    this.persist(key);
    this.archiveRetiredPrivateKeys();
    return key;
  }

  /**
   * Revokes `keyId` from `from` on (a compromise): everything it signed dated from then on is
   * invalid, and `ledger verify` flags it. Revoking the active key rotates first.
   */
  revoke(keyId: string, from: Date): SigningKey {
    const key = this.keys.get(keyId);
    if (!key) throw new Error(`no key ${keyId} in the registry`);
    if (keyId === this.activeKeyId) this.rotate();
    const revoked = { ...this.keys.get(keyId)!, status: 'revoked' as const, revokedAt: from.toISOString(), privateKey: undefined };
    this.keys.set(keyId, revoked);
    this.persist();
    this.archiveRetiredPrivateKeys();
    return revoked;
  }

  private adoptEnvironmentKey(pem: string): void {
    const privateKey = createPrivateKey(pem);
    const publicKey = createPublicKey(privateKey);
    const keyId = keyIdOf(publicKey);
    if (this.activeKeyId === keyId) {
      this.keys.set(keyId, { ...this.keys.get(keyId)!, privateKey });
      return;
    }
    const known = this.keys.get(keyId);
    if (known?.revokedAt) throw new Error(`PROOFLINE_SIGNING_KEY is key ${keyId}, revoked from ${known.revokedAt}: it never signs again`);
    const key = known ? { ...known, status: 'active' as const, activeFrom: this.now().toISOString(), retiredAt: undefined, privateKey } : this.describe(publicKey, privateKey);
    this.retireActive();
    this.keys.set(keyId, key);
    this.activeKeyId = keyId;
    this.persist();
  }

  private describe(publicKey: KeyObject, privateKey: KeyObject): SigningKey {
    const keyId = keyIdOf(publicKey);
    const now = this.now();
    return {
      keyId,
      alg: algorithmOf(publicKey),
      status: 'active',
      createdAt: now.toISOString(),
      activeFrom: now.toISOString(),
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      certificatePem: issueSelfSignedCertificate({
        privateKey,
        publicKey,
        subject: { commonName: `Proofline signing key ${keyId}`, organization: 'Proofline' },
        notBefore: now,
        validityDays: CERTIFICATE_VALIDITY_DAYS,
      }),
      publicKey,
      privateKey,
    };
  }

  private retireActive(): void {
    const current = this.keys.get(this.activeKeyId);
    if (current) this.keys.set(current.keyId, { ...current, status: current.revokedAt ? 'revoked' : 'retired', retiredAt: this.now().toISOString(), privateKey: undefined });
  }

  /**
   * Moves the private half of every key that is not active out of the signing path (or deletes
   * it): a retired key must not be able to sign what verifiers would take for the instance's.
   */
  private archiveRetiredPrivateKeys(): void {
    const directory = this.directory();
    if (!directory) return;
    for (const key of this.keys.values()) {
      if (key.keyId === this.activeKeyId) continue;
      const path = join(directory, `${key.keyId}.pem`);
      if (!existsSync(path)) continue;
      if (this.options.retiredPrivateKeys === 'delete') {
        rmSync(path);
        continue;
      }
      mkdirSync(join(directory, 'retired'), { recursive: true, mode: 0o700 });
      renameSync(path, join(directory, 'retired', `${key.keyId}.pem`));
    }
  }

  /**
   * Reads registry.json without trusting it: each entry's key id and algorithm are recomputed
   * from its public key, and an entry whose stated ones differ (a planted or edited key) is
   * refused with the whole registry. Only the active key's private half is loaded.
   */
  private load(): void {
    const directory = this.directory();
    if (!directory || !existsSync(join(directory, 'registry.json'))) return;
    const file = JSON.parse(readFileSync(join(directory, 'registry.json'), 'utf8')) as RegistryFile;
    for (const entry of file.keys) {
      const publicKey = createPublicKey(entry.publicKeyPem);
      const keyId = keyIdOf(publicKey);
      const alg = algorithmOf(publicKey);
      if (entry.keyId !== keyId || entry.alg !== alg) {
        throw new Error(`${join(directory, 'registry.json')}: the entry named ${entry.keyId} (${entry.alg}) holds the public key ${keyId} (${alg}); key ids are computed from the key, so this entry was planted or edited and the registry is refused`);
      }
      const active = entry.status === 'active';
      const privatePath = join(directory, `${keyId}.pem`);
      const privateKey = active && existsSync(privatePath) ? createPrivateKey(readFileSync(privatePath)) : undefined;
      this.keys.set(keyId, { ...entry, keyId, alg, activeFrom: entry.activeFrom ?? entry.createdAt, publicKey, privateKey });
      if (active) this.activeKeyId = keyId;
    }
  }

  private persist(newKey?: SigningKey): void {
    const directory = this.directory();
    if (!directory) return;
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    if (newKey?.privateKey) {
      const path = join(directory, `${newKey.keyId}.pem`);
      writeFileSync(path, newKey.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
      chmodSync(path, 0o600);
    }
    const file: RegistryFile = { keys: this.published() };
    const temporary = join(directory, 'registry.json.tmp');
    writeFileSync(temporary, JSON.stringify(file, null, 2) + '\n', { mode: 0o644 });
    renameSync(temporary, join(directory, 'registry.json'));
  }

  private directory(): string | undefined {
    return this.options.dataDir ? join(this.options.dataDir, 'keys') : undefined;
  }

  private now(): Date {
    return this.options.now ? this.options.now() : new Date();
  }
}

function publish(key: SigningKey): PublishedKey {
  const { keyId, alg, status, createdAt, activeFrom, retiredAt, revokedAt, publicKeyPem, certificatePem } = key;
  return {
    keyId,
    alg,
    status,
    createdAt,
    ...(activeFrom ? { activeFrom } : {}),
    ...(retiredAt ? { retiredAt } : {}),
    ...(revokedAt ? { revokedAt } : {}),
    publicKeyPem,
    certificatePem,
  };
}
