import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInfrastructure } from '../../src/app/infrastructure';
import { streamIdFor } from '../../src/commands/stream-id';
import { loadConfig } from '../../src/config/load-config';
import { openDatabase } from '../../src/database/database';
import { proofline } from '../support/cli';
import { fixedCommandContext } from '../support/command-context';
import { workspaceDecider } from '../../src/workspaces/workspace.decider';

const CLI_ENV = {};



describe('proofline events verify (the CLI, on an embedded data dir)', () => {
  let dataDir: string;
  let renamedEventId: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'proofline-cli-'));
    const infrastructure = await createInfrastructure(loadConfig({ PROOFLINE_DATA_DIR: dataDir, PROOFLINE_SIGNING_KEY_TYPE: 'ed25519' }));
    const tenantId = '00000000-0000-7000-8000-00000000c11a';
    const streamId = streamIdFor('workspace', tenantId);
    const context = (n: number) => fixedCommandContext(tenantId, n);
    await infrastructure.pipeline.handle(workspaceDecider, { streamId, command: { type: 'RegisterWorkspace', workspaceId: tenantId, name: 'CLI', planTier: 'FREE' , owner: { userId: 'owner-1', email: 'owner@example.test', role: 'CUSTOMER_ADMIN' } }, context: context(1) });
    const renamed = await infrastructure.pipeline.handle(workspaceDecider, { streamId, command: { type: 'RenameWorkspace', name: 'CLI renamed' }, context: context(2) });
    renamedEventId = renamed.events[0].id;
    await infrastructure.close();
  }, 60_000);
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('exits 0 and counts the events when the store is intact', async () => {
    const result = await proofline(dataDir, CLI_ENV, 'events', 'verify');
    expect(result.stdout).toContain('OK: 2 events verified');
    expect(result.code).toBe(0);
  }, 60_000);

  it('exits 1 naming the event whose stored data lost or changed one byte', async () => {
    const database = await openDatabase({ dataDir });
    await database.knex.raw('ALTER TABLE events DISABLE TRIGGER events_append_only');
    await database.knex.raw(`UPDATE events SET envelope = replace(envelope, '"name":"CLI renamed"', '"name":"CLI renamex"') WHERE event_id = ?`, [renamedEventId]);
    await database.close();

    const result = await proofline(dataDir, CLI_ENV, 'events', 'verify');
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`BAD data-hash-mismatch event ${renamedEventId}`);
    expect(result.stdout).toContain('FAILED: 1 of 2 events do not verify');

    const json = await proofline(dataDir, CLI_ENV, 'events', 'verify', '--json');
    expect(JSON.parse(json.stdout)).toMatchObject({ checked: 2, faults: [{ eventId: renamedEventId, fault: 'data-hash-mismatch' }] });
  }, 60_000);
});
