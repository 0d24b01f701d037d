import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { startTestApp, type TestApp } from '../support/app';
import { eventually } from '../support/eventually';
import { accessTokenFor, bearer, signUp } from '../support/identity';

const DEFINITION = { name: 'Energy saved', unit: 'kWh', formula: 'baseline kWh − metered kWh, per month', unitPriceMinor: 1250, currency: 'EUR', baseline: 120000 };
const STEPS: Array<[string, object]> = [
  ['API_INTEGRATION', { endpointUrl: 'https://api.example.com', authType: 'api-key' }],
  ['DATA_SOURCE', { kind: 'postgres', connectionName: 'meters' }],
  ['METRICS_CONFIGURATION', { fieldMappings: [{ source: 'kwh_total', metric: 'energy' }] }],
  ['BASELINE', { periodStart: '2025-01-01', periodEnd: '2025-12-31', value: 120000 }],
  ['TESTING', { sampleSize: 100, matchedSamples: 97 }],
];
const period = (month: number) => ({ periodStart: `2026-${String(month).padStart(2, '0')}-01T00:00:00Z`, periodEnd: `2026-${String(month + 1).padStart(2, '0')}-01T00:00:00Z` });
const measured = (month: number, accuracyPercent: number, quantity = 5400) => ({ ...period(month), quantity, amountMinor: quantity * DEFINITION.unitPriceMinor, accuracyPercent, source: 'smart-meter export' });

describe('setup, value calculations, alerts and go-live over HTTP (embedded profile)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await t.infrastructure.fanout.start();
  });
  afterAll(() => t.close());

  type Tenant = { tenantId: string; owner: string; finance: string; technical: string };
  const newTenant = async (name: string): Promise<Tenant> => {
    const tenant = await signUp(t.infrastructure, name);
    const [finance, technical] = await Promise.all([accessTokenFor(t.infrastructure, tenant.tenantId, 'FINANCE'), accessTokenFor(t.infrastructure, tenant.tenantId, 'TECHNICAL')]);
    return { tenantId: tenant.tenantId, owner: tenant.accessToken, finance, technical };
  };
  const post = (path: string, token: string, body: object = {}) => request(t.server).post(path).set(bearer(token)).send(body);
  const get = (path: string, token: string) => request(t.server).get(path).set(bearer(token));
  const tenantEvents = async (tenantId: string) => (await t.infrastructure.store.readAll({ commit: 0n, prepare: 0n }, 100_000, { tenantId })).length;
  const completeSetup = async (tenant: Tenant) => {
    for (const [step, configuration] of STEPS) expect((await post(`/setup/steps/${step}`, tenant.technical, { configuration }).expect(200)).body.passed).toBe(true);
  };
  const definition = async (tenant: Tenant, approve = true): Promise<string> => {
    const id: string = (await post('/value-definitions', tenant.owner, DEFINITION).expect(201)).body.definitionId;
    await post(`/value-definitions/${id}/submit`, tenant.owner).expect(200);
    if (!approve) return id;
    await post(`/approvals/${id}/stages/FINANCE/approve`, tenant.finance).expect(200);
    await post(`/approvals/${id}/stages/TECHNICAL/approve`, tenant.technical).expect(200);
    await post(`/approvals/${id}/stages/FINAL/approve`, tenant.owner).expect(200);
    return id;
  };
  /** The preflight as GET /go-live sees it, once the read models show what the test did. */
  const preflightOnceSettled = (tenant: Tenant, settled: (facts: Record<string, unknown>) => boolean) =>
    eventually(async () => (await get('/go-live', tenant.owner).expect(200)).body, (body) => settled(body.preflight.facts));
  /** POST /go-live must refuse with exactly these failed checks, and append nothing anywhere. */
  const refusedFor = async (tenant: Tenant, failed: string[]) => {
    const before = await tenantEvents(tenant.tenantId);
    const refused = await post('/go-live', tenant.owner).expect(422);
    expect(refused.body.code).toBe('GO_LIVE.PREFLIGHT_FAILED');
    expect(refused.body.details.failedChecks.map((check: { check: string }) => check.check)).toEqual(failed);
    expect(refused.body.details.failedChecks.every((check: { passed: boolean; message: string }) => !check.passed && check.message.length > 0)).toBe(true);
    expect(refused.body.details.checks.map((check: { check: string; passed: boolean }) => [check.check, check.passed])).toEqual(
      ['setup-complete', 'approvals-complete', 'measurement-accuracy', 'no-critical-alert'].map((check) => [check, !failed.includes(check)]),
    );
    expect(await tenantEvents(tenant.tenantId)).toBe(before);
    return refused.body;
  };

  it('records setup steps in order, a failed attempt with its checks, then a passing one', async () => {
    const tenant = await newTenant('Setup Co');
    const outOfOrder = await post('/setup/steps/TESTING', tenant.technical, { configuration: { sampleSize: 10, matchedSamples: 10 } }).expect(409);
    expect(outOfOrder.body).toMatchObject({ code: 'SETUP.STEP_OUT_OF_ORDER', details: { step: 'TESTING', missingSteps: ['API_INTEGRATION', 'DATA_SOURCE', 'METRICS_CONFIGURATION', 'BASELINE'] } });

    const insecure = await post('/setup/steps/API_INTEGRATION', tenant.owner, { configuration: { endpointUrl: 'http://api.example.com', authType: 'api-key' } }).expect(200);
    expect(insecure.body).toMatchObject({ step: 'API_INTEGRATION', passed: false, events: [{ type: 'setup.step-recorded' }] });
    expect(insecure.body.checks.map((check: { check: string; passed: boolean }) => [check.check, check.passed])).toEqual([
      ['endpoint-https', false],
      ['auth-type', true],
    ]);
    // a failed step does not open the next one
    expect((await post('/setup/steps/DATA_SOURCE', tenant.technical, { configuration: STEPS[1][1] }).expect(409)).body.details.missingSteps).toEqual(['API_INTEGRATION']);
    for (const [step, configuration] of STEPS.slice(0, 4)) expect((await post(`/setup/steps/${step}`, tenant.technical, { configuration }).expect(200)).body).toMatchObject({ step, configuration, passed: true });

    const failing = await post('/setup/steps/TESTING', tenant.technical, { configuration: { sampleSize: 100, matchedSamples: 80 } }).expect(200);
    expect(failing.body).toMatchObject({ step: 'TESTING', configuration: { sampleSize: 100, matchedSamples: 80 }, passed: false });
    expect(failing.body.checks).toEqual([
      { check: 'sample', passed: true, message: expect.stringMatching(/^ok: /) },
      { check: 'accuracy', passed: false, message: expect.stringMatching(/^failed: .*85 %/) },
    ]);
    expect((await get('/setup', tenant.finance).expect(200)).body).toEqual({
      steps: [...STEPS.slice(0, 4).map(([step]) => ({ step, passed: true })), { step: 'TESTING', passed: false }],
      complete: false,
    });
    const passing = await post('/setup/steps/TESTING', tenant.technical, { configuration: STEPS[4][1] }).expect(200);
    expect(passing.body).toMatchObject({ passed: true, checks: [{ check: 'sample', passed: true }, { check: 'accuracy', passed: true }] });
    expect((await get('/setup', tenant.owner).expect(200)).body.complete).toBe(true);
    const recorded = await t.infrastructure.store.readStream(`setup-${tenant.tenantId}`);
    expect(recorded.map((event) => [event.envelope.data.step, event.envelope.data.passed])).toEqual([
      ['API_INTEGRATION', false],
      ...STEPS.slice(0, 4).map(([step]) => [step, true]),
      ['TESTING', false],
      ['TESTING', true],
    ]);

    expect((await post('/setup/steps/BASELINE', tenant.finance, { configuration: {} }).expect(403)).body.code).toBe('AUTH.ROLE_REQUIRED');
    expect((await post('/setup/steps/GO', tenant.technical, { configuration: {} }).expect(400)).body.details.fields[0].field).toBe('step');
    expect((await post('/setup/steps/BASELINE', tenant.technical, { configuration: 'yes' }).expect(400)).body.details.fields[0].field).toBe('configuration');
  });

  it('refuses a setup configuration holding a secret (422 naming the field), records nothing, and never echoes it', async () => {
    const tenant = await newTenant('Secret Co');
    const before = await tenantEvents(tenant.tenantId);
    const refused = await post('/setup/steps/API_INTEGRATION', tenant.owner, { configuration: { endpointUrl: 'https://api.example.com', authType: 'api-key', apiKey: 'sk_live_51HxYzAbCdEf' } }).expect(422);
    expect(refused.body).toMatchObject({ code: 'SETUP.SECRET_IN_CONFIGURATION', details: { fields: [{ field: 'configuration.apiKey', rule: 'no-secret-field' }] } });
    expect(refused.text).not.toContain('sk_live_51HxYzAbCdEf');
    expect(await tenantEvents(tenant.tenantId)).toBe(before);
    const withReference = await post('/setup/steps/API_INTEGRATION', tenant.owner, { configuration: { endpointUrl: 'https://api.example.com', authType: 'api-key', apiKeyRef: 'vault://billing/api' } }).expect(200);
    expect(withReference.body).toMatchObject({ passed: true, configuration: { apiKeyRef: 'vault://billing/api' } });
  });

  it('records value calculations only for an approved definition, priced right, in disjoint periods, to two decimals', async () => {
    const tenant = await newTenant('Measured Co');
    const draftOnly: string = (await post('/value-definitions', tenant.owner, DEFINITION).expect(201)).body.definitionId;
    const approved = await definition(tenant);
    const before = await tenantEvents(tenant.tenantId);
    const refusals: Array<[string, string, object, number, string]> = [
      ['draft definition', draftOnly, measured(1, 92.5), 409, 'VALUE_CALCULATION.DEFINITION_NOT_APPROVED'],
      ['unknown definition', randomUUID(), measured(1, 92.5), 404, 'VALUE_DEFINITION.NOT_FOUND'],
      ['amount ≠ quantity × price', approved, { ...measured(1, 92.5), amountMinor: 1 }, 422, 'VALUE_CALCULATION.AMOUNT_MISMATCH'],
      ['empty period', approved, { ...measured(1, 92.5), periodEnd: period(1).periodStart }, 422, 'VALUE_CALCULATION.EMPTY_PERIOD'],
      ['three decimals', approved, measured(1, 92.125), 400, 'REQUEST.INVALID'],
      ['over 100 %', approved, measured(1, 100.5), 400, 'REQUEST.INVALID'],
      ['fractional quantity', approved, { ...measured(1, 92.5), quantity: 1.5 }, 400, 'REQUEST.INVALID'],
    ];
    for (const [name, id, body, status, code] of refusals) {
      const response = await post(`/value-definitions/${id}/calculations`, tenant.technical, body);
      expect([name, response.status, response.body.code]).toEqual([name, status, code]);
    }
    const mismatch = await post(`/value-definitions/${approved}/calculations`, tenant.technical, { ...measured(1, 92.5), amountMinor: 1 }).expect(422);
    expect(mismatch.body.details).toEqual({ field: 'amountMinor', expected: 5400 * 1250 });
    const decimals = await post(`/value-definitions/${approved}/calculations`, tenant.technical, measured(1, 92.125)).expect(400);
    expect(decimals.body.details.fields.map((f: { field: string }) => f.field)).toEqual(['accuracyPercent']);
    expect((await post(`/value-definitions/${approved}/calculations`, tenant.finance, measured(1, 92.5)).expect(403)).body.code).toBe('AUTH.ROLE_REQUIRED');
    expect(await tenantEvents(tenant.tenantId)).toBe(before + 1); // the FINANCE refusal's security event only

    const recorded = await post(`/value-definitions/${approved}/calculations`, tenant.technical, measured(1, 92.57)).expect(201);
    expect(recorded.body).toMatchObject({ calculationId: expect.any(String), streamId: `valuecalc-${tenant.tenantId}.${approved}`, events: [{ type: 'value-calculations.recorded' }] });
    const overlap = await post(`/value-definitions/${approved}/calculations`, tenant.owner, { ...measured(1, 90), periodStart: '2026-01-15T00:00:00Z', periodEnd: '2026-02-15T00:00:00Z' }).expect(409);
    expect(overlap.body).toMatchObject({ code: 'VALUE_CALCULATION.PERIOD_OVERLAP', details: { calculationId: recorded.body.calculationId } });
    await post(`/value-definitions/${approved}/calculations`, tenant.owner, measured(2, 88)).expect(201);

    const listed = await eventually(async () => (await get('/value-calculations', tenant.finance).expect(200)).body.calculations, (rows) => rows.length === 2);
    expect(listed).toEqual([
      { calculationId: expect.any(String), definitionId: approved, periodStart: '2026-02-01T00:00:00.000Z', periodEnd: '2026-03-01T00:00:00.000Z', quantity: 5400, amountMinor: 6750000, currency: 'EUR', accuracyPercent: 88, source: 'smart-meter export' },
      { calculationId: recorded.body.calculationId, definitionId: approved, periodStart: '2026-01-01T00:00:00.000Z', periodEnd: '2026-02-01T00:00:00.000Z', quantity: 5400, amountMinor: 6750000, currency: 'EUR', accuracyPercent: 92.57, source: 'smart-meter export' },
    ]);
  });

  it('raises and resolves alerts', async () => {
    const tenant = await newTenant('Alerting Co');
    const raised = await post('/alerts', tenant.technical, { severity: 'critical', message: 'meter feed down' }).expect(201);
    expect(raised.body).toMatchObject({ alertId: expect.any(String), streamId: `golive-${tenant.tenantId}`, events: [{ type: 'go-live.alert-raised' }] });
    expect((await get('/go-live', tenant.finance).expect(200)).body.openAlerts).toEqual({ [raised.body.alertId]: 'critical' });
    expect((await post('/alerts', tenant.finance, { severity: 'critical', message: 'nope' }).expect(403)).body.code).toBe('AUTH.ROLE_REQUIRED');
    expect((await post('/alerts', tenant.technical, { severity: 'fatal', message: 'meter feed down' }).expect(400)).body.details.fields[0].field).toBe('severity');
    expect((await post(`/alerts/${randomUUID()}/resolve`, tenant.technical, { resolution: 'restarted' }).expect(404)).body.code).toBe('ALERT.NOT_FOUND');
    expect((await post(`/alerts/${raised.body.alertId}/resolve`, tenant.technical, { resolution: 'restarted' }).expect(200)).body.events).toMatchObject([{ type: 'go-live.alert-resolved' }]);
    expect((await post(`/alerts/${raised.body.alertId}/resolve`, tenant.technical, { resolution: 'restarted again' }).expect(200)).body.events).toEqual([]);
    expect((await get('/go-live', tenant.owner).expect(200)).body.openAlerts).toEqual({});
  });

  // A retried POST (same Idempotency-Key) appends nothing and answers with the id its first run recorded.
  it('a retried POST /alerts answers with the id of the alert it raised', async () => {
    const tenant = await newTenant('Retrying Alerts Co');
    const raise = () => post('/alerts', tenant.technical, { severity: 'warning', message: 'meter feed slow' }).set('idempotency-key', 'alert-1');
    const first = await raise().expect(201);
    const retry = await raise().expect(200);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body.alertId).toBe(first.body.alertId);
  });

  it('a retried POST /value-definitions/:id/calculations answers with the id of the calculation it recorded', async () => {
    const tenant = await newTenant('Retrying Calculations Co');
    const approved = await definition(tenant);
    const record = () => post(`/value-definitions/${approved}/calculations`, tenant.technical, measured(1, 95)).set('idempotency-key', 'calc-1');
    const first = await record().expect(201);
    const retry = await record().expect(200);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body.calculationId).toBe(first.body.calculationId);
  });

  it('refuses go-live with nothing done, listing setup, approvals and accuracy', async () => {
    const tenant = await newTenant('Nothing Yet Co');
    const refused = await refusedFor(tenant, ['setup-complete', 'approvals-complete', 'measurement-accuracy']);
    expect(refused.message).toMatch(/^go-live refused: setup steps not passed: API_INTEGRATION, DATA_SOURCE, METRICS_CONFIGURATION, BASELINE, TESTING; no value definition/);
    const status = (await get('/go-live', tenant.finance).expect(200)).body;
    expect(status).toMatchObject({ live: false, liveSince: null, openAlerts: {} });
    expect(status.preflight.facts).toEqual({ setupMissingSteps: ['API_INTEGRATION', 'DATA_SOURCE', 'METRICS_CONFIGURATION', 'BASELINE', 'TESTING'], approvalsCompleted: 0, approvalsPending: 0, recentAccuracyBasisPoints: null, calculationsConsidered: 0 });
  });

  it('refuses go-live for every failing check, then activates with its facts; once only, and only by an administrator', async () => {
    const tenant = await newTenant('Going Live Co');
    await completeSetup(tenant);
    const approved = await definition(tenant);
    await post(`/value-definitions/${approved}/calculations`, tenant.technical, measured(1, 80)).expect(201);
    await preflightOnceSettled(tenant, (facts) => facts.approvalsCompleted === 1 && facts.recentAccuracyBasisPoints === 8000);
    expect((await refusedFor(tenant, ['measurement-accuracy'])).message).toContain('recent measurement accuracy 80.00 % over 1 calculation(s)');

    const critical: string = (await post('/alerts', tenant.technical, { severity: 'critical', message: 'meter feed down' }).expect(201)).body.alertId;
    const warning: string = (await post('/alerts', tenant.technical, { severity: 'warning', message: 'meter feed slow' }).expect(201)).body.alertId;
    await refusedFor(tenant, ['measurement-accuracy', 'no-critical-alert']);
    await post(`/value-definitions/${approved}/calculations`, tenant.technical, measured(2, 100)).expect(201);
    await preflightOnceSettled(tenant, (facts) => facts.recentAccuracyBasisPoints === 9000);
    expect((await refusedFor(tenant, ['no-critical-alert'])).message).toContain(critical);

    const pending = await definition(tenant, false);
    await preflightOnceSettled(tenant, (facts) => facts.approvalsPending === 1);
    await refusedFor(tenant, ['approvals-complete', 'no-critical-alert']);
    await post(`/approvals/${pending}/stages/FINANCE/approve`, tenant.finance).expect(200);
    await post(`/approvals/${pending}/stages/TECHNICAL/approve`, tenant.technical).expect(200);
    await post(`/approvals/${pending}/stages/FINAL/approve`, tenant.owner).expect(200);
    await post(`/alerts/${critical}/resolve`, tenant.technical, { resolution: 'feed restored' }).expect(200);
    const facts = { setupMissingSteps: [], approvalsCompleted: 2, approvalsPending: 0, recentAccuracyBasisPoints: 9000, calculationsConsidered: 2 };
    const ready = await preflightOnceSettled(tenant, (current) => current.approvalsCompleted === 2 && current.approvalsPending === 0);
    expect(ready.preflight).toEqual({ facts, checks: expect.arrayContaining([expect.objectContaining({ passed: true })]) });
    expect(ready.preflight.checks.every((check: { passed: boolean }) => check.passed)).toBe(true);

    expect((await post('/go-live', tenant.finance).expect(403)).body.code).toBe('AUTH.ROLE_REQUIRED');
    expect((await post('/go-live', tenant.technical).expect(403)).body.code).toBe('AUTH.ROLE_REQUIRED');
    const activated = await post('/go-live', tenant.owner).expect(200);
    expect(activated.body).toMatchObject({ streamId: `golive-${tenant.tenantId}`, events: [{ type: 'go-live.activated' }] });
    const [event] = await t.infrastructure.store.readStream(`golive-${tenant.tenantId}`, { direction: 'backwards', maxCount: 1 });
    expect(event.envelope).toMatchObject({ id: activated.body.events[0].id, type: 'go-live.activated', data: { facts, checks: ready.preflight.checks } });

    const live = await eventually(async () => (await get('/go-live', tenant.finance).expect(200)).body, (body) => body.liveSince !== null);
    expect(live).toMatchObject({ live: true, liveSince: event.envelope.occurredAt, openAlerts: { [warning]: 'warning' } });
    const before = await tenantEvents(tenant.tenantId);
    expect((await post('/go-live', tenant.owner).expect(409)).body.code).toBe('GO_LIVE.ALREADY_LIVE');
    expect(await tenantEvents(tenant.tenantId)).toBe(before);
  });
});
