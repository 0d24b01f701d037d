import { generateKeyPairSync } from 'node:crypto';
import { ConfigurationError, loadConfig } from '../../../src/config/load-config';
import { eventStoreOf } from '../../../src/config/proofline-config';

/** Runs loadConfig and returns the ConfigurationError it must throw. */
function rejectionOf(env: NodeJS.ProcessEnv): ConfigurationError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return error as ConfigurationError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(Object.keys(env))}`);
}

describe('loadConfig', () => {
  describe('defaults', () => {
    it('an empty environment gives the documented defaults', () => {
      const config = loadConfig({});
      expect(config.PORT).toBe(3000);
      expect(config.PROOFLINE_DATA_DIR).toBe('./data');
      expect(config.PROOFLINE_PROFILE).toBe('embedded');
      expect(config.HOST).toBe('0.0.0.0');
      expect(config.PROOFLINE_SIGNING_KEY_TYPE).toBe('rsa');
      expect(config.PROOFLINE_SNAPSHOT_EVERY).toBe(50);
      expect(config.DATABASE_URL).toBeUndefined();
      expect(config.PROOFLINE_SIGNING_KEY).toBeUndefined();
    });

    it('returns a frozen config', () => {
      expect(Object.isFrozen(loadConfig({}))).toBe(true);
    });

    it('ignores variables it does not know', () => {
      expect(loadConfig({ SOMETHING_ELSE: 'x', PATH: '/usr/bin' }).PORT).toBe(3000);
    });

    it('parses integers from strings', () => {
      const config = loadConfig({ PORT: '8080', DATABASE_POOL_SIZE: '3', PROOFLINE_SNAPSHOT_EVERY: '10' });
      expect(config.PORT).toBe(8080);
      expect(config.DATABASE_POOL_SIZE).toBe(3);
      expect(config.PROOFLINE_SNAPSHOT_EVERY).toBe(10);
    });

    it('accepts a complete services profile', () => {
      const config = loadConfig({
        PROOFLINE_PROFILE: 'services',
        DATABASE_URL: 'postgresql://proofline:secret@db:5432/proofline',
        KAFKA_BROKERS: 'kafka-1:9092,kafka-2:9092',
        REDIS_URL: 'redis://cache:6379',
        PROOFLINE_SIGNING_KEY_TYPE: 'ed25519',
      });
      expect(config.PROOFLINE_PROFILE).toBe('services');
      expect(config.DATABASE_URL).toBe('postgresql://proofline:secret@db:5432/proofline');
      expect(config.PROOFLINE_SIGNING_KEY_TYPE).toBe('ed25519');
    });

    it('stores events in PostgreSQL unless EventStoreDB is named, and in EventStoreDB when its connection string is given', () => {
      expect(eventStoreOf(loadConfig({}))).toBe('postgres');
      expect(eventStoreOf(loadConfig({ ESDB_CONNECTION_STRING: 'esdb://eventstore:2113?tls=false' }))).toBe('eventstoredb');
      expect(eventStoreOf(loadConfig({ ESDB_CONNECTION_STRING: 'esdb://eventstore:2113?tls=false', PROOFLINE_EVENT_STORE: 'postgres' }))).toBe('postgres');
      expect(eventStoreOf(loadConfig({ ESDB_CONNECTION_STRING: 'esdb+discover://a:2113,b:2113', PROOFLINE_EVENT_STORE: 'eventstoredb' }))).toBe('eventstoredb');
    });
  });

  describe('empty strings count as unset', () => {
    it.each(['', '   '])('PORT=%j falls back to 3000', (value) => {
      expect(loadConfig({ PORT: value }).PORT).toBe(3000);
    });

    it('empty PROOFLINE_PROFILE and PROOFLINE_DATA_DIR fall back to their defaults', () => {
      const config = loadConfig({ PROOFLINE_PROFILE: '', PROOFLINE_DATA_DIR: '' });
      expect(config.PROOFLINE_PROFILE).toBe('embedded');
      expect(config.PROOFLINE_DATA_DIR).toBe('./data');
    });

    it('empty optional variables stay undefined and are not validated', () => {
      const config = loadConfig({ DATABASE_URL: '', KAFKA_BROKERS: '', PROOFLINE_SIGNING_KEY: '' });
      expect(config.DATABASE_URL).toBeUndefined();
      expect(config.KAFKA_BROKERS).toBeUndefined();
      expect(config.PROOFLINE_SIGNING_KEY).toBeUndefined();
    });

    it('an empty DATABASE_URL in the services profile is still missing', () => {
      expect(rejectionOf({ PROOFLINE_PROFILE: 'services', DATABASE_URL: '' }).message).toMatch(/DATABASE_URL/);
    });
  });

  describe('every bad value stops with a ConfigurationError naming the variable and the rule', () => {
    it.each([
      ['PORT=abc', { PORT: 'abc' }, 'PORT', /PORT must be an integer number/, '"abc"'],
      ['PORT=1.5', { PORT: '1.5' }, 'PORT', /PORT must be an integer number/, '"1.5"'],
      ['PORT=70000', { PORT: '70000' }, 'PORT', /PORT must not be greater than 65535/, '70000'],
      ['PORT=-1', { PORT: '-1' }, 'PORT', /PORT must not be less than 0/, '-1'],
      [
        'services profile without REDIS_URL',
        { PROOFLINE_PROFILE: 'services', DATABASE_URL: 'postgres://x@h/db' },
        'REDIS_URL',
        /redis:\/\/ or rediss:\/\/ URL \(required when PROOFLINE_AUTH_STORE=redis/,
        'undefined',
      ],
      ['PROOFLINE_TRUST_PROXY=on', { PROOFLINE_TRUST_PROXY: 'on' }, 'PROOFLINE_TRUST_PROXY', /number of proxy hops .* or a comma-separated list of proxy addresses/, '"on"'],
      ['PROOFLINE_TOKEN_SECRET too short', { PROOFLINE_TOKEN_SECRET: 'short' }, 'PROOFLINE_TOKEN_SECRET', /32 to 512 characters/, '<redacted>'],
      ['PROOFLINE_ADMIN_PASSWORD without the e-mail', { PROOFLINE_ADMIN_PASSWORD: 'a-long-enough-password' }, 'PROOFLINE_ADMIN_EMAIL', /required with PROOFLINE_ADMIN_PASSWORD/, 'undefined'],
      ['PROOFLINE_PROFILE=cloud', { PROOFLINE_PROFILE: 'cloud' }, 'PROOFLINE_PROFILE', /one of the following values: embedded, services/, '"cloud"'],
      [
        'services profile without DATABASE_URL',
        { PROOFLINE_PROFILE: 'services', REDIS_URL: 'redis://127.0.0.1:6379' },
        'DATABASE_URL',
        /postgres:\/\/ or postgresql:\/\/ URL \(required when PROOFLINE_PROFILE=services\)/,
        'undefined',
      ],
      ['DATABASE_URL=mysql://x', { DATABASE_URL: 'mysql://x' }, 'DATABASE_URL', /must be a postgres:\/\/ or postgresql:\/\/ URL/, '"mysql://x"'],
      ['KAFKA_BROKERS="a b"', { KAFKA_BROKERS: 'a b' }, 'KAFKA_BROKERS', /comma-separated list of host:port/, '"a b"'],
      ['KAFKA_BROKERS without a port', { KAFKA_BROKERS: 'kafka-1' }, 'KAFKA_BROKERS', /comma-separated list of host:port/, '"kafka-1"'],
      [
        'PROOFLINE_EVENT_STORE=eventstoredb without ESDB_CONNECTION_STRING',
        { PROOFLINE_EVENT_STORE: 'eventstoredb' },
        'ESDB_CONNECTION_STRING',
        /esdb:\/\/ or esdb\+discover:\/\/ connection string \(required with PROOFLINE_EVENT_STORE=eventstoredb\)/,
        'undefined',
      ],
      ['ESDB_CONNECTION_STRING=http://x', { ESDB_CONNECTION_STRING: 'http://x' }, 'ESDB_CONNECTION_STRING', /esdb:\/\/ or esdb\+discover:\/\//, '"http://x"'],
      ['PROOFLINE_EVENT_STORE=mongodb', { PROOFLINE_EVENT_STORE: 'mongodb' }, 'PROOFLINE_EVENT_STORE', /one of the following values: postgres, eventstoredb/, '"mongodb"'],
      ['PROOFLINE_SIGNING_KEY_TYPE=dsa', { PROOFLINE_SIGNING_KEY_TYPE: 'dsa' }, 'PROOFLINE_SIGNING_KEY_TYPE', /one of the following values: rsa, ed25519/, '"dsa"'],
      ['PROOFLINE_SNAPSHOT_EVERY=5', { PROOFLINE_SNAPSHOT_EVERY: '5' }, 'PROOFLINE_SNAPSHOT_EVERY', /must not be less than 10/, '5'],
      ['DATABASE_SCHEMA=Bad-Name', { DATABASE_SCHEMA: 'Bad-Name' }, 'DATABASE_SCHEMA', /lowercase SQL identifier/, '"Bad-Name"'],
      ['LOG_LEVEL=loud', { LOG_LEVEL: 'loud' }, 'LOG_LEVEL', /one of the following values/, '"loud"'],
    ] as const)('%s', (_label, env, variable, rule, shownValue) => {
      const error = rejectionOf(env);
      expect(error.name).toBe('ConfigurationError');
      expect(error.problems).toHaveLength(1);
      const [problem] = error.problems;
      expect(problem.startsWith(`${variable}: `)).toBe(true);
      expect(problem).toMatch(rule);
      expect(problem).toContain(`(got ${shownValue})`);
      expect(error.message).toContain(problem);
    });
  });

  describe('credentials in connection strings are never echoed', () => {
    it.each([
      ['DATABASE_URL', { DATABASE_URL: 'jdbc:postgresql://app:SuperSecret123@db:5432/prod' }, 'SuperSecret123'],
      ['DATABASE_URL with a space', { DATABASE_URL: 'postgres://app:SuperSecret123@db:5432/prod extra' }, 'SuperSecret123'],
      ['REDIS_URL', { REDIS_URL: 'rediss ://:RedisSecret456@cache:6379' }, 'RedisSecret456'],
      ['KAFKA_BROKERS with credentials', { KAFKA_BROKERS: 'svc:KafkaSecret2@127.0.0.1:9092' }, 'KafkaSecret2'],
      ['ESDB_CONNECTION_STRING with an @ in the password', { ESDB_CONNECTION_STRING: 'esdb://admin:Esdb@Secret1@127.0.0.1:2113?tls=false' }, 'Secret1'],
      ['ESDB_CONNECTION_STRING with an unknown option', { ESDB_CONNECTION_STRING: 'esdb://admin:EsdbSecret@127.0.0.1:2113?ssl=false' }, 'EsdbSecret'],
    ])('%s: refused, naming the setting, without the password', (_label, env, secret) => {
      const error = rejectionOf(env);
      expect(error.problems.join('\n')).toMatch(new RegExp(`^${Object.keys(env)[0]}: `));
      expect(error.message).not.toContain(secret);
    });

    it('an unknown EventStoreDB option is named (the client would ignore ssl=false and keep TLS on)', () => {
      expect(rejectionOf({ ESDB_CONNECTION_STRING: 'esdb://es:2113?ssl=false' }).problems).toEqual([expect.stringMatching(/^ESDB_CONNECTION_STRING: unknown option ssl; known: tls, /)]);
      expect(eventStoreOf(loadConfig({ ESDB_CONNECTION_STRING: 'esdb://es:2113?tls=false&TlsVerifyCert=false&nodePreference=leader' }))).toBe('eventstoredb');
    });

    it('a value read from a secret file with a trailing newline is trimmed, not refused', () => {
      expect(loadConfig({ DATABASE_URL: 'postgres://app:pw@db:5432/prod\n' }).DATABASE_URL).toBe('postgres://app:pw@db:5432/prod');
    });
  });

  describe('PROOFLINE_SIGNING_KEY is never echoed', () => {
    it('PROOFLINE_SIGNING_KEY="not a pem" is refused with the rule and a redacted value', () => {
      const error = rejectionOf({ PROOFLINE_SIGNING_KEY: 'not a pem' });
      expect(error.problems).toEqual([
        'PROOFLINE_SIGNING_KEY: PROOFLINE_SIGNING_KEY must be a PKCS#8 PEM private key (-----BEGIN PRIVATE KEY-----) (got <redacted>)',
      ]);
      expect(error.message).not.toContain('not a pem');
    });

    it('a real PKCS#1 private key (the wrong format) is refused without leaking any of its bytes', () => {
      const pkcs1 = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
      const body = pkcs1.split('\n').filter((line) => line && !line.startsWith('-----'));
      const error = rejectionOf({ PROOFLINE_SIGNING_KEY: pkcs1 });
      expect(error.message).toContain('PROOFLINE_SIGNING_KEY');
      expect(error.message).toContain('<redacted>');
      expect(error.message).not.toContain('BEGIN RSA PRIVATE KEY');
      for (const line of body) expect(error.message).not.toContain(line);
      expect(JSON.stringify(error.problems)).not.toContain(body[1]);
    });

    it('a valid PKCS#8 key is accepted', () => {
      const pkcs8 = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      expect(loadConfig({ PROOFLINE_SIGNING_KEY: pkcs8 }).PROOFLINE_SIGNING_KEY).toBe(pkcs8);
    });
  });

  it('reports several problems together, one per variable', () => {
    const error = rejectionOf({
      PORT: '70000',
      PROOFLINE_PROFILE: 'services',
      KAFKA_BROKERS: 'a b',
      PROOFLINE_SIGNING_KEY: 'not a pem',
    });
    const variables = error.problems.map((problem) => problem.split(':')[0]).sort();
    // the services profile needs both servers: PostgreSQL and (for sessions and rate limits) Redis
    expect(variables).toEqual(['DATABASE_URL', 'KAFKA_BROKERS', 'PORT', 'PROOFLINE_SIGNING_KEY', 'REDIS_URL']);
    for (const problem of error.problems) expect(error.message).toContain(`\n  - ${problem}`);
    expect(error.message.startsWith('Invalid configuration:\n')).toBe(true);
    expect(error.message).not.toContain('not a pem');
  });
});
