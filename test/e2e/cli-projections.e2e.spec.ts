import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECTORS } from '../../projections';
import { createInfrastructure } from '../../src/app/infrastructure';
import { loadConfig } from '../../src/config/load-config';
import { proofline } from '../support/cli';
import { signUp } from '../support/identity';

const ENV = { PROOFLINE_SIGNING_KEY_TYPE: 'ed25519' };

describe('proofline projections (the CLI, on an embedded data dir)', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'proofline-cli-projections-'));
    const infrastructure = await createInfrastructure(loadConfig({ PROOFLINE_DATA_DIR: dataDir, ...ENV }));
    try {
      for (const name of ['CLI One', 'CLI Two']) await signUp(infrastructure, name);
    } finally {
      await infrastructure.close();
    }
  }, 60_000);
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('rebuild replays the store with a progress bar and prints the same checksum twice; status shows it caught up', async () => {
    const first = await proofline(dataDir, ENV, 'projections', 'rebuild', 'tenant_activity');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^rebuilt tenant_activity: 2 events in [\d.]+ s \(\d+ events\/s\), switched over\nchecksum daily:2:[0-9a-f]{32}\n$/);
    expect(first.stderr).toMatch(/rebuilding tenant_activity .* events\/s \| ETA/);
    const second = await proofline(dataDir, ENV, 'projections', 'rebuild', 'tenant_activity');
    expect(second.stdout.split('\n')[1]).toBe(first.stdout.split('\n')[1]);

    const status = await proofline(dataDir, ENV, 'projections', 'status', '--json', '--checksum');
    expect(status.code).toBe(0);
    const body = JSON.parse(status.stdout);
    expect(body.mode).toBe('in-process');
    expect(body.projectors.find((p: { projector: string }) => p.projector === 'tenant_activity')).toMatchObject({ state: 'running', applied: 2, lagEvents: 0, checksum: first.stdout.split('\n')[1].slice('checksum '.length) });
  }, 120_000);

  it('an unknown projector is named with the ones that exist (exit 2)', async () => {
    const unknown = await proofline(dataDir, ENV, 'projections', 'rebuild', 'nope');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(`no projector named "nope"; there are: ${PROJECTORS.map((p) => p.name).join(', ')}`);
  }, 60_000);
});
