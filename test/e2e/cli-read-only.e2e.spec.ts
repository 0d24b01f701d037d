import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInfrastructure } from '../../src/app/infrastructure';
import { loadConfig } from '../../src/config/load-config';
import { proofline } from '../support/cli';
import { signUp } from '../support/identity';

describe('commands that only read leave the key registry as it is', () => {
  let dataDir: string;
  let tenantId: string;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'proofline-cli-read-only-'));
    const infrastructure = await createInfrastructure(loadConfig({ PROOFLINE_DATA_DIR: dataDir, PROOFLINE_SIGNING_KEY_TYPE: 'ed25519' }));
    try {
      tenantId = (await signUp(infrastructure, 'Read Only Co')).tenantId;
      await infrastructure.ledger.builder.catchUp();
    } finally {
      await infrastructure.close();
    }
  }, 60_000);
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('events verify, ledger verify, projections status and keys list under another PROOFLINE_SIGNING_KEY_TYPE rotate nothing', async () => {
    const rsa = { PROOFLINE_SIGNING_KEY_TYPE: 'rsa' };
    for (const args of [['events', 'verify'], ['ledger', 'verify', '--tenant', tenantId], ['projections', 'status'], ['keys', 'list']]) {
      const result = await proofline(dataDir, rsa, ...args);
      expect({ args, code: result.code }).toEqual({ args, code: 0 });
    }
    const keys = await proofline(dataDir, rsa, 'keys', 'list');
    const lines = keys.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/EdDSA\s+active/);
  }, 120_000);

  it('with PROOFLINE_SIGNING_KEY set, events verify, ledger verify and keys list leave registry.json byte-identical (they used to adopt the key and retire the active one)', async () => {
    const before = readFileSync(join(dataDir, 'keys', 'registry.json'));
    const env = { PROOFLINE_SIGNING_KEY: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
    for (const args of [['events', 'verify'], ['ledger', 'verify', '--tenant', tenantId], ['keys', 'list']]) {
      const result = await proofline(dataDir, env, ...args);
      expect({ args, code: result.code }).toEqual({ args, code: 0 });
    }
    expect(readFileSync(join(dataDir, 'keys', 'registry.json')).equals(before)).toBe(true);
  }, 120_000);
});
