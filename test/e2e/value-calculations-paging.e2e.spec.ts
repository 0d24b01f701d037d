import { startTestApp, type TestApp } from '../support/app';
import { eventually } from '../support/eventually';
import { DAY, DEFINITION, day, goLiveDriver, iso, measured, nextUtcMidnight } from '../support/go-live';

type Row = { calculationId: string; definitionId: string; periodEnd: string; quantity: number; currency: string; status: string; supersededBy: string | null; voidReason: string | null };
type Page = { data: Row[]; hasMore: boolean; nextCursor: string | null; totals: unknown[] };

/** GET /value-calculations: keyset pages ({data, hasMore, nextCursor, totals}), filters, per-currency totals of what still counts. */
describe('value calculations list over HTTP (embedded profile)', () => {
  let t: TestApp;
  let drive: ReturnType<typeof goLiveDriver>;
  beforeAll(async () => {
    t = await startTestApp();
    await t.infrastructure.fanout.start();
    drive = goLiveDriver(t);
  });
  afterEach(() => jest.restoreAllMocks());
  afterAll(() => t.close());

  it('pages by keyset on (period end, calculation id), newest first, with the same per-currency totals of RECORDED calculations on every page', async () => {
    const { post, get, newTenant, definition, approvedAt, standAt } = drive;
    const tenant = await newTenant('Paged Co');
    const eur = await definition(tenant);
    const usd = await definition(tenant, true, { name: 'Energy saved (US site)', currency: 'USD', unitPriceMinor: 999 });
    const first = Math.max(nextUtcMidnight(await approvedAt(tenant, eur)), nextUtcMidnight(await approvedAt(tenant, usd)));
    standAt(first + 30 * DAY);
    const record = async (definitionId: string, k: number, quantity: number, unitPriceMinor: number) =>
      (await post(`/value-definitions/${definitionId}/calculations`, tenant.technical, measured(day(first, k), quantity, 200, 190, unitPriceMinor)).expect(201)).body.calculationId as string;

    const euros: string[] = [];
    for (const [k, quantity] of [
      [0, 1000],
      [1, 1100],
      [2, 1200],
      [3, 1300],
      [4, 1400],
    ]) {
      euros.push(await record(eur, k, quantity, DEFINITION.unitPriceMinor));
    }
    // same period ends as EUR days 0 and 1: the calculation id breaks the tie
    await record(usd, 0, 500, 999);
    await record(usd, 1, 600, 999);
    await post(`/value-definitions/${eur}/calculations/${euros[2]}/void`, tenant.technical, { reason: 'meter swapped mid-day' }).expect(200);
    const adjusted: string = (
      await post(`/value-definitions/${eur}/calculations/${euros[3]}/adjust`, tenant.technical, { ...measured(day(first, 3), 1350, 200, 190), reason: 'late meter reads' }).expect(201)
    ).body.calculationId;

    const all: Page = await eventually(
      async () => (await get('/value-calculations?limit=200', tenant.finance).expect(200)).body,
      (body: Page) => body.data.length === 8 && body.data.some((row) => row.status === 'VOIDED') && body.data.some((row) => row.status === 'SUPERSEDED'),
    );
    const ordered = [...all.data].sort((a, b) => (a.periodEnd !== b.periodEnd ? (a.periodEnd > b.periodEnd ? -1 : 1) : a.calculationId > b.calculationId ? -1 : 1));
    expect(all.data.map((row) => row.calculationId)).toEqual(ordered.map((row) => row.calculationId));
    expect(all.data.map((row) => [row.periodEnd, row.currency, row.quantity, row.status])).toEqual(
      expect.arrayContaining([
        [iso(first + 3 * DAY), 'EUR', 1200, 'VOIDED'],
        [iso(first + 4 * DAY), 'EUR', 1300, 'SUPERSEDED'],
        [iso(first + 4 * DAY), 'EUR', 1350, 'RECORDED'],
      ]),
    );
    expect(all.data.find((row) => row.calculationId === euros[3])?.supersededBy).toBe(adjusted);
    expect(all.data.find((row) => row.calculationId === euros[2])?.voidReason).toBe('meter swapped mid-day');
    expect(all).toMatchObject({ hasMore: false, nextCursor: null });
    const totals = [
      // EUR: days 0, 1, 3 (corrected to 1350) and 4; day 2 was voided
      { currency: 'EUR', amount: { amount: '60625.00', currency: 'EUR' }, amountMinor: String(4850 * 1250), quantity: '4850', calculations: 4 },
      { currency: 'USD', amount: { amount: '10989.00', currency: 'USD' }, amountMinor: String(1100 * 999), quantity: '1100', calculations: 2 },
    ];
    expect(all.totals).toEqual(totals);

    // three at a time: every row once, in the same order, the same totals on each page
    const pages: Page[] = [];
    let cursor: string | null = null;
    do {
      const page: Page = (await get(`/value-calculations?limit=3${cursor ? `&cursor=${cursor}` : ''}`, tenant.finance).expect(200)).body;
      pages.push(page);
      cursor = page.nextCursor;
      expect(page.hasMore).toBe(cursor !== null);
    } while (cursor !== null && pages.length < 10);
    expect(pages.map((page) => page.data.length)).toEqual([3, 3, 2]);
    expect(pages.flatMap((page) => page.data.map((row) => row.calculationId))).toEqual(all.data.map((row) => row.calculationId));
    for (const page of pages) expect(page.totals).toEqual(totals);

    // filters select the rows and the totals alike
    const usdOnly: Page = (await get('/value-calculations?currency=USD', tenant.finance).expect(200)).body;
    expect(usdOnly.data.map((row) => row.definitionId)).toEqual([usd, usd]);
    expect(usdOnly.totals).toEqual([totals[1]]);
    const notCounting: Page = (await get('/value-calculations?status=VOIDED,SUPERSEDED', tenant.finance).expect(200)).body;
    expect(notCounting.data.map((row) => row.calculationId).sort()).toEqual([euros[2], euros[3]].sort());
    expect(notCounting.totals).toEqual([]);
    expect((await get(`/value-calculations?definitionId=${eur}&status=RECORDED`, tenant.finance).expect(200)).body.data).toHaveLength(4);

    // period-end bounds are instants, however they are written: Z with or without milliseconds, or an offset
    const fromDay3 = [iso(first + 4 * DAY), iso(first + 4 * DAY).replace('.000Z', 'Z'), iso(first + 4 * DAY).replace('T00:00:00.000Z', 'T01:00:00+01:00')];
    for (const from of fromDay3) {
      const bounded: Page = (await get(`/value-calculations?periodEndFrom=${encodeURIComponent(from)}&status=RECORDED`, tenant.finance).expect(200)).body;
      expect([from, bounded.data.map((row) => row.quantity)]).toEqual([from, [1400, 1350]]);
    }
    const beforeDay1 = [iso(first + 2 * DAY), iso(first + 2 * DAY).replace('T00:00:00.000Z', 'T02:00:00+02:00')];
    for (const to of beforeDay1) {
      const bounded: Page = (await get(`/value-calculations?periodEndTo=${encodeURIComponent(to)}&currency=EUR`, tenant.finance).expect(200)).body;
      expect([to, bounded.data.map((row) => row.quantity)]).toEqual([to, [1000]]);
    }

    // a cursor belongs to its filters; limits are bounded
    const firstPage: Page = (await get('/value-calculations?limit=2&currency=EUR', tenant.finance).expect(200)).body;
    const otherFilters = await get(`/value-calculations?limit=2&currency=USD&cursor=${firstPage.nextCursor}`, tenant.finance).expect(400);
    expect(otherFilters.body.details.fields).toEqual([expect.objectContaining({ field: 'cursor', rule: 'cursor-matches-filters' })]);
    expect((await get('/value-calculations?cursor=not-a-cursor', tenant.finance).expect(400)).body.details.fields).toEqual([expect.objectContaining({ field: 'cursor', rule: 'cursor' })]);
    expect((await get('/value-calculations?limit=201', tenant.finance).expect(400)).body.details.fields[0].field).toBe('limit');
    expect((await get('/value-calculations?limit=0', tenant.finance).expect(400)).body.details.fields[0].field).toBe('limit');
    expect((await get('/value-calculations?periodEndFrom=2026-12-01T00:00:00', tenant.finance).expect(400)).body.details.fields[0]).toMatchObject({ field: 'periodEndFrom', rule: 'instant-with-offset' });
  });
});
