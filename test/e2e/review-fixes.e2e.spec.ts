import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { ensureAdmin } from '../../src/auth/bootstrap';
import { startTestApp, type TestApp } from '../support/app';
import { accessTokenFor, bearer, signUp, TEST_PASSWORD } from '../support/identity';

/** Rules a review asked for: an operator account cannot be taken over from a customer workspace; idempotency keys are per caller. */
describe('operator accounts and idempotency across callers', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  const deps = () => ({ users: t.infrastructure.identity.users, states: t.infrastructure.states, pipeline: t.infrastructure.pipeline });

  it('an account created in a customer workspace cannot be made ADMIN of another one (its administrators could reset its password)', async () => {
    const customer = await signUp(t.infrastructure, 'Customer Co');
    const operators = await signUp(t.infrastructure, 'Operators Co');
    const admin = await accessTokenFor(t.infrastructure, operators.tenantId, 'ADMIN');
    // The invitation answers as for any address (it must not tell whether one has an account); accepting is refused.
    const asAdmin = await request(t.server).post(`/workspaces/${operators.tenantId}/members`).set(bearer(admin)).send({ email: customer.email, role: 'ADMIN' }).expect(201);
    const accepted = await request(t.server).post('/auth/invitations/accept').send({ invitationToken: asAdmin.body.invitationToken, password: TEST_PASSWORD }).expect(409);
    expect(accepted.body.code).toBe('MEMBER.ADMIN_OUTSIDE_HOME_WORKSPACE');

    const invited = await request(t.server).post(`/workspaces/${operators.tenantId}/members`).set(bearer(admin)).send({ email: customer.email, role: 'FINANCE' }).expect(201);
    const asFinance = await request(t.server).post('/auth/invitations/accept').send({ invitationToken: invited.body.invitationToken, password: TEST_PASSWORD }).expect(200);
    const promoted = await request(t.server).put(`/workspaces/${operators.tenantId}/members/${asFinance.body.userId}/role`).set(bearer(admin)).send({ role: 'ADMIN' }).expect(409);
    expect(promoted.body.code).toBe('MEMBER.ADMIN_OUTSIDE_HOME_WORKSPACE');

    await expect(ensureAdmin(deps(), { email: customer.email, password: TEST_PASSWORD, tenantId: operators.tenantId })).rejects.toMatchObject({ code: 'MEMBER.ADMIN_OUTSIDE_HOME_WORKSPACE' });
  });

  it('PROOFLINE_ADMIN_EMAIL naming an address a customer already claimed fails loudly instead of passing for the operator', async () => {
    const customer = await signUp(t.infrastructure, 'Claimed Co');
    const owner = bearer(customer.accessToken);
    const email = `new-operator-${randomUUID().slice(0, 8)}@example.test`;
    const invited = await request(t.server).post(`/workspaces/${customer.tenantId}/members`).set(owner).send({ email, role: 'FINANCE' }).expect(201);
    await request(t.server).post('/auth/invitations/accept').send({ invitationToken: invited.body.invitationToken, password: 'a passphrase the customer knows' }).expect(200);
    await expect(ensureAdmin(deps(), { email, password: 'the operators own passphrase' })).rejects.toMatchObject({ code: 'AUTH.NOT_AN_ADMIN' });
  });

  it('the same Idempotency-Key, path and body from another member is a 422, not the first caller\'s outcome', async () => {
    const tenant = await signUp(t.infrastructure, 'Keyed Co');
    const other = await accessTokenFor(t.infrastructure, tenant.tenantId, 'CUSTOMER_ADMIN');
    await request(t.server).patch(`/workspaces/${tenant.tenantId}`).set(bearer(tenant.accessToken)).set('idempotency-key', 'shared-key').send({ name: 'Renamed once' }).expect(200);
    const reused = await request(t.server).patch(`/workspaces/${tenant.tenantId}`).set(bearer(other)).set('idempotency-key', 'shared-key').send({ name: 'Renamed once' }).expect(422);
    expect(reused.body.code).toBe('IDEMPOTENCY.KEY_REUSED');
  });
});
