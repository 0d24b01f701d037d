import { createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { createInfrastructure } from '../../src/app/infrastructure';
import { streamIdFor } from '../../src/commands/stream-id';
import { loadConfig } from '../../src/config/load-config';
import { openDatabase } from '../../src/database/database';
import { checkpointBytes, type SignedCheckpoint } from '../../src/ledger/checkpoint';
import { leafHash, verifyConsistency, verifyInclusion } from '../../src/ledger/merkle';
import { receiptBytes } from '../../src/ledger/receipt';
import { verifyReceiptDocument, type ReceiptDocument } from '../../src/ledger/receipt-document';
import { verifyWithKey } from '../../src/signing/detached-signature';
import { workspaceDecider } from '../../src/workspaces/workspace.decider';
import { proofline } from '../support/cli';
import { fixedCommandContext } from '../support/command-context';
import { startTestApp, type TestApp } from '../support/app';
import { accessTokenFor, bearer, signUp } from '../support/identity';
import { ROLES, type Role } from '../../src/workspaces/events';

const CLI_ENV = { PROOFLINE_SIGNING_KEY_TYPE: 'ed25519' };

const hex = (value: string) => Buffer.from(value, 'hex');

/**
 * The tenant's history before the first checkpoint: its registration, one member per role (the
 * people whose tokens the tests use), and four renames; then the checkpoint's own event and
 * three more renames before the second.
 */
const FIRST = 1 + ROLES.length + 4;
const RENAMED = 1 + ROLES.length + 2;
const SECOND = FIRST + 1 + 3;

describe('the ledger over HTTP (embedded profile)', () => {
  let t: TestApp;
  let tenant: string;
  let intruder: string;
  let firstCheckpoint: SignedCheckpoint;
  let secondCheckpoint: SignedCheckpoint;

  beforeAll(async () => {
    // The background runner is not started by startTestApp: the tests drive the builder by hand.
    t = await startTestApp({ env: { PROOFLINE_LEDGER_CHECKPOINT_EVERY: '1000000', PROOFLINE_LEDGER_CHECKPOINT_SECONDS: '86400' } });
    tenant = (await signUp(t.infrastructure, 'Ledger Co')).tenantId;
    intruder = (await signUp(t.infrastructure, 'Intruder')).tenantId;
    for (const id of [tenant, intruder]) for (const role of ROLES) tokens.set(`${id}/${role}`, await accessTokenFor(t.infrastructure, id, role));
    for (const name of ['Ledger Co 1', 'Ledger Co 2', 'Ledger Co 3', 'Ledger Co 4']) await request(t.server).patch(`/workspaces/${tenant}`).set(as(tenant)).send({ name }).expect(200);
  });
  afterAll(() => t.close());

  const tokens = new Map<string, string>();
  const as = (tenantId: string, role: Role = 'ADMIN') => bearer(tokens.get(`${tenantId}/${role}`)!);
  const get = (path: string, tenantId = tenant) => request(t.server).get(path).set(as(tenantId));
  const build = async () => {
    for (let round = 0; round < 10; round++) {
      const outcome = await t.infrastructure.ledger.builder.catchUp();
      if (outcome.receipts === 0 && outcome.checkpoints === 0) return;
    }
  };
  /** Issues a checkpoint now and receipts its event, so it is recorded and served. */
  const checkpoint = async () => {
    const issued = await t.infrastructure.ledger.builder.checkpointNow(tenant);
    await build();
    return issued!;
  };
  const publishedKey = async () => createPublicKey((await request(t.server).get('/.well-known/proofline/keys').expect(200)).body.keys[0].publicKeyPem);

  it('given no checkpoint yet, then GET checkpoint and receipt documents answer 404 LEDGER.NO_CHECKPOINT', async () => {
    expect((await get(`/ledger/${tenant}/checkpoint`).expect(404)).body.code).toBe('LEDGER.NO_CHECKPOINT');
    expect((await get(`/ledger/${tenant}/receipts/0`).expect(404)).body.code).toBe('LEDGER.NO_SUCH_RECEIPT');

    await build();

    for (const path of [`/ledger/${tenant}/checkpoint`, `/ledger/${tenant}/receipts/0`, `/ledger/${tenant}/receipts/0/proof`]) {
      expect({ path, code: (await get(path).expect(404)).body.code }).toEqual({ path, code: 'LEDGER.NO_CHECKPOINT' });
    }
    expect((await get(`/ledger/${tenant}/status`).expect(200)).body).toMatchObject({ tenantId: tenant, receipts: FIRST, latestCheckpoint: null });
  });

  it('given a checkpoint, then GET checkpoint serves the signed tree head, and its signature verifies with the published key', async () => {
    const issued = await checkpoint();

    const response = await get(`/ledger/${tenant}/checkpoint`).expect(200);

    firstCheckpoint = response.body;
    expect(firstCheckpoint).toEqual({ ...issued, origin: `proofline/${tenant}`, treeSize: FIRST });
    expect(verifyWithKey(await publishedKey(), firstCheckpoint.signature.alg, checkpointBytes(firstCheckpoint)!, firstCheckpoint.signature.value)).toBe(true);
  });

  it('given a receipt under the checkpoint, then GET receipts/:seq is a document that verifies offline with the published key', async () => {
    const response = await get(`/ledger/${tenant}/receipts/${RENAMED}`).expect(200);
    const document = response.body as ReceiptDocument;

    expect(document).toMatchObject({ receipt: { tenantId: tenant, sequence: RENAMED }, event: { tenantId: tenant, type: 'workspaces.renamed' }, checkpoint: firstCheckpoint });
    expect(verifyReceiptDocument(document, [await publishedKey()])).toMatchObject({ valid: true });
  });

  it('given a receipt newer than the latest checkpoint (the checkpoint event itself), then 409 LEDGER.NOT_YET_ANCHORED', async () => {
    const response = await get(`/ledger/${tenant}/receipts/${FIRST}`).expect(409);
    expect(response.body).toMatchObject({ code: 'LEDGER.NOT_YET_ANCHORED', details: { sequence: FIRST, latestTreeSize: FIRST } });
    expect((await get(`/ledger/${tenant}/receipts/${FIRST + 1}`).expect(404)).body.code).toBe('LEDGER.NO_SUCH_RECEIPT');
  });

  it('given a second checkpoint, then inclusion proofs verify against either root and the consistency proof links the two', async () => {
    for (const name of ['Ledger Co 5', 'Ledger Co 6', 'Ledger Co 7']) await request(t.server).patch(`/workspaces/${tenant}`).set(as(tenant)).send({ name }).expect(200);
    await build();
    secondCheckpoint = (await checkpoint()) as SignedCheckpoint;
    expect(secondCheckpoint.treeSize).toBe(SECOND); // the first tree, the first checkpoint's event, three more
    expect((await get(`/ledger/${tenant}/checkpoint`).expect(200)).body).toEqual(secondCheckpoint);
    const receipts = await t.infrastructure.ledger.repository.receipts(tenant);

    for (const [sequence, query, root] of [
      [2, '', secondCheckpoint.rootHash],
      [2, `?treeSize=${FIRST}`, firstCheckpoint.rootHash],
      [SECOND - 2, `?treeSize=${SECOND}`, secondCheckpoint.rootHash],
      [4, `?treeSize=${FIRST}`, firstCheckpoint.rootHash],
    ] as const) {
      const proof = (await get(`/ledger/${tenant}/receipts/${sequence}/proof${query}`).expect(200)).body;
      expect(proof).toMatchObject({ leafIndex: sequence, rootHash: root });
      expect(() => verifyInclusion(leafHash(receiptBytes(receipts[sequence])), sequence, proof.treeSize, proof.hashes.map(hex), hex(root))).not.toThrow();
    }

    const consistency = (await get(`/ledger/${tenant}/consistency?from=${FIRST}&to=${SECOND}`).expect(200)).body;
    expect(consistency).toMatchObject({ fromSize: FIRST, toSize: SECOND, fromRoot: firstCheckpoint.rootHash, toRoot: secondCheckpoint.rootHash });
    expect(() => verifyConsistency(FIRST, SECOND, hex(firstCheckpoint.rootHash), hex(secondCheckpoint.rootHash), consistency.hashes.map(hex))).not.toThrow();
    const same = (await get(`/ledger/${tenant}/consistency?from=${SECOND}&to=${SECOND}`).expect(200)).body;
    expect(same).toMatchObject({ fromRoot: secondCheckpoint.rootHash, toRoot: secondCheckpoint.rootHash, hashes: [] });

    // Signed heads at both ends, the archive of heads, and a receipt document proving it extends the kept first checkpoint.
    expect(consistency).toMatchObject({ fromCheckpoint: firstCheckpoint, toCheckpoint: secondCheckpoint });
    expect((await get(`/ledger/${tenant}/checkpoints`).expect(200)).body).toEqual([firstCheckpoint, secondCheckpoint]);
    expect((await get(`/ledger/${tenant}/checkpoints?after=${FIRST}`).expect(200)).body).toEqual([secondCheckpoint]);
    const document = (await get(`/ledger/${tenant}/receipts/2?since=${FIRST}`).expect(200)).body;
    expect(verifyReceiptDocument(document, [await publishedKey()], { since: firstCheckpoint as SignedCheckpoint, origin: firstCheckpoint.origin })).toMatchObject({ valid: true });
  });

  describe('bad input', () => {
    const outOfRange: Array<[string, string, string]> = [
      ['a receipt outside the tree', '/receipts/9/proof?treeSize=9', 'seq'],
      ['a tree larger than the ledger', '/receipts/1/proof?treeSize=999', 'treeSize'],
      ['from larger than to', '/consistency?from=9&to=5', 'from'],
      ['to larger than the ledger', '/consistency?from=1&to=999', 'to'],
    ];
    it.each(outOfRange)('%s: 422 LEDGER.OUT_OF_RANGE naming the field', async (_name, path, field) => {
      const response = await get(`/ledger/${tenant}${path}`).expect(422);
      expect(response.body.code).toBe('LEDGER.OUT_OF_RANGE');
      expect(response.body.details.fields.map((f: { field: string }) => f.field)).toEqual([field]);
    });

    const malformed: Array<[string, string, string]> = [
      ['a sequence that is not a number', '/receipts/abc', 'seq'],
      ['a negative sequence', '/receipts/-1', 'seq'],
      ['a fractional sequence', '/receipts/1.5/proof', 'seq'],
      ['a fractional treeSize', '/receipts/1/proof?treeSize=1.5', 'treeSize'],
      ['a zero treeSize', '/receipts/0/proof?treeSize=0', 'treeSize'],
      ['a non-integer from', '/consistency?from=x&to=3', 'from'],
      ['a consistency proof from the empty tree', '/consistency?from=0&to=3', 'from'],
      ['a missing to', '/consistency?from=1', 'to'],
    ];
    it.each(malformed)('%s: 400 REQUEST.INVALID naming the field', async (_name, path, field) => {
      const response = await get(`/ledger/${tenant}${path}`).expect(400);
      expect(response.body.code).toBe('REQUEST.INVALID');
      expect(response.body.details.fields.map((f: { field: string }) => f.field)).toContain(field);
    });
  });

  describe('POST /ledger/:tenant/verify', () => {
    it.each(['ADMIN', 'AUDITOR'] as const)('given the %s role, then 200 with ok and the counts', async (role) => {
      const response = await request(t.server).post(`/ledger/${tenant}/verify`).set(as(tenant, role)).expect(200);
      expect(response.body).toEqual({ ok: true, tenantId: tenant, receipts: SECOND + 1, events: SECOND + 1, checkpoints: 2, pendingEvents: 0 });
    });

    it('given the FINANCE role, then 403 AUTH.ROLE_REQUIRED naming the roles that may', async () => {
      const response = await request(t.server).post(`/ledger/${tenant}/verify`).set(as(tenant, 'FINANCE')).expect(403);
      expect(response.body).toMatchObject({ code: 'AUTH.ROLE_REQUIRED', details: { required: ['AUDITOR', 'ADMIN'], roles: ['FINANCE'] } });
    });
  });

  describe('tenancy', () => {
    it("answers 404 to another tenant on every ledger route, and leaks nothing of the tenant's ledger", async () => {
      const secrets = [secondCheckpoint.rootHash, firstCheckpoint.rootHash, ...(await t.infrastructure.ledger.repository.receipts(tenant)).map((r) => r.eventId)];
      const calls = [
        () => request(t.server).get(`/ledger/${tenant}/checkpoint`),
        () => request(t.server).get(`/ledger/${tenant}/checkpoints`),
        () => request(t.server).get(`/ledger/${tenant}/status`),
        () => request(t.server).get(`/ledger/${tenant}/receipts/0`),
        () => request(t.server).get(`/ledger/${tenant}/receipts/0/proof?treeSize=${FIRST}`),
        () => request(t.server).get(`/ledger/${tenant}/consistency?from=${FIRST}&to=${SECOND}`),
        () => request(t.server).post(`/ledger/${tenant}/verify`),
      ];
      for (const [headers, status, code] of [
        [as(intruder), 404, 'RESOURCE.NOT_FOUND'],
        [as(intruder, 'AUDITOR'), 404, 'RESOURCE.NOT_FOUND'],
        [{}, 401, 'AUTH.UNAUTHENTICATED'],
      ] as const) {
        for (const call of calls) {
          const response = await call().set(headers);
          expect({ status: response.status, code: response.body.code }).toEqual({ status, code });
          for (const secret of secrets) expect(response.text).not.toContain(secret);
        }
      }
    });
  });

  it('given an event changed in the database behind the store, then POST verify answers ok=false with the first bad position and kind', async () => {
    const receipts = await t.infrastructure.ledger.repository.receipts(tenant);
    const renamedTo2 = RENAMED - 1; // the rename to "Ledger Co 2"
    const knex = t.infrastructure.database.knex;
    await knex.raw('ALTER TABLE events DISABLE TRIGGER USER');
    await knex.raw(`UPDATE events SET envelope = replace(envelope, '"name":"Ledger Co 2"', '"name":"Ledger Co 9"') WHERE event_id = ?`, [receipts[renamedTo2].eventId]);
    await knex.raw('ALTER TABLE events ENABLE TRIGGER USER');

    const response = await request(t.server).post(`/ledger/${tenant}/verify`).set(as(tenant, 'AUDITOR')).expect(200);

    expect(response.body).toMatchObject({ ok: false, fault: { kind: 'altered', position: renamedTo2, eventId: receipts[renamedTo2].eventId } });
  });
});



describe('proofline ledger verify and verify-receipt (the CLI, on an embedded data dir)', () => {
  const tenantId = '00000000-0000-7000-8000-0000000ab001';
  let dataDir: string;
  let receipted: string[];
  let documentPath: string;
  let tamperedDocumentPath: string;
  let keyPath: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'proofline-ledger-cli-'));
    const infrastructure = await createInfrastructure(loadConfig({ PROOFLINE_DATA_DIR: dataDir, PROOFLINE_SIGNING_KEY_TYPE: 'ed25519' }));
    try {
      const streamId = streamIdFor('workspace', tenantId);
      const context = (n: number) => fixedCommandContext(tenantId, n);
      await infrastructure.pipeline.handle(workspaceDecider, { streamId, command: { type: 'RegisterWorkspace', workspaceId: tenantId, name: 'CLI', planTier: 'FREE' , owner: { userId: 'owner-1', email: 'owner@example.test', role: 'CUSTOMER_ADMIN' } }, context: context(1) });
      for (const [n, name] of ['Second', 'Third', 'Fourth'].entries()) {
        await infrastructure.pipeline.handle(workspaceDecider, { streamId, command: { type: 'RenameWorkspace', name }, context: context(n + 2) });
      }
      await infrastructure.ledger.builder.catchUp();
      await infrastructure.ledger.builder.checkpointNow(tenantId);
      await infrastructure.ledger.builder.catchUp();
      receipted = (await infrastructure.ledger.repository.receipts(tenantId)).map((r) => r.eventId);
      const document = await infrastructure.ledger.receiptDocument(tenantId, 2);
      documentPath = join(dataDir, 'receipt.json');
      writeFileSync(documentPath, JSON.stringify(document, null, 2));
      tamperedDocumentPath = join(dataDir, 'receipt-tampered.json');
      writeFileSync(tamperedDocumentPath, JSON.stringify({ ...document, event: { ...document.event, data: { ...document.event.data, name: 'Thirds' } } }, null, 2));
      keyPath = join(dataDir, 'proofline-public.pem');
      writeFileSync(keyPath, infrastructure.keys.published()[0].publicKeyPem);
    } finally {
      await infrastructure.close();
    }
  }, 60_000);
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('ledger verify exits 0 with OK and the counts when the chain is intact', async () => {
    const result = await proofline(dataDir, CLI_ENV, 'ledger', 'verify', '--tenant', tenantId);
    expect(result.stdout).toContain('OK: 5 receipts, 1 checkpoints verified against 5 events');
    expect(result.code).toBe(0);
  }, 60_000);

  it('verify-receipt exits 0 for a good document and 1, naming the failed checks, for a tampered one', async () => {
    const good = await proofline(dataDir, CLI_ENV, 'verify-receipt', documentPath, '--key', keyPath);
    expect(good.stdout).toContain('VALID: the receipt is in the signed ledger and names this event');
    expect(good.code).toBe(0);

    const bad = await proofline(dataDir, CLI_ENV, 'verify-receipt', tamperedDocumentPath, '--key', keyPath);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/FAIL {2}event data hash/);
    expect(bad.stdout).toMatch(/ok {4}inclusion in the checkpoint/);
    expect(bad.stdout).toContain('INVALID');
  }, 60_000);

  it('ledger verify exits 1 printing the first bad position and kind once an event was changed in the database', async () => {
    const database = await openDatabase({ dataDir });
    try {
      await database.knex.raw('ALTER TABLE events DISABLE TRIGGER USER');
      await database.knex.raw(`UPDATE events SET envelope = replace(envelope, '"name":"Third"', '"name":"Thirx"') WHERE event_id = ?`, [receipted[2]]);
    } finally {
      await database.close();
    }

    const result = await proofline(dataDir, CLI_ENV, 'ledger', 'verify', '--tenant', tenantId);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`FAILED at position 2: altered (event ${receipted[2]})`);

    const json = await proofline(dataDir, CLI_ENV, 'ledger', 'verify', '--tenant', tenantId, '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, fault: { kind: 'altered', position: 2, eventId: receipted[2] } });
  }, 90_000);
});
