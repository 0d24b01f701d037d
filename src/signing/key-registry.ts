import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
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
    if (options.privateKeyPem) registry.adoptEnvironmentKey(options.privateKeyPem);
    const active = registry.keys.get(registry.activeKeyId);
    // No private half: the active key came from PROOFLINE_SIGNING_KEY on an earlier boot and is never on disk.
    if (options.readOnly) return registry;
    if (!active?.privateKey || (!options.privateKeyPem && keyTypeOf(active.alg) !== options.keyType)) registry.rotate();
    return registry;
  }

  active(): SigningKey & { privateKey: KeyObject } {
    const key = this.keys.get(this.activeKeyId);
    if (!key?.privateKey) throw new Error('the key registry has no active signing key');
    return key as SigningKey & { privateKey: KeyObject };
  }

  get(keyId: string): SigningKey | undefined {
    return this.keys.get(keyId);
  }

  published(): PublishedKey[] {
    return [...this.keys.values()].map(publish);
  }

  /** Makes a fresh key of the configured type active; the previous one is retired, not removed. */
  rotate(): SigningKey {
    const pair = generateKeyPair(this.options.keyType);
    const key = this.describe(pair.publicKey, pair.privateKey);
    this.retireActive();
    this.keys.set(key.keyId, key);
    this.activeKeyId = key.keyId;
    this.persist(key);
    return key;
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
    const key = known ? { ...known, status: 'active' as const, retiredAt: undefined, privateKey } : this.describe(publicKey, privateKey);
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
    if (current) this.keys.set(current.keyId, { ...current, status: 'retired', retiredAt: this.now().toISOString() });
  }

  private load(): void {
    const directory = this.directory();
    if (!directory || !existsSync(join(directory, 'registry.json'))) return;
    const file = JSON.parse(readFileSync(join(directory, 'registry.json'), 'utf8')) as RegistryFile;
    for (const entry of file.keys) {
      const privatePath = join(directory, `${entry.keyId}.pem`);
      const privateKey = existsSync(privatePath) ? createPrivateKey(readFileSync(privatePath)) : undefined;
      this.keys.set(entry.keyId, { ...entry, publicKey: createPublicKey(entry.publicKeyPem), privateKey });
      if (entry.status === 'active') this.activeKeyId = entry.keyId;
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
  const { keyId, alg, status, createdAt, retiredAt, publicKeyPem, certificatePem } = key;
  return retiredAt ? { keyId, alg, status, createdAt, retiredAt, publicKeyPem, certificatePem } : { keyId, alg, status, createdAt, publicKeyPem, certificatePem };
}
