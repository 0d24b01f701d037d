import { createPrivateKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newEventId, type EventEnvelope } from '../../../contracts';
import { checkpointBytes, type CheckpointBody } from '../../../src/ledger/checkpoint';
import { verifyBytes } from '../../../src/signing/detached-signature';
import { EventSigner } from '../../../src/signing/event-signer';
import { KeyRegistry, type KeyRegistryOptions } from '../../../src/signing/key-registry';
import { keyIdOf, type PublishedKey } from '../../../src/signing/signing-key';

/** Issue 23, item 4: rotation is revocation of the signing power, and registry.json is not trusted. */

let dataDir: string;
const keysDir = () => join(dataDir, 'keys');
const registryPath = () => join(keysDir(), 'registry.json');
const registryFile = () => JSON.parse(readFileSync(registryPath(), 'utf8')) as { keys: PublishedKey[] };
const open = (options: Partial<KeyRegistryOptions> = {}) => KeyRegistry.open({ dataDir, keyType: 'ed25519', ...options });
const snapshot = () => Object.fromEntries(readdirSync(keysDir(), { recursive: true, encoding: 'utf8' }).map((name) => [name, existsSync(join(keysDir(), name)) && !name.endsWith('retired') ? readFileSync(join(keysDir(), name), 'utf8').length : -1]));

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'proofline-key-lifecycle-'));
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

function eventAt(signer: EventSigner, occurredAt: string): EventEnvelope {
  return signer.seal({
    id: newEventId(),
    type: 'test.happened',
    schemaVersion: 1,
    streamId: 'test-tenant-1',
    tenantId: 'tenant-1',
    occurredAt,
    actor: { id: 'user-1', role: 'owner' },
    data: { n: 1 },
    metadata: { correlationId: 'c', causationId: 'c', commandId: 'c' },
  });
}

/** What the holder of a retired key does: sign a checkpoint dated after the retirement. */
function checkpointSignedWith(privateKey: KeyObject, keyId: string, issuedAt: string) {
  const body: CheckpointBody = { origin: 'proofline-test/tenant-1', treeSize: 9, rootHash: 'ab'.repeat(32), issuedAt };
  return { body, signature: { alg: 'EdDSA' as const, keyId, value: sign(null, checkpointBytes(body)!, privateKey).toString('base64') } };
}

describe('key lifecycle', () => {
  it('given a rotation, then the retired private key leaves the signing path (keys/retired/) and is never loaded again', () => {
    const old = open({ now: () => new Date('2026-01-01T00:00:00.000Z') }).active();
    open({ now: () => new Date('2026-06-01T00:00:00.000Z') }).rotate();

    expect(existsSync(join(keysDir(), `${old.keyId}.pem`))).toBe(false);
    expect(existsSync(join(keysDir(), 'retired', `${old.keyId}.pem`))).toBe(true);
    const reopened = open();
    expect(reopened.get(old.keyId)).toMatchObject({ status: 'retired', retiredAt: '2026-06-01T00:00:00.000Z' });
    expect(reopened.get(old.keyId)?.privateKey).toBeUndefined();
  });

  it("given the option 'delete', then rotation deletes the retired private key", () => {
    const old = open().active();
    open({ retiredPrivateKeys: 'delete' }).rotate();
    expect(existsSync(join(keysDir(), `${old.keyId}.pem`))).toBe(false);
    expect(existsSync(join(keysDir(), 'retired', `${old.keyId}.pem`))).toBe(false);
  });

  it('given a checkpoint dated after its key was retired, signed with the retired key, then it does not verify; one dated before still does', () => {
    const old = open({ now: () => new Date('2026-01-01T00:00:00.000Z') }).active();
    open({ now: () => new Date('2026-06-01T00:00:00.000Z') }).rotate();
    const stolen = createPrivateKey(readFileSync(join(keysDir(), 'retired', `${old.keyId}.pem`)));
    const registry = open();

    const late = checkpointSignedWith(stolen, old.keyId, '2026-07-01T00:00:00.000Z');
    expect(verifyBytes(registry, checkpointBytes(late.body)!, late.signature, 'checkpoint', late.body.issuedAt)).toMatchObject({ valid: false, fault: 'key-lifecycle' });
    const early = checkpointSignedWith(stolen, old.keyId, '2026-05-01T00:00:00.000Z');
    expect(verifyBytes(registry, checkpointBytes(early.body)!, early.signature, 'checkpoint', early.body.issuedAt)).toEqual({ valid: true });
  });

  it('given an event dated after its key was retired, then it does not verify', () => {
    const keys = open({ now: () => new Date('2026-01-01T00:00:00.000Z') });
    const signer = new EventSigner(keys);
    const before = eventAt(signer, '2026-03-01T00:00:00.000Z');
    const after = eventAt(signer, '2026-09-01T00:00:00.000Z'); // a server that kept signing with the old key
    open({ now: () => new Date('2026-06-01T00:00:00.000Z') }).rotate();

    const verifier = new EventSigner(open());
    expect(verifier.verify(before)).toEqual({ valid: true });
    expect(verifier.verify(after)).toMatchObject({ valid: false, fault: 'key-lifecycle' });
  });

  it('given a revocation from an instant, then everything the key signed from then on is invalid, and the revoked key never signs again', () => {
    const keys = open({ now: () => new Date('2026-01-01T00:00:00.000Z') });
    const signer = new EventSigner(keys);
    const keyId = keys.active().keyId;
    const before = eventAt(signer, '2026-02-01T00:00:00.000Z');
    const after = eventAt(signer, '2026-02-03T00:00:00.000Z');

    open().revoke(keyId, new Date('2026-02-02T00:00:00.000Z'));

    const reopened = open();
    expect(reopened.active().keyId).not.toBe(keyId);
    expect(reopened.get(keyId)).toMatchObject({ status: 'revoked', revokedAt: '2026-02-02T00:00:00.000Z' });
    expect(new EventSigner(reopened).verify(before)).toEqual({ valid: true });
    expect(new EventSigner(reopened).verify(after)).toMatchObject({ valid: false, fault: 'key-lifecycle' });
  });

  it('given a key planted in registry.json under an invented id, then the registry is refused', () => {
    open();
    const planted = generateKeyPairSync('ed25519').publicKey;
    const file = registryFile();
    const entry = { ...file.keys[0], keyId: '0'.repeat(32), status: 'retired' as const, publicKeyPem: planted.export({ type: 'spki', format: 'pem' }).toString() };
    writeFileSync(registryPath(), JSON.stringify({ keys: [...file.keys, entry] }));
    expect(() => open()).toThrow(/planted or edited/);
    expect(() => open({ readOnly: true })).toThrow(/planted or edited/);
  });

  it("given an entry whose stated alg is not its key's, then the registry is refused", () => {
    open();
    const file = registryFile();
    writeFileSync(registryPath(), JSON.stringify({ keys: [{ ...file.keys[0], alg: 'RS256' }] }));
    expect(() => open({ readOnly: true })).toThrow(/planted or edited/);
  });

  it('given a read-only open with PROOFLINE_SIGNING_KEY set (and another key type), then registry.json stays byte-identical and no file changes', () => {
    open();
    const before = readFileSync(registryPath());
    const files = snapshot();
    const privateKeyPem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

    const registry = open({ readOnly: true, privateKeyPem, keyType: 'rsa' });

    expect(readFileSync(registryPath()).equals(before)).toBe(true);
    expect(snapshot()).toEqual(files);
    expect(registry.published().map((key) => key.status)).toEqual(['active']);
    expect(keyIdOf(registry.get(registry.published()[0].keyId)!.publicKey)).toBe(registry.published()[0].keyId);
  });
});
