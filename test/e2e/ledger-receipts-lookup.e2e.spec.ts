import { createPublicKey, randomUUID } from 'node:crypto';
import request from 'supertest';
import { verifyReceiptDocument } from '../../src/ledger/receipt-document';
import { startTestApp, type TestApp } from '../support/app';
import { accessTokenFor, bearer, signUp } from '../support/identity';

const DEFINITION = { name: 'Energy saved', unit: 'kWh', formula: 'baseline kWh − metered kWh, per month', unitPriceMinor: 1250, currency: 'EUR', baseline: 120000 };

/**
 * Issue 24, item 1: an approval's receipts are found by the approval (or by an event), and the
 * completion's receipt document verifies offline with the approved price inside it.
 */
describe('finding receipts by approval and by event (embedded profile)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  type Team = { tenantId: string; owner: string; author: string; finance: string; technical: string; auditor: string };
  const newTeam = async (name: string): Promise<Team> => {
    const { tenantId, accessToken } = await signUp(t.infrastructure, name);
    const token = (role: 'FINANCE' | 'TECHNICAL' | 'AUDITOR') => accessTokenFor(t.infrastructure, tenantId, role, randomUUID());
    return { tenantId, owner: accessToken, author: await token('FINANCE'), finance: await token('FINANCE'), technical: await token('TECHNICAL'), auditor: await token('AUDITOR') };
  };
  const post = (path: string, token: string, body: object = {}) => request(t.server).post(path).set(bearer(token)).send(body);
  const get = (path: string, token: string) => request(t.server).get(path).set(bearer(token));
  const approved = async (team: Team): Promise<string> => {
    const id: string = (await post('/value-definitions', team.author, DEFINITION).expect(201)).body.definitionId;
    await post(`/value-definitions/${id}/submit`, team.author).expect(200);
    await post(`/approvals/${id}/stages/FINANCE/approve`, team.finance).expect(200);
    await post(`/approvals/${id}/stages/TECHNICAL/approve`, team.technical).expect(200);
    await post(`/approvals/${id}/stages/FINAL/approve`, team.owner).expect(200);
    return id;
  };
  const build = async () => {
    for (let round = 0; round < 10; round++) {
      const outcome = await t.infrastructure.ledger.builder.catchUp();
      if (outcome.receipts === 0 && outcome.checkpoints === 0) return;
    }
  };

  it("given a completed approval, then ?approvalId= lists the receipt of each of its events in ledger order, ?eventId= finds one, and the completion's document verifies with the approved price in it", async () => {
    const team = await newTeam('Receipts Co');
    const id = await approved(team);
    await build();

    const listed = (await get(`/ledger/${team.tenantId}/receipts?approvalId=${id}`, team.auditor).expect(200)).body;

    const stream = await t.infrastructure.store.readStream(`valuedef-${team.tenantId}.${id}`);
    expect(listed.data.map((row: { eventId: string }) => row.eventId)).toEqual(stream.map((event) => event.envelope.id));
    expect(listed).toMatchObject({ hasMore: false, nextCursor: null });
    const completed = listed.data.find((row: { eventType: string }) => row.eventType === 'approvals.completed');
    expect(completed).toMatchObject({ document: `/ledger/${team.tenantId}/receipts/${completed.sequence}` });
    const byEvent = (await get(`/ledger/${team.tenantId}/receipts?eventId=${completed.eventId}`, team.auditor).expect(200)).body;
    expect(byEvent.data).toEqual([{ sequence: completed.sequence, eventId: completed.eventId, receiptHash: completed.receiptHash, document: completed.document }]);

    await t.infrastructure.ledger.builder.checkpointNow(team.tenantId);
    await build();
    const document = (await get(completed.document, team.auditor).expect(200)).body;
    const key = createPublicKey((await request(t.server).get('/.well-known/proofline/keys').expect(200)).body.keys[0].publicKeyPem);
    expect(verifyReceiptDocument(document, [key])).toMatchObject({ valid: true });
    expect(document.event.data).toMatchObject({ approvalId: id, definition: { unitPriceMinor: 1250, currency: 'EUR' } });
  });

  it("given another tenant's approval id or event id, then nothing of it is found: its ledger is 404, and asked in one's own ledger the list is empty", async () => {
    const victim = await newTeam('Victim Co');
    const id = await approved(victim);
    await build();
    const victimsCompletion = (await get(`/ledger/${victim.tenantId}/receipts?approvalId=${id}`, victim.auditor).expect(200)).body.data.at(-1).eventId;
    const intruder = await newTeam('Intruder Co');

    expect((await get(`/ledger/${victim.tenantId}/receipts?approvalId=${id}`, intruder.auditor).expect(404)).body.code).toBe('RESOURCE.NOT_FOUND');
    expect((await get(`/ledger/${intruder.tenantId}/receipts?approvalId=${id}`, intruder.auditor).expect(200)).body.data).toEqual([]);
    expect((await get(`/ledger/${intruder.tenantId}/receipts?eventId=${victimsCompletion}`, intruder.auditor).expect(200)).body.data).toEqual([]);
  });

  it('given neither or both of eventId and approvalId, or one that is not a UUID, then 400 names the field and the rule', async () => {
    const team = await newTeam('Asking Co');
    const neither = (await get(`/ledger/${team.tenantId}/receipts`, team.auditor).expect(400)).body;
    expect(neither).toMatchObject({ code: 'REQUEST.INVALID', details: { fields: [{ field: 'eventId', rule: 'exactly-one-of' }] } });
    const both = (await get(`/ledger/${team.tenantId}/receipts?eventId=${randomUUID()}&approvalId=${randomUUID()}`, team.auditor).expect(400)).body;
    expect(both).toMatchObject({ code: 'REQUEST.INVALID', details: { fields: [{ field: 'approvalId', rule: 'exactly-one-of' }] } });
    const notUuid = (await get(`/ledger/${team.tenantId}/receipts?eventId=12`, team.auditor).expect(400)).body;
    expect(notUuid).toMatchObject({ code: 'REQUEST.INVALID', details: { fields: [expect.objectContaining({ field: 'eventId' })] } });
  });
});
