import { randomUUID } from 'node:crypto';
import { PREFLIGHT_CHECKS } from '../../src/go-live/events';
import { startTestApp, type TestApp } from '../support/app';
import { eventually } from '../support/eventually';
import { DAY, DEFINITION, STEPS, day, goLiveDriver, iso, measured, nextUtcMidnight, type Tenant } from '../support/go-live';

/**
 * Setup, value calculations, alerts and go-live through the real HTTP API. Approvals run on the
 * real clock; the go-live routes read "now" from their Clock port, which a test stands days
 * after the approval so that whole billing days lie between the approval and now.
 */
describe('setup, value calculations, alerts and go-live over HTTP (embedded profile)', () => {
  let t: TestApp;
  let drive: ReturnType<typeof goLiveDriver>;
  beforeAll(async () => {
    t = await startTestApp();
    await t.infrastructure.fanout.start();
    drive = goLiveDriver(t);
  });
  afterEach(() => jest.restoreAllMocks());
  afterAll(() => t.close());

  type Facts = {
    decidedAt: string;
    setup: { streamVersion: number | null; missingSteps: string[]; staleSteps: string[] };
    approvals: { completed: Array<{ definitionId: string; streamVersion: number }>; pending: Array<{ definitionId: string; status: string }> };
    accuracy: Array<{ definitionId: string; calculationStreamVersion: number | null; measured: { basisPoints: number; calculationIds: string[] } | null }>;
    baseline: { setup: number | null; definitions: Array<{ definitionId: string; baseline: number }> };
    projections: Array<{ projector: string; state: string; pendingEvents: number; complete: boolean }>;
  };
  type Check = { check: string; passed: boolean; message: string };
  const current = (facts: Facts) => facts.projections.every((p) => p.state === 'running' && p.pendingEvents === 0 && p.complete);
  /** GET /go-live once the approvals read model has applied what the test did and `settled` holds. */
  const preflightOnceSettled = (tenant: Tenant, settled: (facts: Facts) => boolean) =>
    eventually(
      async () => (await drive.get('/go-live', tenant.owner).expect(200)).body,
      (body) => current(body.preflight.facts) && settled(body.preflight.facts),
    );
  /** POST /go-live must refuse with exactly these failed checks (all six reported, in order), and append nothing anywhere. */
  const refusedFor = async (tenant: Tenant, failed: string[]) => {
    const before = await drive.tenantEvents(tenant.tenantId);
    const refused = await drive.post('/go-live', tenant.owner).expect(422);
    expect(refused.body.code).toBe('GO_LIVE.PREFLIGHT_FAILED');
    expect(refused.body.details.failedChecks.map((check: Check) => check.check)).toEqual(failed);
    expect(refused.body.details.failedChecks.every((check: Check) => !check.passed && check.message.length > 0)).toBe(true);
    expect(refused.body.details.checks.map((check: Check) => [check.check, check.passed])).toEqual(PREFLIGHT_CHECKS.map((check) => [check, !failed.includes(check)]));
    expect(await drive.tenantEvents(tenant.tenantId)).toBe(before);
    return refused.body;
  };
  const calculate = (tenant: Tenant, definitionId: string, body: object) => drive.post(`/value-definitions/${definitionId}/calculations`, tenant.technical, body);
  const lastVersion = async (streamId: string) => (await t.infrastructure.store.readStream(streamId, { direction: 'backwards', maxCount: 1 }))[0].streamVersion;

  it('records setup steps in order, each attempt with its checks; testing needs 100 samples; re-recording a step makes the later ones stale', async () => {
    const { post, get, newTenant } = drive;
    const tenant = await newTenant('Setup Co');
    const outOfOrder = await post('/setup/steps/TESTING', tenant.technical, { configuration: { sampleSize: 100, matchedSamples: 100 } }).expect(409);
    expect(outOfOrder.body).toMatchObject({ code: 'SETUP.STEP_OUT_OF_ORDER', details: { step: 'TESTING', missingSteps: ['API_INTEGRATION', 'DATA_SOURCE', 'METRICS_CONFIGURATION', 'BASELINE'] } });

    const insecure = await post('/setup/steps/API_INTEGRATION', tenant.owner, { configuration: { endpointUrl: 'http://api.example.com', authType: 'api-key' } }).expect(200);
    expect(insecure.body).toMatchObject({ step: 'API_INTEGRATION', passed: false, events: [{ type: 'setup.step-recorded' }] });
    expect(insecure.body.checks.map((check: Check) => [check.check, check.passed])).toEqual([
      ['endpoint-https', false],
      ['auth-type', true],
    ]);
    // a failed step does not open the next one
    expect((await post('/setup/steps/DATA_SOURCE', tenant.technical, { configuration: STEPS[1][1] }).expect(409)).body.details.missingSteps).toEqual(['API_INTEGRATION']);
    for (const [step, configuration] of STEPS.slice(0, 4)) expect((await post(`/setup/steps/${step}`, tenant.technical, { configuration }).expect(200)).body).toMatchObject({ step, configuration, passed: true });

    // 99 of 99 is not evidence: the sample is too small, whatever it matched
    const tooFew = await post('/setup/steps/TESTING', tenant.technical, { configuration: { sampleSize: 99, matchedSamples: 99 } }).expect(200);
    expect(tooFew.body.checks).toEqual([
      { check: 'sample', passed: false, message: expect.stringMatching(/^failed: sampleSize ≥ 100/) },
      { check: 'accuracy', passed: false, message: expect.stringMatching(/^failed: /) },
    ]);
    const inaccurate = await post('/setup/steps/TESTING', tenant.technical, { configuration: { sampleSize: 100, matchedSamples: 84 } }).expect(200);
    expect(inaccurate.body).toMatchObject({ step: 'TESTING', configuration: { sampleSize: 100, matchedSamples: 84 }, passed: false });
    expect(inaccurate.body.checks).toEqual([
      { check: 'sample', passed: true, message: expect.stringMatching(/^ok: /) },
      { check: 'accuracy', passed: false, message: expect.stringMatching(/^failed: .*85 %/) },
    ]);
    expect((await get('/setup', tenant.finance).expect(200)).body).toEqual({
      steps: [...STEPS.slice(0, 4).map(([step]) => ({ step, passed: true, stale: false })), { step: 'TESTING', passed: false, stale: false }],
      complete: false,
      baseline: { value: 120000, periodStart: '2025-01-01', periodEnd: '2025-12-31' },
    });
    expect((await post('/setup/steps/TESTING', tenant.technical, { configuration: { sampleSize: 100, matchedSamples: 85 } }).expect(200)).body.passed).toBe(true);
    expect((await get('/setup', tenant.owner).expect(200)).body.complete).toBe(true);

    // DATA_SOURCE again: what was checked after it was checked against the old source
    expect((await post('/setup/steps/DATA_SOURCE', tenant.technical, { configuration: { kind: 's3', connectionName: 'meter-archive' } }).expect(200)).body.passed).toBe(true);
    expect((await get('/setup', tenant.owner).expect(200)).body).toMatchObject({
      steps: [
        { step: 'API_INTEGRATION', passed: true, stale: false },
        { step: 'DATA_SOURCE', passed: true, stale: false },
        { step: 'METRICS_CONFIGURATION', passed: true, stale: true },
        { step: 'BASELINE', passed: true, stale: true },
        { step: 'TESTING', passed: true, stale: true },
      ],
      complete: false,
    });
    const stale = await post('/setup/steps/TESTING', tenant.technical, { configuration: STEPS[4][1] }).expect(409);
    expect(stale.body).toMatchObject({ code: 'SETUP.STEP_OUT_OF_ORDER', details: { missingSteps: ['METRICS_CONFIGURATION', 'BASELINE'] } });
    for (const [step, configuration] of STEPS.slice(2)) expect((await post(`/setup/steps/${step}`, tenant.technical, { configuration }).expect(200)).body.passed).toBe(true);
    expect((await get('/setup', tenant.owner).expect(200)).body.complete).toBe(true);

    const recorded = await t.infrastructure.store.readStream(`setup-${tenant.tenantId}`);
    expect(recorded.map((event) => [event.envelope.data.step, event.envelope.data.passed])).toEqual([
      ['API_INTEGRATION', false],
      ...STEPS.slice(0, 4).map(([step]) => [step, true]),
      ['TESTING', false],
      ['TESTING', false],
      ['TESTING', true],
      ['DATA_SOURCE', true],
      ...STEPS.slice(2).map(([step]) => [step, true]),
    ]);

    expect((await post('/setup/steps/BASELINE', tenant.finance, { configuration: {} }).expect(403)).body.code).toBe('AUTH.ROLE_REQUIRED');
    expect((await post('/setup/steps/GO', tenant.technical, { configuration: {} }).expect(400)).body.details.fields[0].field).toBe('step');
    expect((await post('/setup/steps/BASELINE', tenant.technical, { configuration: 'yes' }).expect(400)).body.details.fields[0].field).toBe('configuration');
  });

  it('refuses a setup configuration holding a secret (422 naming the field), records nothing, and never echoes it', async () => {
    const { post, newTenant, tenantEvents } = drive;
    const tenant = await newTenant('Secret Co');
    const before = await tenantEvents(tenant.tenantId);
    const refused = await post('/setup/steps/API_INTEGRATION', tenant.owner, { configuration: { endpointUrl: 'https://api.example.com', authType: 'api-key', apiKey: 'sk_live_51HxYzAbCdEf' } }).expect(422);
    expect(refused.body).toMatchObject({ code: 'SETUP.SECRET_IN_CONFIGURATION', details: { fields: [{ field: 'configuration.apiKey', rule: 'no-secret-field' }] } });
    expect(refused.text).not.toContain('sk_live_51HxYzAbCdEf');
    expect(await tenantEvents(tenant.tenantId)).toBe(before);
    const withReference = await post('/setup/steps/API_INTEGRATION', tenant.owner, { configuration: { endpointUrl: 'https://api.example.com', authType: 'api-key', apiKeyRef: 'vault://billing/api' } }).expect(200);
    expect(withReference.body).toMatchObject({ passed: true, configuration: { apiKeyRef: 'vault://billing/api' } });
  });

  it('records a calculation only for an approved definition, from samples, for a whole period between the approval and now', async () => {
    const { post, put, get, newTenant, definition, approvedAt, tenantEvents, standAt } = drive;
    const tenant = await newTenant('Measured Co');
    const draftOnly: string = (await post('/value-definitions', tenant.owner, DEFINITION).expect(201)).body.definitionId;
    const approved = await definition(tenant);
    const approvalTime = await approvedAt(tenant, approved);
    const first = nextUtcMidnight(approvalTime);
    const now = first + 10 * DAY;
    standAt(now);

    const before = await tenantEvents(tenant.tenantId);
    const good = measured(day(first, 0), 5400, 200, 187);
    const refusals: Array<[string, string, object, number, string]> = [
      ['draft definition', draftOnly, good, 409, 'VALUE_CALCULATION.DEFINITION_NOT_APPROVED'],
      ['unknown definition', randomUUID(), good, 404, 'VALUE_DEFINITION.NOT_FOUND'],
      ['typed-in accuracy', approved, { ...good, accuracyPercent: 99 }, 400, 'REQUEST.INVALID'],
      ['no samples', approved, { ...good, sampleSize: 0, matchedSamples: 0 }, 400, 'REQUEST.INVALID'],
      ['more matched than taken', approved, { ...good, matchedSamples: 201 }, 422, 'VALUE_CALCULATION.SAMPLES_INCONSISTENT'],
      ['amount ≠ quantity × price', approved, { ...good, amountMinor: 1 }, 422, 'VALUE_CALCULATION.AMOUNT_MISMATCH'],
      ['empty period', approved, { ...good, periodEnd: good.periodStart }, 422, 'VALUE_CALCULATION.EMPTY_PERIOD'],
      ['fractional quantity', approved, { ...good, quantity: 1.5 }, 400, 'REQUEST.INVALID'],
      ['no offset', approved, { ...good, periodStart: good.periodStart.replace('.000Z', '') }, 400, 'REQUEST.INVALID'],
      ['not at midnight', approved, { ...good, periodStart: iso(first + 3_600_000) }, 422, 'VALUE_CALCULATION.PERIOD_NOT_AT_MIDNIGHT'],
      ['the day of the approval', approved, measured(day(first, -1), 5400, 200, 187), 409, 'VALUE_CALCULATION.PERIOD_BEFORE_APPROVAL'],
      ['a day not yet over', approved, measured(day(first, 10), 5400, 200, 187), 422, 'VALUE_CALCULATION.PERIOD_NOT_ENDED'],
    ];
    for (const [name, id, body, status, code] of refusals) {
      const response = await post(`/value-definitions/${id}/calculations`, tenant.technical, body);
      expect([name, response.status, response.body.code]).toEqual([name, status, code]);
    }
    const typedIn = await calculate(tenant, approved, { ...good, accuracyPercent: 99 }).expect(400);
    expect(typedIn.body.details.fields).toEqual([expect.objectContaining({ field: 'accuracyPercent', rule: 'unknown-field' })]);
    const noOffset = await calculate(tenant, approved, { ...good, periodEnd: good.periodEnd.replace('.000Z', '') }).expect(400);
    expect(noOffset.body.details.fields).toEqual([expect.objectContaining({ field: 'periodEnd', rule: 'instant-with-offset' })]);
    const beforeApproval = await calculate(tenant, approved, measured(day(first, -1), 5400, 200, 187)).expect(409);
    expect(beforeApproval.body.details).toEqual({ field: 'periodStart', rule: 'not-before-approval', approvedAt: approvalTime });
    const notEnded = await calculate(tenant, approved, measured(day(first, 10), 5400, 200, 187)).expect(422);
    expect(notEnded.body.details).toEqual({ field: 'periodEnd', rule: 'not-in-future' });
    expect(notEnded.body.message).toContain(iso(now));
    expect((await calculate(tenant, approved, { ...good, amountMinor: 1 }).expect(422)).body.details).toEqual({ field: 'amountMinor', expected: 5400 * 1250 });
    expect((await post(`/value-definitions/${approved}/calculations`, tenant.finance, good).expect(403)).body.code).toBe('AUTH.ROLE_REQUIRED');
    expect(await tenantEvents(tenant.tenantId)).toBe(before + 1); // the FINANCE refusal's security event only

    // the billing time zone decides where midnight is
    expect((await put('/billing/time-zone', tenant.owner, { timeZone: 'Mars/Olympus' }).expect(400)).body.details.fields[0]).toMatchObject({ field: 'timeZone', rule: 'iana-time-zone' });
    expect((await put('/billing/time-zone', tenant.technical, { timeZone: 'Europe/Berlin' }).expect(403)).body.code).toBe('AUTH.ROLE_REQUIRED');
    await put('/billing/time-zone', tenant.owner, { timeZone: 'Europe/Berlin' }).expect(200);
    const utcInBerlin = await calculate(tenant, approved, good).expect(422);
    expect(utcInBerlin.body).toMatchObject({ code: 'VALUE_CALCULATION.PERIOD_NOT_AT_MIDNIGHT', details: { field: 'periodStart', billingTimeZone: 'Europe/Berlin' } });
    expect((await put('/billing/time-zone', tenant.owner, { timeZone: 'UTC' }).expect(200)).body.timeZone).toBe('UTC');

    const recorded = await calculate(tenant, approved, good).expect(201);
    expect(recorded.body).toMatchObject({ calculationId: expect.any(String), streamId: `valuecalc-${tenant.tenantId}.${approved}`, events: [{ type: 'value-calculations.recorded' }] });
    const overlap = await calculate(tenant, approved, measured({ periodStart: iso(first), periodEnd: iso(first + 2 * DAY) }, 5400, 200, 187)).expect(409);
    expect(overlap.body).toMatchObject({ code: 'VALUE_CALCULATION.PERIOD_OVERLAP', details: { calculationId: recorded.body.calculationId } });
    // a period ending exactly now has ended; 200 of 300 is 66.66 %, rounded down
    const last = await calculate(tenant, approved, measured(day(first, 9), 10, 300, 200)).expect(201);
    const [event] = await t.infrastructure.store.readStream(`valuecalc-${tenant.tenantId}.${approved}`, { direction: 'backwards', maxCount: 1 });
    expect(event.envelope).toMatchObject({ occurredAt: iso(now), data: { calculationId: last.body.calculationId, sampleSize: 300, matchedSamples: 200, accuracyBasisPoints: 6666 } });

    const listed = await eventually(async () => (await get('/value-calculations', tenant.finance).expect(200)).body, (body) => body.data.length === 2);
    const row = (calculationId: string, k: number, quantity: number, sampleSize: number, matchedSamples: number, accuracyBasisPoints: number) => ({
      calculationId,
      definitionId: approved,
      ...day(first, k),
      quantity,
      amountMinor: quantity * 1250,
      amount: { amount: ((quantity * 1250) / 100).toFixed(2), currency: 'EUR' },
      currency: 'EUR',
      sampleSize,
      matchedSamples,
      accuracyBasisPoints,
      source: 'smart-meter export',
      status: 'RECORDED',
      adjusts: null,
      supersededBy: null,
      adjustReason: null,
      voidReason: null,
      recordedAt: iso(now),
    });
    expect(listed).toEqual({
      data: [row(last.body.calculationId, 9, 10, 300, 200, 6666), row(recorded.body.calculationId, 0, 5400, 200, 187, 9350)],
      hasMore: false,
      nextCursor: null,
      totals: [{ currency: 'EUR', amount: { amount: '67625.00', currency: 'EUR' }, amountMinor: String(5410 * 1250), quantity: '5410', calculations: 2 }],
    });
  });

  it('raises and resolves alerts', async () => {
    const { post, get, newTenant } = drive;
    const tenant = await newTenant('Alerting Co');
    const raised = await post('/alerts', tenant.technical, { severity: 'critical', message: 'meter feed down' }).expect(201);
    expect(raised.body).toMatchObject({ alertId: expect.any(String), streamId: `golive-${tenant.tenantId}`, events: [{ type: 'go-live.alert-raised' }] });
    expect((await get('/go-live', tenant.finance).expect(200)).body).toMatchObject({ live: false, billing: 'NOT_LIVE', openAlerts: { [raised.body.alertId]: 'critical' } });
    expect((await post('/alerts', tenant.finance, { severity: 'critical', message: 'nope' }).expect(403)).body.code).toBe('AUTH.ROLE_REQUIRED');
    expect((await post('/alerts', tenant.technical, { severity: 'fatal', message: 'meter feed down' }).expect(400)).body.details.fields[0].field).toBe('severity');
    expect((await post(`/alerts/${randomUUID()}/resolve`, tenant.technical, { resolution: 'restarted' }).expect(404)).body.code).toBe('ALERT.NOT_FOUND');
    // not live: resolving suspends or resumes nothing
    expect((await post(`/alerts/${raised.body.alertId}/resolve`, tenant.technical, { resolution: 'restarted' }).expect(200)).body.events).toMatchObject([{ type: 'go-live.alert-resolved' }]);
    expect((await post(`/alerts/${raised.body.alertId}/resolve`, tenant.technical, { resolution: 'restarted again' }).expect(200)).body.events).toEqual([]);
    expect((await get('/go-live', tenant.owner).expect(200)).body.openAlerts).toEqual({});
  });

  // A retried POST (same Idempotency-Key) appends nothing and answers with the id its first run recorded.
  it('a retried POST /alerts answers with the id of the alert it raised', async () => {
    const { post, newTenant } = drive;
    const tenant = await newTenant('Retrying Alerts Co');
    const raise = () => post('/alerts', tenant.technical, { severity: 'warning', message: 'meter feed slow' }).set('idempotency-key', 'alert-1');
    const first = await raise().expect(201);
    const retry = await raise().expect(200);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body.alertId).toBe(first.body.alertId);
  });

  it('a retried POST /value-definitions/:id/calculations answers with the id of the calculation it recorded', async () => {
    const { newTenant, definition, approvedAt, standAt } = drive;
    const tenant = await newTenant('Retrying Calculations Co');
    const approved = await definition(tenant);
    const first = nextUtcMidnight(await approvedAt(tenant, approved));
    standAt(first + DAY);
    const record = () => calculate(tenant, approved, measured(day(first, 0), 5400, 200, 190)).set('idempotency-key', 'calc-1');
    const recorded = await record().expect(201);
    const retry = await record().expect(200);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body.calculationId).toBe(recorded.body.calculationId);
  });

  it('goes live only when all six checks pass, records the ids and positions it decided on, and suspends billing while a critical alert is open', async () => {
    const { post, get, newTenant, completeSetup, definition, approvedAt, standAt } = drive;
    const tenant = await newTenant('Going Live Co');

    // nothing done yet
    await preflightOnceSettled(tenant, () => true);
    const nothing = await refusedFor(tenant, ['setup-complete', 'approvals-complete', 'baseline-matches', 'measurement-accuracy']);
    expect(nothing.message).toMatch(/^go-live refused: setup steps not passed: API_INTEGRATION, DATA_SOURCE, METRICS_CONFIGURATION, BASELINE, TESTING; no value definition/);
    expect((await get('/go-live', tenant.finance).expect(200)).body).toMatchObject({ live: false, liveSince: null, billing: 'NOT_LIVE', billingTimeZone: 'UTC', openAlerts: {} });

    // setup and one approved definition, not yet measured
    await completeSetup(tenant);
    const approved = await definition(tenant);
    await preflightOnceSettled(tenant, (facts) => facts.approvals.completed.length === 1);
    expect((await refusedFor(tenant, ['measurement-accuracy'])).message).toContain(`${approved}: no ended period with measurement samples`);

    // measured: days after the approval, with "now" four days on
    const first = nextUtcMidnight(await approvedAt(tenant, approved));
    const now = first + 4 * DAY;
    standAt(now);
    const before = await drive.tenantEvents(tenant.tenantId);
    const typedIn = await calculate(tenant, approved, { ...measured(day(first, 0), 1000, 200, 200), accuracyPercent: 100 }).expect(400);
    expect(typedIn.body).toMatchObject({ code: 'REQUEST.INVALID', details: { fields: [{ field: 'accuracyPercent', rule: 'unknown-field' }] } });
    expect((await calculate(tenant, approved, measured(day(first, -1), 1000, 200, 200)).expect(409)).body.code).toBe('VALUE_CALCULATION.PERIOD_BEFORE_APPROVAL');
    expect((await calculate(tenant, approved, measured(day(first, 4), 1000, 200, 200)).expect(422)).body.code).toBe('VALUE_CALCULATION.PERIOD_NOT_ENDED');
    expect(await drive.tenantEvents(tenant.tenantId)).toBe(before);

    // four days: the oldest (0 %) is not among the three latest; the rest weigh by quantity:
    // (3000 × 60 % + 1000 × 95 % + 1000 × 95 %) / 5000 = 74 %, though 500 of 600 samples matched
    const ids: string[] = [];
    for (const [k, quantity, matched] of [
      [0, 1000, 0],
      [1, 3000, 120],
      [2, 1000, 190],
      [3, 1000, 190],
    ]) {
      ids.push((await calculate(tenant, approved, measured(day(first, k), quantity, 200, matched)).expect(201)).body.calculationId);
    }
    const weak = await refusedFor(tenant, ['measurement-accuracy']);
    expect(weak.message).toContain(`below 85 %: ${approved}: 74.00 % (500 of 600 samples over 3 period(s), weighted by quantity)`);
    expect(weak.details.checks.find((check: Check) => check.check === 'measurement-accuracy').passed).toBe(false);

    // day 1 corrected: 180 of 200 → (2700 + 950 + 950) / 5000 = 92 %
    const adjusted = await drive.post(`/value-definitions/${approved}/calculations/${ids[1]}/adjust`, tenant.technical, { ...measured(day(first, 1), 3000, 200, 180), reason: 'meter 7 double-counted' }).expect(201);
    expect(adjusted.body).toMatchObject({ adjusts: ids[1], events: [{ type: 'value-calculations.adjusted' }] });
    const again = await drive.post(`/value-definitions/${approved}/calculations/${ids[1]}/adjust`, tenant.technical, { ...measured(day(first, 1), 3000, 200, 190), reason: 'second thoughts' }).expect(409);
    expect(again.body).toMatchObject({ code: 'VALUE_CALCULATION.SUPERSEDED', details: { supersededBy: adjusted.body.calculationId } });
    const measuredNow = await preflightOnceSettled(tenant, (facts) => facts.accuracy[0]?.measured?.basisPoints === 9200);
    expect(measuredNow.preflight.facts.accuracy).toEqual([
      {
        definitionId: approved,
        calculationStreamVersion: await lastVersion(`valuecalc-${tenant.tenantId}.${approved}`),
        measured: { definitionId: approved, basisPoints: 9200, calculationIds: [ids[3], ids[2], adjusted.body.calculationId], quantity: 5000, sampleSize: 600, matchedSamples: 560 },
      },
    ]);
    expect(measuredNow.preflight.checks.every((check: Check) => check.passed)).toBe(true);

    // a new baseline: TESTING goes stale, and the approved definition no longer matches
    await post('/setup/steps/BASELINE', tenant.technical, { configuration: { ...STEPS[3][1], value: 110000 } }).expect(200);
    const drifted = await refusedFor(tenant, ['setup-complete', 'baseline-matches']);
    expect(drifted.message).toContain('setup steps not passed: TESTING (stale since an earlier step was recorded again: TESTING)');
    expect(drifted.message).toContain(`the setup baseline is 110000; definition(s) differ: ${approved} (120000)`);
    for (const [step, configuration] of STEPS.slice(3)) await post(`/setup/steps/${step}`, tenant.technical, { configuration }).expect(200);

    // an open critical alert and a pending approval
    const critical: string = (await post('/alerts', tenant.technical, { severity: 'critical', message: 'meter feed down' }).expect(201)).body.alertId;
    const warning: string = (await post('/alerts', tenant.technical, { severity: 'warning', message: 'meter feed slow' }).expect(201)).body.alertId;
    const pending = await definition(tenant, false, { name: 'Peak load avoided', baseline: 90000 });
    await preflightOnceSettled(tenant, (facts) => facts.approvals.pending.length === 1);
    const blocked = await refusedFor(tenant, ['approvals-complete', 'no-critical-alert']);
    expect(blocked.message).toContain(`1 approval(s) still pending: ${pending}`);
    expect(blocked.message).toContain(`critical alert(s) open: ${critical}`);
    await post(`/approvals/${pending}/stages/FINANCE/reject`, tenant.finance, { reason: 'baseline from another site' }).expect(200);
    await post(`/alerts/${critical}/resolve`, tenant.technical, { resolution: 'feed restored' }).expect(200);

    const ready = await preflightOnceSettled(tenant, (facts) => facts.approvals.pending.length === 0);
    expect(ready.preflight.checks.map((check: Check) => [check.check, check.passed])).toEqual(PREFLIGHT_CHECKS.map((check) => [check, true]));
    expect((await post('/go-live', tenant.finance).expect(403)).body.code).toBe('AUTH.ROLE_REQUIRED');
    expect((await post('/go-live', tenant.technical).expect(403)).body.code).toBe('AUTH.ROLE_REQUIRED');
    const activated = await post('/go-live', tenant.owner).expect(200);
    expect(activated.body).toMatchObject({ streamId: `golive-${tenant.tenantId}`, events: [{ type: 'go-live.activated' }] });

    // what the decision rested on: stream versions and the read model's position, not counts
    const [event] = await t.infrastructure.store.readStream(`golive-${tenant.tenantId}`, { direction: 'backwards', maxCount: 1 });
    expect(event.envelope).toMatchObject({ id: activated.body.events[0].id, type: 'go-live.activated', occurredAt: iso(now), data: { checks: ready.preflight.checks } });
    const facts = event.envelope.data.facts as unknown as Facts;
    expect(facts).toEqual({
      decidedAt: iso(now),
      setup: { streamVersion: await lastVersion(`setup-${tenant.tenantId}`), missingSteps: [], staleSteps: [] },
      approvals: { completed: [{ definitionId: approved, streamVersion: await lastVersion(`valuedef-${tenant.tenantId}.${approved}`) }], pending: [] },
      accuracy: measuredNow.preflight.facts.accuracy,
      baseline: { setup: 120000, definitions: [{ definitionId: approved, baseline: 120000 }] },
      projections: [{ projector: 'approvals_current_v2', position: expect.stringMatching(/^\d+\/\d+$/), state: 'running', pendingEvents: 0, scanned: expect.any(Number), complete: true }],
    });

    const live = await eventually(async () => (await get('/go-live', tenant.finance).expect(200)).body, (body) => body.liveSince !== null);
    expect(live).toMatchObject({ live: true, liveSince: iso(now), billing: 'ACTIVE', openAlerts: { [warning]: 'warning' } });

    // live: a critical alert stops billing until the last critical one is resolved
    const down = await post('/alerts', tenant.technical, { severity: 'critical', message: 'meter feed down again' }).expect(201);
    expect(down.body.events.map((e: { type: string }) => e.type)).toEqual(['go-live.alert-raised', 'go-live.billing-suspended']);
    const alsoDown = await post('/alerts', tenant.technical, { severity: 'critical', message: 'second feed down' }).expect(201);
    expect(alsoDown.body.events.map((e: { type: string }) => e.type)).toEqual(['go-live.alert-raised']);
    expect((await get('/go-live', tenant.finance).expect(200)).body).toMatchObject({ live: true, billing: 'SUSPENDED' });
    expect((await post(`/alerts/${warning}/resolve`, tenant.technical, { resolution: 'caught up' }).expect(200)).body.events.map((e: { type: string }) => e.type)).toEqual(['go-live.alert-resolved']);
    expect((await post(`/alerts/${down.body.alertId}/resolve`, tenant.technical, { resolution: 'restored' }).expect(200)).body.events.map((e: { type: string }) => e.type)).toEqual(['go-live.alert-resolved']);
    expect((await get('/go-live', tenant.finance).expect(200)).body.billing).toBe('SUSPENDED');
    const resumed = await post(`/alerts/${alsoDown.body.alertId}/resolve`, tenant.technical, { resolution: 'restored' }).expect(200);
    expect(resumed.body.events.map((e: { type: string }) => e.type)).toEqual(['go-live.alert-resolved', 'go-live.billing-resumed']);
    expect((await get('/go-live', tenant.finance).expect(200)).body).toMatchObject({ live: true, billing: 'ACTIVE', openAlerts: {} });

    const settledCount = await drive.tenantEvents(tenant.tenantId);
    expect((await post('/go-live', tenant.owner).expect(409)).body.code).toBe('GO_LIVE.ALREADY_LIVE');
    expect(await drive.tenantEvents(tenant.tenantId)).toBe(settledCount);
  });
});
