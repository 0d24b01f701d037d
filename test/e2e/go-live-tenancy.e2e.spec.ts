import { startTestApp, type TestApp } from '../support/app';
import { eventually } from '../support/eventually';
import { DAY, day, goLiveDriver, measured, nextUtcMidnight } from '../support/go-live';

/**
 * The setup, calculation, alert and go-live routes take the tenant from the credential only: one
 * workspace's ids, addressed with another workspace's token, look like absence (404), change
 * nothing, and none of its rows, alerts or facts show up in the other's reads.
 */
describe('go-live and value-calculation routes across workspaces (embedded profile)', () => {
  let t: TestApp;
  let drive: ReturnType<typeof goLiveDriver>;
  beforeAll(async () => {
    t = await startTestApp();
    await t.infrastructure.fanout.start();
    drive = goLiveDriver(t);
  });
  afterEach(() => jest.restoreAllMocks());
  afterAll(() => t.close());

  it("one workspace can neither read nor change another's calculations, alerts, setup or go-live", async () => {
    const { post, put, get, newTenant, definition, approvedAt, tenantEvents, standAt } = drive;
    const [a, b] = [await newTenant('Tenant A Co'), await newTenant('Tenant B Co')];
    await post('/setup/steps/API_INTEGRATION', a.technical, { configuration: { endpointUrl: 'https://a.example.com', authType: 'api-key' } }).expect(200);
    const aDefinition = await definition(a);
    const bDefinition = await definition(b);
    const first = Math.max(nextUtcMidnight(await approvedAt(a, aDefinition)), nextUtcMidnight(await approvedAt(b, bDefinition)));
    standAt(first + 5 * DAY);
    const aCalculations: string[] = [];
    for (const k of [0, 1]) aCalculations.push((await post(`/value-definitions/${aDefinition}/calculations`, a.technical, measured(day(first, k), 1000, 200, 190)).expect(201)).body.calculationId);
    const aAlert: string = (await post('/alerts', a.technical, { severity: 'critical', message: 'meter feed down' }).set('idempotency-key', 'same-key').expect(201)).body.alertId;
    await put('/billing/time-zone', a.owner, { timeZone: 'Europe/Berlin' }).expect(200);
    const aPage = await eventually(async () => (await get('/value-calculations?limit=1', a.finance).expect(200)).body, (body) => body.data.length === 1 && body.hasMore === true);
    const aEvents = await tenantEvents(a.tenantId);

    // B addresses A's ids: 404, as if they did not exist
    const notFound: Array<[string, string, object, string]> = [
      ['record on A’s definition', `/value-definitions/${aDefinition}/calculations`, measured(day(first, 2), 1000, 200, 190), 'VALUE_DEFINITION.NOT_FOUND'],
      ['adjust A’s calculation', `/value-definitions/${aDefinition}/calculations/${aCalculations[0]}/adjust`, { ...measured(day(first, 0), 1, 200, 1), reason: 'not yours' }, 'VALUE_DEFINITION.NOT_FOUND'],
      ['void A’s calculation', `/value-definitions/${aDefinition}/calculations/${aCalculations[0]}/void`, { reason: 'not yours' }, 'VALUE_DEFINITION.NOT_FOUND'],
      ['void A’s calculation under B’s definition', `/value-definitions/${bDefinition}/calculations/${aCalculations[0]}/void`, { reason: 'not yours' }, 'VALUE_CALCULATION.NOT_FOUND'],
      ['adjust A’s calculation under B’s definition', `/value-definitions/${bDefinition}/calculations/${aCalculations[0]}/adjust`, { ...measured(day(first, 0), 1, 200, 1), reason: 'not yours' }, 'VALUE_CALCULATION.NOT_FOUND'],
      ['resolve A’s alert', `/alerts/${aAlert}/resolve`, { resolution: 'not yours' }, 'ALERT.NOT_FOUND'],
    ];
    for (const [name, path, body, code] of notFound) {
      const response = await post(path, b.technical, body);
      expect([name, response.status, response.body.code]).toEqual([name, 404, code]);
    }
    expect(await tenantEvents(a.tenantId)).toBe(aEvents);

    // the same Idempotency-Key in B is B's own request, not a replay of A's
    const bAlert = await post('/alerts', b.technical, { severity: 'critical', message: 'meter feed down' }).set('idempotency-key', 'same-key').expect(201);
    expect(bAlert.headers['idempotent-replayed']).toBeUndefined();
    expect(bAlert.body.alertId).not.toBe(aAlert);
    expect(bAlert.body.streamId).toBe(`golive-${b.tenantId}`);

    // B's reads show nothing of A
    const bList = await get('/value-calculations', b.finance).expect(200);
    expect(bList.body).toEqual({ data: [], hasMore: false, nextCursor: null, totals: [] });
    expect((await get(`/value-calculations?definitionId=${aDefinition}`, b.finance).expect(200)).body.data).toEqual([]);
    // A's cursor carries only a key: in B it pages over B's rows, of which there are none
    expect((await get(`/value-calculations?limit=1&cursor=${aPage.nextCursor}`, b.finance).expect(200)).body.data).toEqual([]);
    const bStatus = (await get('/go-live', b.owner).expect(200)).body;
    expect(bStatus).toMatchObject({ live: false, billingTimeZone: 'UTC', openAlerts: { [bAlert.body.alertId]: 'critical' } });
    expect(Object.keys(bStatus.openAlerts)).toEqual([bAlert.body.alertId]);
    expect(bStatus.preflight.facts.approvals.completed.map((entry: { definitionId: string }) => entry.definitionId)).toEqual([bDefinition]);
    expect(bStatus.preflight.facts.accuracy).toEqual([expect.objectContaining({ definitionId: bDefinition, measured: null })]);
    expect((await get('/setup', b.owner).expect(200)).body.steps.every((step: { passed: boolean | null }) => step.passed === null)).toBe(true);
    const bRefused = await post('/go-live', b.owner).expect(422);
    expect(JSON.stringify(bRefused.body)).not.toContain(aDefinition);
    expect(JSON.stringify(bRefused.body)).not.toContain(aAlert);

    // and A's are as A left them
    const aStatus = (await get('/go-live', a.owner).expect(200)).body;
    expect(aStatus).toMatchObject({ billingTimeZone: 'Europe/Berlin', openAlerts: { [aAlert]: 'critical' } });
    expect(Object.keys(aStatus.openAlerts)).toEqual([aAlert]);
    expect(aStatus.preflight.facts.accuracy).toEqual([expect.objectContaining({ definitionId: aDefinition, measured: expect.objectContaining({ calculationIds: [aCalculations[1], aCalculations[0]] }) })]);
    const aList = (await get('/value-calculations?limit=200', a.finance).expect(200)).body;
    expect(aList.data.map((row: { calculationId: string; status: string }) => [row.calculationId, row.status])).toEqual([
      [aCalculations[1], 'RECORDED'],
      [aCalculations[0], 'RECORDED'],
    ]);
    expect((await get('/setup', a.owner).expect(200)).body.steps[0]).toEqual({ step: 'API_INTEGRATION', passed: true, stale: false });
  });
});
