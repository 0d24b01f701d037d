import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInfrastructure } from '../../src/app/infrastructure';
import { loadConfig } from '../../src/config/load-config';
import { proofline } from '../support/cli';

const ENV = { PROOFLINE_SIGNING_KEY_TYPE: 'ed25519', PROOFLINE_ADMIN_PASSWORD: 'operators passphrase 2026' };

describe('proofline admin create (the CLI, on an embedded data dir)', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'proofline-cli-admin-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  const signIn = async (email: string, password: string) => {
    const infrastructure = await createInfrastructure(loadConfig({ PROOFLINE_DATA_DIR: dataDir, PROOFLINE_SIGNING_KEY_TYPE: 'ed25519' }));
    try {
      return await infrastructure.identity.sessions.login({ email, password }, { ip: 'cli-test', correlationId: 'cli-test' });
    } finally {
      await infrastructure.close();
    }
  };

  it('creates an ADMIN in a new workspace once; the second run changes nothing', async () => {
    const first = await proofline(dataDir, ENV, 'admin', 'create', '--email', 'ops@example.test');
    expect(first).toMatchObject({ code: 0, stdout: expect.stringMatching(/^created: ops@example.test is ADMIN of workspace [0-9a-f-]{36}\n$/) });
    const session = await signIn('ops@example.test', ENV.PROOFLINE_ADMIN_PASSWORD);
    expect(session.role).toBe('ADMIN');
    expect(first.stdout).toContain(session.tenantId);

    const second = await proofline(dataDir, ENV, 'admin', 'create', '--email', 'ops@example.test');
    expect(second).toMatchObject({ code: 0, stdout: `already present (unchanged): ops@example.test is ADMIN of workspace ${session.tenantId}\n` });
  }, 120_000);

  it('refuses a weak password with the rule, exit 1, and creates nothing', async () => {
    const weak = await proofline(dataDir, { ...ENV, PROOFLINE_ADMIN_PASSWORD: 'short' }, 'admin', 'create', '--email', 'weak@example.test');
    expect(weak.code).toBe(1);
    expect(weak.stderr).toMatch(/REQUEST.INVALID: password must be at least 12 characters/);
    await expect(signIn('weak@example.test', 'short')).rejects.toMatchObject({ code: 'AUTH.INVALID_CREDENTIALS' });
  }, 120_000);

  it('without a password says where to give one (exit 2)', async () => {
    const missing = await proofline(dataDir, { PROOFLINE_SIGNING_KEY_TYPE: 'ed25519' }, 'admin', 'create', '--email', 'nopass@example.test');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--password-stdin, or in PROOFLINE_ADMIN_PASSWORD/);
  }, 60_000);
});
