import { firstSecret } from '../../../src/setup/decide-secrets';
import { setupDecider } from '../../../src/setup/setup.decider';
import { givenWhenThen } from '../../support/given-when-then';

const { given } = givenWhenThen(setupDecider);

describe('a setup configuration never carries a secret into the signed history', () => {
  it.each([
    ['an API key by name', { endpointUrl: 'https://api.example.com', authType: 'api-key', apiKey: 'sk_live_51HxYz' }, 'configuration.apiKey', 'no-secret-field'],
    ['a password by name, nested', { connection: { host: 'db', password: 'hunter2-hunter2' } }, 'configuration.connection.password', 'no-secret-field'],
    ['a client secret in an array', { clients: [{ id: 'a', clientSecret: 'abc' }] }, 'configuration.clients.0.clientSecret', 'no-secret-field'],
    ['a Stripe key under an innocent name', { note: 'sk_live_4eC39HqLyjWDarjtT1zdp7dc' }, 'configuration.note', 'no-secret-value'],
    ['a private key', { cert: '-----BEGIN RSA PRIVATE KEY-----\nMIIE…' }, 'configuration.cert', 'no-secret-value'],
    ['an AWS access key id', { bucket: 's3://x', id: 'AKIAIOSFODNN7EXAMPLE' }, 'configuration.id', 'no-secret-value'],
    ['a URL with a password', { connectionString: 'postgres://app:s3cr3t@db.example.com/prod' }, 'configuration.connectionString', 'no-secret-value'],
    ['a bearer credential', { header: 'Bearer abcdefghijklmnop' }, 'configuration.header', 'no-secret-value'],
  ])('given any state, when %s is recorded, then SETUP.SECRET_IN_CONFIGURATION (422) names the field', (_name, configuration, field, rule) => {
    const refused = given([]).when({ type: 'RecordSetupStep', step: 'API_INTEGRATION', configuration }).thenRejects('SETUP.SECRET_IN_CONFIGURATION', 422);
    expect(refused.details).toEqual({ fields: [expect.objectContaining({ field, rule })] });
    expect(refused.message).not.toMatch(/sk_live|hunter2|s3cr3t|MIIE/); // the refusal does not echo the secret
  });

  it.each([
    ['a reference to a secret kept elsewhere', { endpointUrl: 'https://api.example.com', authType: 'api-key', apiKeyRef: 'vault://payments/stripe' }],
    ['the auth type named api-key', { endpointUrl: 'https://api.example.com', authType: 'api-key' }],
    ['a URL without credentials', { endpointUrl: 'https://user@api.example.com/v1' }],
    ['an empty token field (nothing to leak)', { token: '' }],
  ])('given no steps, when %s is recorded, then it is recorded', (_name, configuration) => {
    const { outcome } = given([]).when({ type: 'RecordSetupStep', step: 'API_INTEGRATION', configuration });
    expect('events' in outcome).toBe(true);
  });

  it('walks 100,000 nested levels without recursion', () => {
    let deep: Record<string, unknown> = { password: 'x' };
    for (let i = 0; i < 100_000; i += 1) deep = { a: deep };
    expect(firstSecret(deep as never)?.rule).toBe('no-secret-field');
  });
});
