import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignedHeads } from '../../../src/ledger/signed-heads';
import { KeyRegistry } from '../../../src/signing/key-registry';

const head = (treeSize: number, rootHash: string) => ({ origin: 'proofline-test/tenant-1', treeSize, rootHash, issuedAt: '2026-12-04T18:00:00.000Z', signature: { alg: 'EdDSA' as const, keyId: 'k', value: 'AAAA' } });

describe('SignedHeads: the last signed head per log, beside the key', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'proofline-heads-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('given a data dir, then a written head is read back by a fresh opening (a restart), from a 0600 file in keys/heads, and nothing is left half-written', () => {
    const keys = KeyRegistry.open({ dataDir, keyType: 'ed25519' });
    SignedHeads.beside(keys).write(head(4, 'a'.repeat(64)));

    const reopened = SignedHeads.beside(KeyRegistry.open({ dataDir, keyType: 'ed25519', readOnly: true }));

    expect(reopened.read('proofline-test/tenant-1')).toMatchObject({ treeSize: 4, rootHash: 'a'.repeat(64) });
    expect(reopened.read('proofline-test/tenant-2')).toBeUndefined();
    const files = readdirSync(join(dataDir, 'keys', 'heads'));
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^[0-9a-f]{32}\.json$/);
    expect(statSync(join(dataDir, 'keys', 'heads', files[0])).mode & 0o777).toBe(0o600);
  });

  it('given a rewind, then the accepted head replaces the kept one and the head given up is appended to rewinds.jsonl with the reason', () => {
    const heads = SignedHeads.beside(KeyRegistry.open({ dataDir, keyType: 'ed25519' }));
    heads.write(head(4, 'a'.repeat(64)));

    const gaveUp = heads.rewind({ origin: 'proofline-test/tenant-1', treeSize: 2, rootHash: 'b'.repeat(64) }, 'restored a backup', new Date('2026-12-04T18:30:00.000Z'));

    expect(gaveUp).toMatchObject({ treeSize: 4 });
    expect(heads.read('proofline-test/tenant-1')).toEqual({ origin: 'proofline-test/tenant-1', treeSize: 2, rootHash: 'b'.repeat(64) });
    const log = readFileSync(join(dataDir, 'keys', 'heads', 'rewinds.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(log).toEqual([{ at: '2026-12-04T18:30:00.000Z', reason: 'restored a backup', gaveUp: head(4, 'a'.repeat(64)), accepted: { origin: 'proofline-test/tenant-1', treeSize: 2, rootHash: 'b'.repeat(64) } }]);
  });

  it('given a file that names another log, then reading refuses it rather than trusting it', () => {
    const heads = SignedHeads.beside(KeyRegistry.open({ dataDir, keyType: 'ed25519' }));
    heads.write(head(4, 'a'.repeat(64)));
    const [file] = readdirSync(join(dataDir, 'keys', 'heads'));
    const other = join(dataDir, 'keys', 'heads', file);
    writeFileSync(other, JSON.stringify({ ...head(9, 'c'.repeat(64)), origin: 'proofline-test/tenant-2' }));
    expect(() => heads.read('proofline-test/tenant-1')).toThrow(/tenant-2/);
  });
});
