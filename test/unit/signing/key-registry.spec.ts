import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newEventId, type EventEnvelope } from '../../../contracts';
import { EventSigner } from '../../../src/signing/event-signer';
import { KeyRegistry, type KeyRegistryOptions } from '../../../src/signing/key-registry';
import type { PublishedKey } from '../../../src/signing/signing-key';

const KEY_ID = /^[0-9a-f]{32}$/;

let dataDir: string;
const keysDir = () => join(dataDir, 'keys');
const registryFile = () => JSON.parse(readFileSync(join(keysDir(), 'registry.json'), 'utf8')) as { keys: PublishedKey[] };
const pemFiles = () => readdirSync(keysDir()).filter((name) => name.endsWith('.pem')).sort();
const mode = (path: string) => statSync(path).mode & 0o777;
const open = (options: Partial<KeyRegistryOptions> = {}) => KeyRegistry.open({ dataDir, keyType: 'rsa', ...options });
const spkiKeyId = (key: KeyObject) => createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 32);

function event(signer: EventSigner, n: number): EventEnvelope {
  return signer.seal({
    id: newEventId(),
    type: 'test.happened',
    schemaVersion: 1,
    streamId: 'test-tenant-1',
    tenantId: 'tenant-1',
    occurredAt: new Date().toISOString(),
    actor: { id: 'user-1', role: 'owner' },
    data: { n },
    metadata: { correlationId: 'c', causationId: 'c', commandId: 'c' },
  });
}

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'proofline-keys-'));
});

afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

describe('KeyRegistry', () => {
  describe.each([
    { keyType: 'rsa', alg: 'RS256', asymmetricKeyType: 'rsa' },
    { keyType: 'ed25519', alg: 'EdDSA', asymmetricKeyType: 'ed25519' },
  ] as const)('first open in an empty data dir ($keyType)', ({ keyType, alg, asymmetricKeyType }) => {
    it('generates a key, writes its private half with mode 0600 and lists it active with a certificate', () => {
      const registry = open({ keyType });
      const active = registry.active();
      expect(active.alg).toBe(alg);
      expect(active.status).toBe('active');
      expect(active.privateKey.asymmetricKeyType).toBe(asymmetricKeyType);

      const privatePath = join(keysDir(), `${active.keyId}.pem`);
      expect(mode(privatePath)).toBe(0o600);
      expect(mode(keysDir())).toBe(0o700);
      expect(pemFiles()).toEqual([`${active.keyId}.pem`]);
      const stored = createPrivateKey(readFileSync(privatePath));
      expect(createPublicKey(stored).equals(active.publicKey)).toBe(true);
      expect(readFileSync(privatePath, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);

      const { keys } = registryFile();
      expect(keys).toHaveLength(1);
      expect(keys[0]).toEqual({
        keyId: active.keyId,
        alg,
        status: 'active',
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        activeFrom: keys[0].createdAt,
        publicKeyPem: active.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        certificatePem: expect.stringMatching(/^-----BEGIN CERTIFICATE-----\n/),
      });
      expect(JSON.stringify(keys)).not.toContain('PRIVATE KEY');

      const certificate = new X509Certificate(keys[0].certificatePem);
      expect(certificate.publicKey.equals(active.publicKey)).toBe(true);
      expect(certificate.verify(active.publicKey)).toBe(true);
      expect(certificate.subject).toContain(`CN=Proofline signing key ${active.keyId}`);
    });

    it('reopening loads the same key and generates none', () => {
      const first = open({ keyType }).active();
      const before = readFileSync(join(keysDir(), 'registry.json'), 'utf8');
      const reopened = open({ keyType });
      expect(reopened.active().keyId).toBe(first.keyId);
      expect(reopened.active().privateKey.equals(first.privateKey)).toBe(true);
      expect(reopened.published()).toHaveLength(1);
      expect(pemFiles()).toEqual([`${first.keyId}.pem`]);
      expect(readFileSync(join(keysDir(), 'registry.json'), 'utf8')).toBe(before);
    });
  });

  describe('rotate', () => {
    it('makes a new active key and keeps the old one published as retired', () => {
      let clock = new Date('2026-01-01T00:00:00.000Z');
      const registry = open({ now: () => clock });
      const old = registry.active();
      clock = new Date('2026-06-01T12:00:00.000Z');
      const rotated = registry.rotate();

      expect(rotated.keyId).not.toBe(old.keyId);
      expect(registry.active().keyId).toBe(rotated.keyId);
      const byId = Object.fromEntries(registry.published().map((key) => [key.keyId, key]));
      expect(byId[old.keyId]).toMatchObject({ status: 'retired', createdAt: '2026-01-01T00:00:00.000Z', retiredAt: '2026-06-01T12:00:00.000Z' });
      expect(byId[rotated.keyId]).toMatchObject({ status: 'active', createdAt: '2026-06-01T12:00:00.000Z' });
      expect(byId[rotated.keyId].retiredAt).toBeUndefined();
      expect(registryFile().keys).toEqual(registry.published());
      // the retired private half left the signing path (key-lifecycle.spec.ts)
      expect(pemFiles()).toEqual([`${rotated.keyId}.pem`]);
      for (const file of pemFiles()) expect(mode(join(keysDir(), file))).toBe(0o600);
    });

    it('events signed by the old key still verify on a reopened registry; new events use the new key', () => {
      const registry = open();
      const oldEvents = [0, 1, 2].map((n) => event(new EventSigner(registry), n));
      const old = registry.active().keyId;
      registry.rotate();

      const reopened = open();
      const signer = new EventSigner(reopened);
      expect(reopened.active().keyId).not.toBe(old);
      expect(reopened.get(old)?.status).toBe('retired');
      for (const sealed of oldEvents) {
        expect(sealed.metadata.signature.keyId).toBe(old);
        expect(signer.verify(sealed)).toEqual({ valid: true });
      }
      const fresh = event(signer, 3);
      expect(fresh.metadata.signature.keyId).toBe(reopened.active().keyId);
      expect(new EventSigner(open()).verify(fresh)).toEqual({ valid: true });
    });

    it('rotating twice keeps every key published, exactly one active', () => {
      const registry = open({ keyType: 'ed25519' });
      registry.rotate();
      registry.rotate();
      const statuses = open({ keyType: 'ed25519' })
        .published()
        .map((key) => key.status)
        .sort();
      expect(statuses).toEqual(['active', 'retired', 'retired']);
    });
  });

  it('changing the configured key type rotates on the next open', () => {
    const rsa = open({ keyType: 'rsa' }).active();
    const signedWithRsa = event(new EventSigner(open({ keyType: 'rsa' })), 1);

    const switched = open({ keyType: 'ed25519' });
    expect(switched.active().alg).toBe('EdDSA');
    expect(switched.active().keyId).not.toBe(rsa.keyId);
    expect(switched.get(rsa.keyId)).toMatchObject({ alg: 'RS256', status: 'retired' });
    expect(new EventSigner(switched).verify(signedWithRsa)).toEqual({ valid: true });

    // ... once: the next open with the same type keeps the Ed25519 key
    const again = open({ keyType: 'ed25519' });
    expect(again.active().keyId).toBe(switched.active().keyId);
    expect(again.published()).toHaveLength(2);
  });

  describe('a PKCS#8 PEM given as privateKeyPem', () => {
    const pkcs8 = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }).toString();

    it('becomes the active key and is never written to disk', () => {
      const generated = open().active();
      const pair = generateKeyPairSync('ed25519');
      const registry = open({ privateKeyPem: pkcs8(pair.privateKey) });
      const active = registry.active();

      expect(active.keyId).toBe(spkiKeyId(pair.publicKey));
      expect(active.alg).toBe('EdDSA'); // the given key wins over the configured type, without a rotation
      expect(active.privateKey.equals(pair.privateKey)).toBe(true);
      expect(existsSync(join(keysDir(), `${active.keyId}.pem`))).toBe(false);
      expect(pemFiles()).toEqual([]); // the generated key, now retired, was moved to keys/retired/
      for (const file of readdirSync(keysDir(), { recursive: true, encoding: 'utf8' })) {
        if (statSync(join(keysDir(), file)).isFile()) expect(readFileSync(join(keysDir(), file), 'utf8')).not.toContain(pkcs8(pair.privateKey).split('\n')[1]);
      }

      // its public half is published so its events verify elsewhere; the generated key is retired
      const byId = Object.fromEntries(registryFile().keys.map((key) => [key.keyId, key]));
      expect(byId[active.keyId]).toMatchObject({ status: 'active', alg: 'EdDSA' });
      expect(byId[generated.keyId]).toMatchObject({ status: 'retired' });
      expect(new X509Certificate(byId[active.keyId].certificatePem).publicKey.equals(pair.publicKey)).toBe(true);
    });

    it('in the first open of an empty data dir, no key is generated at all', () => {
      const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const registry = open({ privateKeyPem: pkcs8(pair.privateKey) });
      expect(registry.published()).toHaveLength(1);
      expect(registry.active().keyId).toBe(spkiKeyId(pair.publicKey));
      expect(pemFiles()).toEqual([]);
    });

    it('reopening with the same PEM keeps the same key and writes no file', () => {
      const privateKeyPem = pkcs8(generateKeyPairSync('ed25519').privateKey);
      const first = open({ privateKeyPem }).active().keyId;
      const again = open({ privateKeyPem });
      expect(again.active().keyId).toBe(first);
      expect(again.published()).toHaveLength(1);
      expect(pemFiles()).toEqual([]);
    });

    // Whether or not the PEM's type matches the configured one, a restart without it must still sign.
    it.each([
      { pemType: 'ed25519', keyType: 'rsa' },
      { pemType: 'ed25519', keyType: 'ed25519' },
      { pemType: 'rsa', keyType: 'rsa' },
    ] as const)('after a restart without it ($pemType PEM, $keyType configured), its events verify and a fresh key signs', ({ pemType, keyType }) => {
      const pair = pemType === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519');
      const withEnvKey = open({ keyType, privateKeyPem: pkcs8(pair.privateKey) });
      const sealed = event(new EventSigner(withEnvKey), 1);

      const withoutEnvKey = open({ keyType });
      expect(withoutEnvKey.get(sealed.metadata.signature.keyId)).toMatchObject({ status: 'retired' });
      expect(new EventSigner(withoutEnvKey).verify(sealed)).toEqual({ valid: true });
      const active = withoutEnvKey.active();
      expect(active.keyId).not.toBe(spkiKeyId(pair.publicKey));
      expect(active.alg).toBe(keyType === 'rsa' ? 'RS256' : 'EdDSA');
      expect(pemFiles()).toEqual([`${active.keyId}.pem`]);
      expect(new EventSigner(open({ keyType })).verify(event(new EventSigner(withoutEnvKey), 2))).toEqual({ valid: true });
    });
  });

  describe('key ids', () => {
    it('are 32 lowercase hex chars: the first 16 bytes of SHA-256 over the SPKI DER', () => {
      const registry = open({ keyType: 'ed25519' });
      registry.rotate();
      const external = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const withPem = open({ keyType: 'ed25519', privateKeyPem: external.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() });
      const keys = withPem.published();
      expect(keys).toHaveLength(3);
      for (const key of keys) {
        expect(key.keyId).toMatch(KEY_ID);
        expect(key.keyId).toBe(spkiKeyId(createPublicKey(key.publicKeyPem)));
      }
      expect(withPem.active().keyId).toBe(spkiKeyId(external.publicKey));
    });

    it('in memory (no data dir) too', () => {
      const registry = KeyRegistry.open({ keyType: 'ed25519' });
      expect(registry.active().keyId).toBe(spkiKeyId(registry.active().publicKey));
      expect(registry.active().keyId).toMatch(KEY_ID);
    });
  });
});
