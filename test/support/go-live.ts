import request from 'supertest';
import { CLOCK, type Clock } from '../../src/go-live/clock';
import type { TestApp } from './app';
import { accessTokenFor, bearer, signUp } from './identity';

/** A definition whose baseline matches the BASELINE step below. */
export const DEFINITION = { name: 'Energy saved', unit: 'kWh', formula: 'baseline kWh − metered kWh, per day', unitPriceMinor: 1250, currency: 'EUR', baseline: 120000 };
export const STEPS: Array<[string, Record<string, unknown>]> = [
  ['API_INTEGRATION', { endpointUrl: 'https://api.example.com', authType: 'api-key' }],
  ['DATA_SOURCE', { kind: 'postgres', connectionName: 'meters' }],
  ['METRICS_CONFIGURATION', { fieldMappings: [{ source: 'kwh_total', metric: 'energy' }] }],
  ['BASELINE', { periodStart: '2025-01-01', periodEnd: '2025-12-31', value: 120000 }],
  ['TESTING', { sampleSize: 100, matchedSamples: 97 }],
];

export const DAY = 86_400_000;
export const iso = (ms: number) => new Date(ms).toISOString();
/** The first 00:00Z strictly after `instant` (epoch ms): the earliest a UTC billing period may start after an approval at `instant`. */
export const nextUtcMidnight = (instant: string) => Math.floor(Date.parse(instant) / DAY) * DAY + DAY;
/** The k-th UTC day from `start` (epoch ms of a midnight). */
export const day = (start: number, k: number) => ({ periodStart: iso(start + k * DAY), periodEnd: iso(start + (k + 1) * DAY) });
/** A measured period priced at `unitPriceMinor`, with its samples (accuracy = matched / sampleSize). */
export const measured = (period: { periodStart: string; periodEnd: string }, quantity: number, sampleSize: number, matchedSamples: number, unitPriceMinor = DEFINITION.unitPriceMinor) => ({
  ...period,
  quantity,
  amountMinor: quantity * unitPriceMinor,
  sampleSize,
  matchedSamples,
  source: 'smart-meter export',
});

/** `author` (FINANCE) drafts and submits; as a maker it decides no stage while segregation of duties holds. */
export type Tenant = { tenantId: string; owner: string; finance: string; technical: string; author: string };

/** Drives the go-live routes of `t` over HTTP, as the people of one or more workspaces. */
export function goLiveDriver(t: TestApp) {
  const post = (path: string, token: string, body: object = {}) => request(t.server).post(path).set(bearer(token)).send(body);
  const put = (path: string, token: string, body: object = {}) => request(t.server).put(path).set(bearer(token)).send(body);
  const get = (path: string, token: string) => request(t.server).get(path).set(bearer(token));
  const newTenant = async (name: string): Promise<Tenant> => {
    const tenant = await signUp(t.infrastructure, name);
    const [finance, technical, author] = await Promise.all([
      accessTokenFor(t.infrastructure, tenant.tenantId, 'FINANCE'),
      accessTokenFor(t.infrastructure, tenant.tenantId, 'TECHNICAL'),
      accessTokenFor(t.infrastructure, tenant.tenantId, 'FINANCE'),
    ]);
    return { tenantId: tenant.tenantId, owner: tenant.accessToken, finance, technical, author };
  };
  const completeSetup = async (tenant: Tenant) => {
    for (const [step, configuration] of STEPS) expect((await post(`/setup/steps/${step}`, tenant.technical, { configuration }).expect(200)).body.passed).toBe(true);
  };
  /** Drafted and submitted by the author; with `approve`, decided FINANCE → TECHNICAL → FINAL by three other people. */
  const definition = async (tenant: Tenant, approve = true, overrides: object = {}): Promise<string> => {
    const id: string = (await post('/value-definitions', tenant.author, { ...DEFINITION, ...overrides }).expect(201)).body.definitionId;
    await post(`/value-definitions/${id}/submit`, tenant.author).expect(200);
    if (!approve) return id;
    await post(`/approvals/${id}/stages/FINANCE/approve`, tenant.finance).expect(200);
    await post(`/approvals/${id}/stages/TECHNICAL/approve`, tenant.technical).expect(200);
    await post(`/approvals/${id}/stages/FINAL/approve`, tenant.owner).expect(200);
    return id;
  };
  /** When the definition's approval completed, as its signed stream says. */
  const approvedAt = async (tenant: Tenant, definitionId: string): Promise<string> => {
    const events = await t.infrastructure.store.readStream(`valuedef-${tenant.tenantId}.${definitionId}`);
    const completed = events.find((event) => event.envelope.type === 'approvals.completed');
    if (!completed) throw new Error(`definition ${definitionId} has no completed approval`);
    return completed.envelope.occurredAt;
  };
  const tenantEvents = async (tenantId: string) => (await t.infrastructure.store.readAll({ commit: 0n, prepare: 0n }, 100_000, { tenantId })).length;
  /**
   * Stands the go-live routes' Clock port at `ms` (the approvals keep the real time), so periods
   * can start after an approval made a moment ago and have ended by "now". Undone by jest.restoreAllMocks().
   */
  const standAt = (ms: number) => jest.spyOn(t.app.get<Clock>(CLOCK), 'now').mockImplementation(() => new Date(ms));
  return { post, put, get, newTenant, completeSetup, definition, approvedAt, tenantEvents, standAt };
}
