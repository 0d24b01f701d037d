import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app';
import { eventually } from '../support/eventually';
import { accessTokenFor, bearer, makeMember, removeMember, signUp } from '../support/identity';

const DEFINITION = { name: 'Energy saved', unit: 'kWh', formula: 'baseline kWh − metered kWh, per month', unitPriceMinor: 1250, currency: 'EUR', baseline: 120000 };
const DECISION_TYPES: Record<string, string> = { 'approvals.stage-approved': 'APPROVED', 'approvals.changes-requested': 'CHANGES_REQUESTED', 'approvals.rejected': 'REJECTED' };
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('value definitions and their approval over HTTP (embedded profile)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await t.infrastructure.fanout.start();
  });
  afterAll(() => t.close());

  type Person = { id: string; token: string };
  /** `author` (FINANCE) drafts, edits and submits: a maker, it decides no stage while segregation of duties holds. */
  type Team = { tenantId: string; owner: Person; finance: Person; technical: Person; auditor: Person; author: Person };
  const person = async (tenantId: string, role: 'FINANCE' | 'TECHNICAL' | 'AUDITOR', id = randomUUID()): Promise<Person> => ({ id, token: await accessTokenFor(t.infrastructure, tenantId, role, id) });
  const newTeam = async (name: string): Promise<Team> => {
    const tenant = await signUp(t.infrastructure, name);
    const [finance, technical, auditor, author] = await Promise.all([person(tenant.tenantId, 'FINANCE'), person(tenant.tenantId, 'TECHNICAL'), person(tenant.tenantId, 'AUDITOR'), person(tenant.tenantId, 'FINANCE')]);
    return { tenantId: tenant.tenantId, owner: { id: tenant.ownerId, token: tenant.accessToken }, finance, technical, auditor, author };
  };
  const call = (method: 'get' | 'post' | 'patch' | 'put', path: string, who: Person | string, body?: object) => {
    const pending = request(t.server)[method](path).set(bearer(typeof who === 'string' ? who : who.token));
    return body === undefined && method === 'get' ? pending : pending.send(body ?? {});
  };
  const draft = async (team: Team, overrides: object = {}): Promise<string> => (await call('post', '/value-definitions', team.author, { ...DEFINITION, ...overrides }).expect(201)).body.definitionId;
  const submit = (team: Team, id: string) => call('post', `/value-definitions/${id}/submit`, team.author);
  const decide = (who: Person | string, id: string, stage: string, action = 'approve', body: object = {}) => call('post', `/approvals/${id}/stages/${stage}/${action}`, who, body);
  const approveAll = async (team: Team, id: string) => {
    await submit(team, id).expect(200);
    await decide(team.finance, id, 'FINANCE').expect(200);
    await decide(team.technical, id, 'TECHNICAL').expect(200);
    await decide(team.owner, id, 'FINAL').expect(200);
  };
  const streamOf = (tenantId: string, id: string) => t.infrastructure.store.readStream(`valuedef-${tenantId}.${id}`);
  const tenantEvents = async (tenantId: string) => (await t.infrastructure.store.readAll({ commit: 0n, prepare: 0n }, 100_000, { tenantId })).length;
  const listOf = async (who: Person, query = '') => (await call('get', `/approvals${query}`, who).expect(200)).body;
  const names = (body: { approvals: Array<{ name: string }> }) => body.approvals.map((approval) => approval.name);

  it('draft → edit → submit → changes requested → resubmitted → approved, every decision in the history as in the stream', async () => {
    const team = await newTeam('Flow Co');
    const drafted = await call('post', '/value-definitions', team.author, DEFINITION).expect(201);
    const id: string = drafted.body.definitionId;
    expect(drafted.body).toEqual({ definitionId: id, streamId: `valuedef-${team.tenantId}.${id}`, version: 0, events: [expect.objectContaining({ type: 'approvals.definition-drafted', streamVersion: 0 })] });
    expect((await call('patch', `/value-definitions/${id}`, team.author, { unitPriceMinor: 1300 }).expect(200)).body).toMatchObject({ version: 1, events: [{ type: 'approvals.definition-edited' }] });
    const read = await call('get', `/value-definitions/${id}`, team.auditor).expect(200);
    expect(read.body).toEqual({ definitionId: id, ...DEFINITION, unitPriceMinor: 1300, status: 'draft', approvalId: null, round: 0, stage: null, segregationOfDuties: true, version: 1 });
    expect(read.headers.etag).toBe('"1"');

    expect((await submit(team, id).expect(200)).body).toMatchObject({ approvalId: id, version: 2, events: [{ type: 'approvals.submitted' }] });
    expect((await call('get', `/value-definitions/${id}`, team.owner).expect(200)).body).toMatchObject({ status: 'in-review', approvalId: id, round: 1, stage: 'FINANCE' });
    expect((await decide(team.finance, id, 'FINANCE', 'approve', { comment: 'numbers check out' }).expect(200)).body).toMatchObject({ version: 3, events: [{ type: 'approvals.stage-approved' }] });
    expect((await decide(team.technical, id, 'TECHNICAL', 'request-changes', { reason: 'baseline is from the wrong year' }).expect(200)).body.events).toMatchObject([{ type: 'approvals.changes-requested' }]);
    expect((await call('get', `/value-definitions/${id}`, team.owner).expect(200)).body).toMatchObject({ status: 'changes-requested', round: 1, stage: null });

    await call('patch', `/value-definitions/${id}`, team.author, { baseline: 118000 }).expect(200);
    expect((await submit(team, id).expect(200)).body).toMatchObject({ approvalId: id, events: [{ type: 'approvals.submitted' }] });
    expect((await call('get', `/value-definitions/${id}`, team.owner).expect(200)).body).toMatchObject({ status: 'in-review', round: 2, stage: 'FINANCE' });
    await decide(team.finance, id, 'FINANCE').expect(200);
    await decide(team.technical, id, 'TECHNICAL', 'approve', { comment: 'meter data verified' }).expect(200);
    const final = await decide(team.owner, id, 'FINAL', 'approve', { comment: 'go' }).expect(200);
    expect(final.body).toMatchObject({ version: 10, events: [{ type: 'approvals.stage-approved' }, { type: 'approvals.completed' }] });
    expect((await call('get', `/value-definitions/${id}`, team.owner).expect(200)).body).toMatchObject({ status: 'approved', round: 2, stage: null, baseline: 118000, version: 10 });

    const decisions = (await streamOf(team.tenantId, id)).filter((event) => event.envelope.type in DECISION_TYPES);
    const history = await eventually(
      async () => (await call('get', `/approvals/${id}/history`, team.auditor).expect(200)).body,
      (body) => body.decisions.length === 5,
    );
    expect(history.approvalId).toBe(id);
    expect(history.decisions.map((d: Record<string, unknown>) => [d.round, d.stage, d.decision, d.actorId, d.actorRole, d.comment])).toEqual([
      [1, 'FINANCE', 'APPROVED', team.finance.id, 'FINANCE', 'numbers check out'],
      [1, 'TECHNICAL', 'CHANGES_REQUESTED', team.technical.id, 'TECHNICAL', 'baseline is from the wrong year'],
      [2, 'FINANCE', 'APPROVED', team.finance.id, 'FINANCE', null],
      [2, 'TECHNICAL', 'APPROVED', team.technical.id, 'TECHNICAL', 'meter data verified'],
      [2, 'FINAL', 'APPROVED', team.owner.id, 'CUSTOMER_ADMIN', 'go'],
    ]);
    expect(history.decisions).toEqual(
      decisions.map(({ envelope }) => {
        const data = envelope.data as { round: number; stage: string; decidedBy: { userId: string; role: string }; comment?: string | null; reason?: string };
        expect(envelope.actor).toMatchObject({ id: data.decidedBy.userId });
        return { eventId: envelope.id, approvalId: id, definitionId: id, round: data.round, stage: data.stage, decision: DECISION_TYPES[envelope.type], actorId: data.decidedBy.userId, actorRole: data.decidedBy.role, comment: data.comment ?? data.reason ?? null, decidedAt: envelope.occurredAt, segregationOfDuties: true,
          // the round's price (1300, edited before round 1; unchanged in round 2), its maker and submitter
          unitPriceMinor: 1300, currency: DEFINITION.currency, draftedBy: team.author.id, submittedBy: team.author.id };
      }),
    );
  });

  it("answers 'every change to the unit price, with who approved it' from the signed events: GET /value-definitions/:id/changes", async () => {
    const team = await newTeam('Changes Co');
    const id = await draft(team);
    await call('patch', `/value-definitions/${id}`, team.author, { unitPriceMinor: 1300 }).expect(200);
    await submit(team, id).expect(200);
    await decide(team.finance, id, 'FINANCE').expect(200);
    await decide(team.technical, id, 'TECHNICAL', 'request-changes', { reason: 'too cheap' }).expect(200);
    await call('patch', `/value-definitions/${id}`, team.author, { unitPriceMinor: 1500 }).expect(200);
    await submit(team, id).expect(200);
    await decide(team.finance, id, 'FINANCE').expect(200);
    await decide(team.technical, id, 'TECHNICAL').expect(200);
    await decide(team.owner, id, 'FINAL').expect(200);

    const body = (await call('get', `/value-definitions/${id}/changes?field=unitPriceMinor`, team.auditor).expect(200)).body;

    expect(body).toMatchObject({ definitionId: id, field: 'unitPriceMinor' });
    expect(body.changes.map((c: { kind: string; from: number | null; to: number; by: { userId: string }; outcome: { round: number | null; status: string } }) => [c.kind, c.from, c.to, c.by.userId, c.outcome.round, c.outcome.status])).toEqual([
      ['drafted', null, DEFINITION.unitPriceMinor, team.author.id, null, 'not-submitted'],
      ['edited', DEFINITION.unitPriceMinor, 1300, team.author.id, 1, 'changes-requested'],
      ['edited', 1300, 1500, team.author.id, 2, 'approved'],
    ]);
    const approved = body.changes[2].outcome;
    expect(approved.decisions.map((d: { stage: string; decision: string; userId: string; role: string }) => [d.stage, d.decision, d.userId, d.role])).toEqual([
      ['FINANCE', 'APPROVED', team.finance.id, 'FINANCE'],
      ['TECHNICAL', 'APPROVED', team.technical.id, 'TECHNICAL'],
      ['FINAL', 'APPROVED', team.owner.id, 'CUSTOMER_ADMIN'],
    ]);
    expect(approved.submittedBy).toBe(team.author.id);
    // The history says, per decision, the price its round reviewed: 1300 in round 1, 1500 in round 2.
    const history = await eventually(
      async () => (await call('get', `/approvals/${id}/history`, team.auditor).expect(200)).body.decisions as Array<{ round: number; unitPriceMinor: number; currency: string; draftedBy: string }>,
      (decisions) => decisions.length === 5,
    );
    expect(history.map((d) => [d.round, d.unitPriceMinor, d.currency, d.draftedBy])).toEqual([
      [1, 1300, 'EUR', team.author.id],
      [1, 1300, 'EUR', team.author.id],
      [2, 1500, 'EUR', team.author.id],
      [2, 1500, 'EUR', team.author.id],
      [2, 1500, 'EUR', team.author.id],
    ]);
    const everything = (await call('get', `/value-definitions/${id}/changes`, team.auditor).expect(200)).body;
    expect(everything.changes).toHaveLength(6 + 2);

    // Bad input names the field; another tenant's definition is not found.
    const bad = await call('get', `/value-definitions/${id}/changes?field=price`, team.auditor).expect(400);
    expect(bad.body.details.fields).toEqual([expect.objectContaining({ field: 'field' })]);
    const stranger = await newTeam('Stranger Changes Co');
    await call('get', `/value-definitions/${id}/changes`, stranger.owner).expect(404, /VALUE_DEFINITION.NOT_FOUND/);
  });

  it('answers ?asOf= from the signed events: not yet drafted, drafted, between two stages, now', async () => {
    const team = await newTeam('As Of Co');
    const id = await draft(team);
    await pause(5);
    await submit(team, id).expect(200);
    await pause(5);
    await decide(team.finance, id, 'FINANCE', 'approve', { comment: 'first' }).expect(200);
    await pause(5);
    await decide(team.technical, id, 'TECHNICAL').expect(200);
    await decide(team.owner, id, 'FINAL').expect(200);
    const [drafted, submitted, financeApproved] = (await streamOf(team.tenantId, id)).map((event) => event.envelope);
    const at = (iso: string, deltaMs = 0) => new Date(Date.parse(iso) + deltaMs).toISOString();
    const asOf = (instant?: string) => call('get', `/approvals/${id}${instant ? `?asOf=${encodeURIComponent(instant)}` : ''}`, team.auditor);

    const before = await asOf(at(drafted.occurredAt, -1)).expect(404);
    expect(before.body).toMatchObject({ code: 'APPROVAL.NOT_YET_DRAFTED', details: { asOf: at(drafted.occurredAt, -1), draftedAt: drafted.occurredAt } });
    expect((await asOf(at(submitted.occurredAt, -1)).expect(200)).body).toMatchObject({ approvalId: id, definitionId: id, submitted: false, status: 'draft', round: 0, stage: null, version: 0, decisions: [], definition: DEFINITION });
    const between = (await asOf(financeApproved.occurredAt).expect(200)).body;
    expect(between).toMatchObject({ submitted: true, status: 'in-review', round: 1, stage: 'TECHNICAL', version: 2, asOf: financeApproved.occurredAt });
    expect(between.decisions).toEqual([
      { eventId: financeApproved.id, type: 'approvals.stage-approved', round: 1, stage: 'FINANCE', decidedBy: { userId: team.finance.id, role: 'FINANCE' }, comment: 'first', decidedAt: financeApproved.occurredAt },
    ]);
    const now = (await asOf().expect(200)).body;
    expect(now).toMatchObject({ asOf: null, submitted: true, status: 'approved', stage: null, version: 5 });
    expect(now.decisions.map((d: { stage: string }) => d.stage)).toEqual(['FINANCE', 'TECHNICAL', 'FINAL']);
    await call('get', `/approvals/${randomUUID()}`, team.owner).expect(404, /APPROVAL.NOT_FOUND/);
  });

  it("answers ?asOf=<date> as of the end of that day in the tenant's billing time zone, in the finance list's status words; a date-time without an offset is refused", async () => {
    const team = await newTeam('As Of Date Co');
    // Far east of UTC: 'today' there may be tomorrow in UTC; the end of yesterday there is before the draft either way.
    const timeZone = 'Pacific/Kiritimati';
    await call('put', '/billing/time-zone', team.owner, { timeZone }).expect(200);
    const id = await draft(team);
    await submit(team, id).expect(200);
    await decide(team.finance, id, 'FINANCE', 'request-changes', { reason: 'baseline is from the wrong year' }).expect(200);
    const [drafted] = (await streamOf(team.tenantId, id)).map((event) => event.envelope);
    const dayThere = (iso: string, days = 0) => new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(Date.parse(iso) + days * 86_400_000));
    const asOf = (value: string) => call('get', `/approvals/${id}?asOf=${encodeURIComponent(value)}`, team.auditor);

    const today = (await asOf(dayThere(drafted.occurredAt)).expect(200)).body;
    expect(today).toMatchObject({ asOfDate: dayThere(drafted.occurredAt), timeZone, status: 'changes-requested', round: 1, version: 2 });
    // The last millisecond of that day there: 23:59:59.999 at UTC+14 is 09:59:59.999Z.
    expect(today.asOf).toBe(`${dayThere(drafted.occurredAt)}T09:59:59.999Z`);
    const listed = await eventually(
      async () => (await call('get', '/approvals', team.auditor).expect(200)).body.approvals.find((item: { definitionId: string }) => item.definitionId === id),
      (item) => item?.round === 1 && item.currentStage === null,
    );
    expect(listed.status).toBe(today.status);

    await asOf(dayThere(drafted.occurredAt, -1)).expect(404, /APPROVAL.NOT_YET_DRAFTED/);
    const unzoned = await asOf(`${dayThere(drafted.occurredAt)}T12:00:00`).expect(400);
    expect(unzoned.body.details.fields).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'asOf' })]));
  });

  it('refuses the wrong role for a stage (403) and out-of-turn decisions (409), appending nothing to the stream', async () => {
    const team = await newTeam('Rules Co');
    const id = await draft(team);
    const refused = async (send: () => request.Test, status: number, code: string, details?: object) => {
      const [streamBefore, tenantBefore] = [(await streamOf(team.tenantId, id)).length, await tenantEvents(team.tenantId)];
      const response = await send();
      expect({ status: response.status, code: response.body.code }).toEqual({ status, code });
      if (details) expect(response.body.details).toMatchObject(details);
      expect((await streamOf(team.tenantId, id)).length).toBe(streamBefore);
      // a refusal by the access guard is recorded as one security event; a domain refusal as nothing
      expect(await tenantEvents(team.tenantId)).toBe(tenantBefore + (code === 'AUTH.ROLE_REQUIRED' ? 1 : 0));
    };
    await refused(() => decide(team.finance, id, 'FINANCE'), 409, 'APPROVAL.NOT_IN_REVIEW', { status: 'draft' });
    await submit(team, id).expect(200);
    await refused(() => submit(team, id), 409, 'APPROVAL.NOT_SUBMITTABLE');
    await refused(() => call('patch', `/value-definitions/${id}`, team.owner, { name: 'Renamed' }), 409, 'VALUE_DEFINITION.NOT_EDITABLE', { status: 'in-review' });
    await refused(() => decide(team.technical, id, 'FINANCE'), 403, 'APPROVAL.WRONG_STAGE_ROLE', { stage: 'FINANCE', allowedRoles: ['FINANCE'], role: 'TECHNICAL' });
    await refused(() => decide(team.owner, id, 'FINANCE'), 403, 'APPROVAL.WRONG_STAGE_ROLE', { role: 'CUSTOMER_ADMIN' });
    await refused(() => decide(team.auditor, id, 'FINANCE'), 403, 'AUTH.ROLE_REQUIRED');
    await refused(() => call('post', '/value-definitions', team.technical, DEFINITION), 403, 'AUTH.ROLE_REQUIRED');
    await refused(() => decide(team.technical, id, 'TECHNICAL'), 409, 'APPROVAL.STAGE_OUT_OF_ORDER', { expectedStage: 'FINANCE', stage: 'TECHNICAL' });
    await decide(team.finance, id, 'FINANCE').expect(200);
    await refused(() => decide(team.owner, id, 'FINAL'), 409, 'APPROVAL.STAGE_OUT_OF_ORDER', { expectedStage: 'TECHNICAL', stage: 'FINAL' });
    await decide(team.technical, id, 'TECHNICAL').expect(200);
    await decide(team.owner, id, 'FINAL').expect(200);
    await refused(() => decide(team.owner, id, 'FINAL'), 409, 'APPROVAL.NOT_IN_REVIEW', { status: 'approved' });
    await refused(() => decide(team.technical, id, 'TECHNICAL', 'reject', { reason: 'too late' }), 409, 'APPROVAL.NOT_IN_REVIEW');
    await refused(() => call('patch', `/value-definitions/${id}`, team.owner, { name: 'Renamed' }), 409, 'VALUE_DEFINITION.NOT_EDITABLE', { status: 'approved' });

    const rejectedOne = await draft(team, { name: 'Rejected one' });
    await submit(team, rejectedOne).expect(200);
    await decide(team.finance, rejectedOne, 'FINANCE', 'reject', { reason: 'not billable' }).expect(200);
    expect((await call('get', `/value-definitions/${rejectedOne}`, team.owner).expect(200)).body).toMatchObject({ status: 'rejected', stage: null });
    await decide(team.finance, rejectedOne, 'FINANCE').expect(409, /APPROVAL.NOT_IN_REVIEW/);
    await decide(team.finance, randomUUID(), 'FINANCE').expect(404, /VALUE_DEFINITION.NOT_FOUND/);
  });

  it('a stage decision takes the decider\'s current role: demoted or removed since their token was issued, they decide nothing', async () => {
    const team = await newTeam('Stale Role Co');
    const id = await draft(team);
    await submit(team, id).expect(200);
    await decide(team.finance, id, 'FINANCE').expect(200);
    const before = (await streamOf(team.tenantId, id)).length;
    await makeMember(t.infrastructure, team.tenantId, team.technical.id, 'AUDITOR');
    expect((await decide(team.technical, id, 'TECHNICAL').expect(403)).body).toMatchObject({ code: 'AUTH.ROLE_REQUIRED', details: { roles: ['AUDITOR'] } });
    await removeMember(t.infrastructure, team.tenantId, team.technical.id);
    expect((await decide(team.technical, id, 'TECHNICAL').expect(401)).body.code).toBe('AUTH.SESSION_ENDED');
    expect((await streamOf(team.tenantId, id)).length).toBe(before);
  });

  it('segregation of duties: one person, one stage, unless the policy at submission said otherwise', async () => {
    const team = await newTeam('Segregated Co');
    // One person who moves between roles: a member has one role at a time, and each request acts under the current one.
    const both = team.finance;
    const become = (role: 'FINANCE' | 'TECHNICAL') => makeMember(t.infrastructure, team.tenantId, both.id, role);
    const created = await call('post', `/workspaces/${team.tenantId}/api-keys`, team.owner, { name: 'dual-role robot', roles: ['FINANCE', 'TECHNICAL'] }).expect(201);
    const robot: string = created.body.apiKey;

    const first = await draft(team, { name: 'Same person twice' });
    await submit(team, first).expect(200);
    await decide(team.finance, first, 'FINANCE').expect(200);
    await become('TECHNICAL');
    const before = (await streamOf(team.tenantId, first)).length;
    const refused = await decide(both, first, 'TECHNICAL').expect(403);
    expect(refused.body).toMatchObject({ code: 'APPROVAL.SEGREGATION_OF_DUTIES', details: { stage: 'TECHNICAL', decidedStages: ['FINANCE'] } });

    // an API key is a machine many people may hold: it decides no stage at all (segregation could not tell them apart)
    const second = await draft(team, { name: 'Robot' });
    await submit(team, second).expect(200);
    const beforeRobot = (await streamOf(team.tenantId, second)).length;
    const robotRefused = await decide(robot, second, 'FINANCE').expect(403);
    expect(robotRefused.body).toMatchObject({ code: 'APPROVAL.PERSON_REQUIRED', details: { stage: 'FINANCE' } });
    expect((await streamOf(team.tenantId, second)).length).toBe(beforeRobot);

    // a CUSTOMER_ADMIN (a FINAL approver) may not lift it; an ADMIN may, with a reason
    await call('put', `/workspaces/${team.tenantId}/approval-policy`, team.owner, { segregationOfDuties: false, reason: 'two-person team' }).expect(403, /APPROVAL_POLICY.ADMIN_REQUIRED/);
    const operator = await accessTokenFor(t.infrastructure, team.tenantId, 'ADMIN');
    await call('put', `/workspaces/${team.tenantId}/approval-policy`, operator, { segregationOfDuties: false, reason: 'two-person team' }).expect(200);
    // the running approvals keep the rule they were submitted under
    await decide(both, first, 'TECHNICAL').expect(403, /APPROVAL.SEGREGATION_OF_DUTIES/);
    expect((await streamOf(team.tenantId, first)).length).toBe(before);

    const third = await draft(team, { name: 'Small team' });
    await submit(team, third).expect(200);
    expect((await call('get', `/value-definitions/${third}`, team.owner).expect(200)).body.segregationOfDuties).toBe(false);
    await become('FINANCE');
    await decide(team.finance, third, 'FINANCE').expect(200);
    await become('TECHNICAL');
    await decide(both, third, 'TECHNICAL').expect(200);
    await decide(team.owner, third, 'FINAL').expect(200);
    const decided = (await streamOf(team.tenantId, third)).filter((event) => event.envelope.type === 'approvals.stage-approved').map((event) => event.envelope.data.decidedBy);
    expect(decided).toEqual([
      { userId: team.finance.id, role: 'FINANCE' },
      { userId: team.finance.id, role: 'TECHNICAL' },
      { userId: team.owner.id, role: 'CUSTOMER_ADMIN' },
    ]);

    // Whether a round held segregation of duties is shown wherever its decisions are: the list, the history, the CSV.
    const listed = await eventually(
      async () => (await call('get', '/approvals?sort=name', team.auditor).expect(200)).body.approvals as Array<{ definitionId: string; segregationOfDuties: boolean | null; status: string }>,
      (rows) => rows.find((row) => row.definitionId === third)?.status === 'approved',
    );
    expect(Object.fromEntries(listed.map((row) => [row.definitionId, row.segregationOfDuties]))).toEqual({ [first]: true, [second]: true, [third]: false });
    const flagsOf = async (id: string) => ((await call('get', `/approvals/${id}/history`, team.auditor).expect(200)).body.decisions as Array<{ segregationOfDuties: boolean }>).map((d) => d.segregationOfDuties);
    expect({ first: await flagsOf(first), third: await flagsOf(third) }).toEqual({ first: [true], third: [false, false, false] });
    const csv = (await call('get', '/approvals/history.csv', team.auditor).expect(200)).text.trim().split('\n');
    const column = csv[0].split(',').indexOf('segregation_of_duties');
    const byApproval = (id: string) => csv.slice(1).filter((line) => line.includes(id)).map((line) => line.split(',')[column]);
    expect({ first: byApproval(first), third: byApproval(third) }).toEqual({ first: ['true'], third: ['false', 'false', 'false'] });
  });

  describe('bad input: 400 naming the field, nothing appended', () => {
    let team: Team;
    let id = '';
    beforeAll(async () => {
      team = await newTeam('Bad Input Co');
      id = await draft(team);
      await submit(team, id).expect(200);
    });
    const cases: Array<[string, () => request.Test, string]> = [
      ['fractional unitPriceMinor', () => call('post', '/value-definitions', team.owner, { ...DEFINITION, unitPriceMinor: 1.5 }), 'unitPriceMinor'],
      ['unknown currency', () => call('post', '/value-definitions', team.owner, { ...DEFINITION, currency: 'XYZ' }), 'currency'],
      ['unknown field', () => call('post', '/value-definitions', team.owner, { ...DEFINITION, discount: 10 }), 'discount'],
      ['null fields in an edit (they would erase the definition)', () => call('patch', `/value-definitions/${id}`, team.owner, { name: null, unitPriceMinor: null }), 'unitPriceMinor'],
      ['negative price in an edit', () => call('patch', `/value-definitions/${id}`, team.owner, { unitPriceMinor: -1 }), 'unitPriceMinor'],
      ['request-changes without a reason', () => decide(team.finance, id, 'FINANCE', 'request-changes', {}), 'reason'],
      ['reject with a reason that is no string', () => decide(team.finance, id, 'FINANCE', 'reject', { reason: 42 }), 'reason'],
      ['unknown stage in the URL', () => decide(team.finance, id, 'LEGAL'), 'stage'],
      ['approval id not a UUID', () => decide(team.finance, 'not-a-uuid', 'FINANCE'), 'approvalId'],
      ['bad asOf', () => call('get', `/approvals/${id}?asOf=yesterday`, team.owner), 'asOf'],
      ['asOf past year 9999 once its offset is applied', () => call('get', `/approvals/${id}?asOf=${encodeURIComponent('9999-12-31T23:59:59-01:00')}`, team.owner), 'asOf'],
      ['asOf a date that does not exist', () => call('get', `/approvals/${id}?asOf=2026-02-30`, team.owner), 'asOf'],
      ['bad status filter', () => call('get', '/approvals?status=pending', team.owner), 'status'],
      ['pageSize 0', () => call('get', '/approvals?pageSize=0', team.owner), 'pageSize'],
      ['unknown sort', () => call('get', '/approvals?sort=price', team.owner), 'sort'],
    ];
    it.each(cases)('%s', async (_name, send, field) => {
      const before = await tenantEvents(team.tenantId);
      const response = await send();
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('REQUEST.INVALID');
      expect(response.body.details.fields.map((f: { field: string }) => f.field)).toContain(field);
      expect(response.body.details.fields.every((f: { rule?: string }) => typeof f.rule === 'string')).toBe(true);
      expect(await tenantEvents(team.tenantId)).toBe(before);
    });
  });

  it('GET /approvals filters, sorts and pages within the tenant; another tenant sees none of it', async () => {
    const team = await newTeam('Finance List Co');
    const secondFinance = await person(team.tenantId, 'FINANCE');
    const alpha = await draft(team, { name: 'Alpha' });
    await approveAll(team, alpha);
    const bravo = await draft(team, { name: 'Bravo' });
    await submit(team, bravo).expect(200);
    const charlie = await draft(team, { name: 'Charlie' });
    await submit(team, charlie).expect(200);
    await decide(secondFinance, charlie, 'FINANCE').expect(200);
    await pause(5);
    const middle = new Date().toISOString();
    await pause(5);
    const delta = await draft(team, { name: 'Delta' });
    await submit(team, delta).expect(200);
    await decide(team.finance, delta, 'FINANCE', 'request-changes', { reason: 'unit is wrong' }).expect(200);
    const echo = await draft(team, { name: 'Echo' });
    await submit(team, echo).expect(200);
    await decide(secondFinance, echo, 'FINANCE').expect(200);
    await decide(team.technical, echo, 'TECHNICAL', 'reject', { reason: 'not measurable' }).expect(200);
    await draft(team, { name: 'Foxtrot (never submitted)' });

    const all = await eventually(
      () => listOf(team.auditor, '?sort=name'),
      (body) => body.total === 5 && body.approvals.map((a: { status: string }) => a.status).join() === 'approved,in-review,in-review,changes-requested,rejected',
    );
    expect(all).toMatchObject({ page: 1, pageSize: 50, total: 5 });
    expect(all.approvals.map((a: Record<string, unknown>) => [a.name, a.approvalId, a.status, a.currentStage, a.round])).toEqual([
      ['Alpha', alpha, 'approved', null, 1],
      ['Bravo', bravo, 'in-review', 'FINANCE', 1],
      ['Charlie', charlie, 'in-review', 'TECHNICAL', 1],
      ['Delta', delta, 'changes-requested', null, 1],
      ['Echo', echo, 'rejected', null, 1],
    ]);
    expect(all.approvals[0]).toMatchObject({ definitionId: alpha, unitPriceMinor: 1250, currency: 'EUR', submittedAt: expect.any(String), completedAt: expect.any(String) });
    // the last decision (Echo's rejection) in the history read model: every earlier one is there too
    await eventually(() => listOf(team.owner, `?approver=${team.technical.id}&sort=name`), (body) => names(body).join() === 'Alpha,Echo');

    const expectations: Array<[string, string[]]> = [
      ['?sort=-name', ['Echo', 'Delta', 'Charlie', 'Bravo', 'Alpha']],
      ['?status=in-review&sort=-name', ['Charlie', 'Bravo']],
      ['?status=approved', ['Alpha']],
      ['?status=rejected', ['Echo']],
      ['?stage=FINANCE', ['Bravo']],
      ['?stage=TECHNICAL', ['Charlie']],
      [`?definition=${delta}`, ['Delta']],
      [`?approver=${team.finance.id}&sort=name`, ['Alpha', 'Delta']],
      [`?approver=${secondFinance.id}&sort=name`, ['Charlie', 'Echo']],
      [`?approver=${team.technical.id}&sort=name`, ['Alpha', 'Echo']],
      [`?approver=${team.owner.id}`, ['Alpha']],
      [`?approver=${randomUUID()}`, []],
      [`?from=${middle}&sort=name`, ['Delta', 'Echo']],
      [`?to=${middle}&sort=name`, ['Alpha', 'Bravo', 'Charlie']],
      [`?from=${middle}&status=rejected`, ['Echo']],
    ];
    for (const [query, expected] of expectations) expect([query, names(await listOf(team.owner, query))]).toEqual([query, expected]);

    const pages = await Promise.all([1, 2, 3, 4].map((page) => listOf(team.finance, `?sort=name&pageSize=2&page=${page}`)));
    expect(pages.map((body) => [body.page, body.pageSize, body.total, names(body)])).toEqual([
      [1, 2, 5, ['Alpha', 'Bravo']],
      [2, 2, 5, ['Charlie', 'Delta']],
      [3, 2, 5, ['Echo']],
      [4, 2, 5, []],
    ]);

    const other = await newTeam('Nosy Co');
    expect(await listOf(other.owner)).toEqual({ page: 1, pageSize: 50, total: 0, approvals: [] });
    expect((await listOf(other.finance, `?definition=${alpha}`)).total).toBe(0);
    expect((await call('get', `/approvals/${alpha}`, other.owner).expect(404)).body.code).toBe('APPROVAL.NOT_FOUND');
    expect((await call('get', `/approvals/${alpha}/history`, other.auditor).expect(404)).body.code).toBe('APPROVAL.NOT_FOUND');
    expect((await call('get', `/value-definitions/${alpha}`, other.owner).expect(404)).body.code).toBe('VALUE_DEFINITION.NOT_FOUND');
    const before = (await streamOf(team.tenantId, bravo)).length;
    expect((await decide(other.finance, bravo, 'FINANCE').expect(404)).body.code).toBe('VALUE_DEFINITION.NOT_FOUND');
    expect((await streamOf(team.tenantId, bravo)).length).toBe(before);
  });
});
