import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { getMetadataStorage } from 'class-validator';
import { loadConfig } from '../../../src/config/load-config';
import { authStoreOf, eventStoreOf, fanoutOf, ProoflineConfig } from '../../../src/config/proofline-config';

/**
 * docker-compose.yml and the Dockerfile cannot run on the machine these tests run on (no Docker
 * engine), so this suite checks them against what Proofline itself reads and requires: the
 * configuration class, loadConfig, the README's configuration table and package.json.
 */

const ROOT = join(__dirname, '../../..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

type Dict = Record<string, unknown>;
const isDict = (value: unknown): value is Dict => typeof value === 'object' && value !== null && !Array.isArray(value);
const dict = (value: unknown, what: string): Dict => {
  if (!isDict(value)) throw new Error(`${what} is not a mapping`);
  return value;
};

const compose = dict(parse(read('docker-compose.yml')), 'docker-compose.yml');
const services = dict(compose.services, 'services');
const serviceNamed = (name: string) => dict(services[name], `service ${name}`);

/** A service's environment as name → value, from either Compose form (mapping or list of NAME=value). */
function environmentOf(name: string): Record<string, string> {
  const environment = serviceNamed(name).environment;
  if (environment === undefined) return {};
  if (Array.isArray(environment)) {
    return Object.fromEntries(
      environment.map((entry) => {
        const [key, ...rest] = String(entry).split('=');
        return [key, rest.join('=')];
      }),
    );
  }
  return Object.fromEntries(Object.entries(dict(environment, `${name}.environment`)).map(([key, value]) => [key, value === null ? '' : String(value)]));
}

/** A command or healthcheck test as a list of words (Compose accepts a string or a list). */
function words(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value.map(String).flatMap((word) => word.split(/\s+/)).filter(Boolean);
  return String(value).split(/\s+/).filter(Boolean);
}

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g;

/** Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR?message}; $$ is a literal $. */
function interpolate(value: string, variables: Record<string, string | undefined>): string {
  return value
    .split('$$')
    .map((part) =>
      part.replace(REFERENCE, (_whole, name: string, colon: string, operator: string | undefined, argument: string) => {
        const given = variables[name];
        const missing = colon ? !given : given === undefined;
        if (operator === '-') return missing ? argument : given!;
        if (operator === '?' && missing) throw new Error(`required variable ${name} is missing: ${argument}`);
        return given ?? '';
      }),
    )
    .join('$');
}

/** Values a user would put in .env: only what the file requires with ${VAR:?…}. */
const USER_VARIABLES = {
  PROOFLINE_TOKEN_SECRET: 'Zm9yLXRlc3RzLW9ubHktbm90LWEtcmVhbC1zZWNyZXQtb2YtYW55LWRlcGxveW1lbnQ',
  POSTGRES_PASSWORD: '0123456789abcdef0123456789abcdef0123456789abcdef',
};

const prooflineEnvironment = environmentOf('proofline');
const resolvedProoflineEnvironment = Object.fromEntries(Object.entries(prooflineEnvironment).map(([key, value]) => [key, interpolate(value, USER_VARIABLES)]));

/** Every property of ProoflineConfig: the initialised ones and every property carrying a rule. */
const configProperties = new Set([
  ...Object.keys(new ProoflineConfig()),
  ...getMetadataStorage()
    .getTargetValidationMetadatas(ProoflineConfig, '', true, false)
    .map((metadata) => metadata.propertyName),
]);

/** The variables loadConfig actually looks up, recorded through an environment that watches its reads. */
function variablesLoadConfigReads(): Set<string> {
  const looked = new Set<string>();
  const watching = new Proxy({} as NodeJS.ProcessEnv, {
    get(_target, key) {
      if (typeof key === 'string') looked.add(key);
      return undefined;
    },
  });
  loadConfig(watching);
  return looked;
}

/** The services whose host names appear in Proofline's ESDB_CONNECTION_STRING, DATABASE_URL, REDIS_URL and KAFKA_BROKERS. */
function backingServices(): Array<{ variable: string; host: string; port: number }> {
  const eventstore = new URL(resolvedProoflineEnvironment.ESDB_CONNECTION_STRING);
  const database = new URL(resolvedProoflineEnvironment.DATABASE_URL);
  const redis = new URL(resolvedProoflineEnvironment.REDIS_URL);
  const brokers = resolvedProoflineEnvironment.KAFKA_BROKERS.split(',').map((broker) => {
    const [host, port] = broker.trim().split(':');
    return { variable: 'KAFKA_BROKERS', host, port: Number(port) };
  });
  return [
    { variable: 'ESDB_CONNECTION_STRING', host: eventstore.hostname, port: Number(eventstore.port || 2113) },
    { variable: 'DATABASE_URL', host: database.hostname, port: Number(database.port || 5432) },
    { variable: 'REDIS_URL', host: redis.hostname, port: Number(redis.port || 6379) },
    ...brokers,
  ];
}

/** The value following a flag in a list of words (`-p 5432`, `--port 6379`). */
const after = (list: string[], flag: string) => {
  const at = list.indexOf(flag);
  return at >= 0 ? list[at + 1] : undefined;
};

/** The port a backing service listens on inside the Compose network, from its own definition. */
function listeningPorts(name: string): number[] {
  const service = serviceNamed(name);
  const image = String(service.image ?? '');
  const environment = environmentOf(name);
  if (image.startsWith('docker.eventstore.com/eventstore/eventstoredb-ee:')) return [Number(environment.EVENTSTORE_NODE_PORT || 2113)];
  if (image.startsWith('postgres:')) return [Number(environment.PGPORT || after(words(service.command), '-p') || 5432)];
  if (image.startsWith('redis:')) return [Number(after(words(service.command), '--port') || 6379)];
  if (image.startsWith('apache/kafka:')) {
    // Clients bootstrap on any listener, then reconnect to the advertised one: both must match.
    const advertised = environment.KAFKA_ADVERTISED_LISTENERS.split(',').map((listener) => new URL(listener.trim().replace(/^[A-Z_]+:\/\//, 'kafka://')));
    return advertised.filter((listener) => listener.hostname === name).map((listener) => Number(listener.port));
  }
  throw new Error(`no rule for the listening port of service ${name} (image ${image})`);
}

function healthcheckOf(name: string): Dict {
  return dict(serviceNamed(name).healthcheck, `${name}.healthcheck`);
}

describe('docker-compose.yml', () => {
  it('has the five services of the services profile', () => {
    expect(Object.keys(services).sort()).toEqual(['eventstore', 'kafka', 'postgres', 'proofline', 'redis']);
    expect(compose.version).toBeUndefined();
    expect(serviceNamed('proofline').build).toBeDefined();
  });

  it('sets on the proofline service only variables Proofline reads', () => {
    const looked = variablesLoadConfigReads();
    const unknown = Object.keys(prooflineEnvironment).filter((name) => !looked.has(name) || !configProperties.has(name));
    expect(unknown).toEqual([]);
  });

  it('loadConfig reads every property of ProoflineConfig (none is settable only in theory)', () => {
    expect([...variablesLoadConfigReads()].sort()).toEqual([...configProperties].sort());
  });

  it('gives Proofline a configuration it accepts, on the services profile with EventStoreDB, Redis sessions and Kafka fan-out', () => {
    const config = loadConfig(resolvedProoflineEnvironment);
    expect(config.PROOFLINE_PROFILE).toBe('services');
    expect(eventStoreOf(config)).toBe('eventstoredb');
    expect(config.DATABASE_URL).toMatch(/^postgres(ql)?:\/\//);
    expect(authStoreOf(config)).toBe('redis');
    expect(config.REDIS_URL).toMatch(/^rediss?:\/\//);
    expect(fanoutOf(config)).toBe('kafka');
    expect(config.KAFKA_BROKERS).toBeTruthy();
    expect(config.PROOFLINE_TOKEN_SECRET).toBe(USER_VARIABLES.PROOFLINE_TOKEN_SECRET);
    expect(config.PROOFLINE_DATA_DIR).toBe('/app/data');
  });

  it('requires the token secret from the environment and starts nothing without it', () => {
    expect(prooflineEnvironment.PROOFLINE_TOKEN_SECRET).toMatch(/^\$\{PROOFLINE_TOKEN_SECRET:\?[^}]+\}$/);
    const { PROOFLINE_TOKEN_SECRET: _omitted, ...withoutSecret } = USER_VARIABLES;
    expect(() => interpolate(prooflineEnvironment.PROOFLINE_TOKEN_SECRET, withoutSecret)).toThrow(/PROOFLINE_TOKEN_SECRET/);
    expect(() => interpolate(prooflineEnvironment.PROOFLINE_TOKEN_SECRET, { ...withoutSecret, PROOFLINE_TOKEN_SECRET: '' })).toThrow(/PROOFLINE_TOKEN_SECRET/);
  });

  it('leaves the optional signing key and first admin to the environment (empty counts as unset)', () => {
    for (const name of ['PROOFLINE_SIGNING_KEY', 'PROOFLINE_ADMIN_EMAIL', 'PROOFLINE_ADMIN_PASSWORD']) {
      expect(prooflineEnvironment[name]).toBe(`\${${name}:-}`);
      expect(resolvedProoflineEnvironment[name]).toBe('');
    }
    expect(loadConfig(resolvedProoflineEnvironment).PROOFLINE_SIGNING_KEY).toBeUndefined();
  });

  it('names existing services on the ports they listen on in DATABASE_URL, REDIS_URL and KAFKA_BROKERS', () => {
    for (const { variable, host, port } of backingServices()) {
      expect({ variable, host, exists: host in services }).toEqual({ variable, host, exists: true });
      expect({ variable, host, port, listens: listeningPorts(host) }).toEqual({ variable, host, port, listens: expect.arrayContaining([port]) });
    }
  });

  it('runs EventStoreDB as an insecure single node, and connects to it without TLS', () => {
    const eventstore = environmentOf('eventstore');
    expect(eventstore.EVENTSTORE_CLUSTER_SIZE).toBe('1');
    expect(eventstore.EVENTSTORE_INSECURE).toBe('true');
    expect(new URL(resolvedProoflineEnvironment.ESDB_CONNECTION_STRING).searchParams.get('tls')).toBe('false');
    const volumes = words(serviceNamed('eventstore').volumes);
    expect(volumes.some((volume) => volume.endsWith(':/var/lib/eventstore'))).toBe(true);
  });

  it('configures Kafka like scripts/kafka/server.properties.template: one KRaft node, replication factors 1, no rebalance delay', () => {
    const kafka = environmentOf('kafka');
    const template = Object.fromEntries(
      read('scripts/kafka/server.properties.template')
        .split('\n')
        .filter((line) => /^[a-z][a-z0-9._]*=/.test(line))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    const asEnvironment = (property: string) => `KAFKA_${property.toUpperCase().replace(/\./g, '_')}`;
    for (const property of [
      'process.roles',
      'node.id',
      'controller.listener.names',
      'inter.broker.listener.name',
      'offsets.topic.replication.factor',
      'transaction.state.log.replication.factor',
      'transaction.state.log.min.isr',
      'default.replication.factor',
      'min.insync.replicas',
      'offsets.topic.num.partitions',
      'transaction.state.log.num.partitions',
      'group.initial.rebalance.delay.ms',
      'num.partitions',
    ]) {
      expect({ property, value: kafka[asEnvironment(property)] }).toEqual({ property, value: template[property] });
    }
    expect(kafka.CLUSTER_ID).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const [voterId, voterAddress] = kafka.KAFKA_CONTROLLER_QUORUM_VOTERS.split('@');
    expect(voterId).toBe(kafka.KAFKA_NODE_ID);
    expect(kafka.KAFKA_LISTENERS).toContain(`CONTROLLER://:${voterAddress.split(':')[1]}`);
    const volumes = words(serviceNamed('kafka').volumes);
    expect(volumes.some((volume) => volume.endsWith(`:${kafka.KAFKA_LOG_DIRS}`))).toBe(true);
  });

  it('starts Proofline only once every service it names is healthy', () => {
    const dependsOn = dict(serviceNamed('proofline').depends_on, 'proofline.depends_on');
    for (const { host } of backingServices()) {
      expect({ host, condition: dict(dependsOn[host], `depends_on.${host}`).condition }).toEqual({ host, condition: 'service_healthy' });
    }
  });

  it('gives every service a health check, each asking the port the service listens on', () => {
    for (const name of Object.keys(services)) {
      const healthcheck = healthcheckOf(name);
      expect({ name, disabled: healthcheck.disable === true, test: words(healthcheck.test).length > 1 }).toEqual({ name, disabled: false, test: true });
    }
    const pg = words(healthcheckOf('postgres').test);
    expect(pg).toContain('pg_isready');
    expect(Number(after(pg, '-p'))).toBe(listeningPorts('postgres')[0]);
    expect(after(pg, '-U')).toBe(environmentOf('postgres').POSTGRES_USER);
    const redis = words(healthcheckOf('redis').test);
    expect(redis).toContain('redis-cli');
    expect(Number(after(redis, '-p') ?? 6379)).toBe(listeningPorts('redis')[0]);
    const kafka = words(healthcheckOf('kafka').test);
    expect(kafka.some((word) => /kafka-(broker-api-versions|topics)\.sh$/.test(word))).toBe(true);
    expect(after(kafka, '--bootstrap-server')).toBe(resolvedProoflineEnvironment.KAFKA_BROKERS.split(',')[0]);
    const eventstore = words(healthcheckOf('eventstore').test).join(' ');
    expect(eventstore).toContain(`http://localhost:${listeningPorts('eventstore')[0]}/health/live`);
    const proofline = words(healthcheckOf('proofline').test).join(' ');
    expect(proofline).toContain(`http://127.0.0.1:${loadConfig(resolvedProoflineEnvironment).PORT}/health`);
  });

  it('publishes Proofline on the port it listens on (PORT, default 3000)', () => {
    const port = loadConfig(resolvedProoflineEnvironment).PORT;
    expect(port).toBe(new ProoflineConfig().PORT);
    const ports = serviceNamed('proofline').ports;
    expect(Array.isArray(ports)).toBe(true);
    const targets = (ports as unknown[]).map((entry) => (isDict(entry) ? Number(entry.target) : Number(String(entry).split(':').pop()!.split('/')[0])));
    expect(targets).toContain(port);
  });

  it('publishes no port of EventStoreDB, PostgreSQL, Redis or Kafka', () => {
    for (const name of ['eventstore', 'postgres', 'redis', 'kafka']) expect({ name, ports: serviceNamed(name).ports }).toEqual({ name, ports: undefined });
  });

  it('keeps state in named volumes, Proofline\'s data dir included', () => {
    const named = Object.keys(dict(compose.volumes, 'volumes'));
    const mounts: Record<string, string> = { eventstore: '/var/lib/eventstore', postgres: '/var/lib/postgresql/data', redis: '/data', proofline: resolvedProoflineEnvironment.PROOFLINE_DATA_DIR };
    for (const [name, target] of Object.entries(mounts)) {
      const volumes = words(serviceNamed(name).volumes);
      expect({ name, mounted: volumes.some((volume) => named.includes(volume.split(':')[0]) && volume.split(':')[1] === target) }).toEqual({ name, mounted: true });
    }
  });

  it('holds no literal secret: every *_SECRET, *_PASSWORD or *_KEY value is a ${…} reference without a default', () => {
    const literal: string[] = [];
    for (const name of Object.keys(services)) {
      for (const [key, value] of Object.entries(environmentOf(name))) {
        if (/(_SECRET|_PASSWORD|_KEY)$/.test(key)) {
          const reference = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::?\?[^}]*|:?-)?\}$/;
          if (!reference.test(value)) literal.push(`${name}.${key}`);
        }
        if (/^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*:[^/@\s]*@/.test(value)) {
          const password = value.slice(value.indexOf('://') + 3, value.indexOf('@')).split(':').slice(1).join(':');
          if (!/^\$\{[A-Za-z_][A-Za-z0-9_]*(:?\?[^}]*)?\}$/.test(password)) literal.push(`${name}.${key} (password in the URL)`);
        }
      }
    }
    expect(literal).toEqual([]);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const instructions = dockerfile
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const stages: string[][] = [];
  for (const line of instructions) {
    if (/^FROM\s/i.test(line)) stages.push([]);
    stages.at(-1)?.push(line);
  }
  const runtime = stages.at(-1) ?? [];
  const last = (keyword: string) => runtime.filter((line) => line.toUpperCase().startsWith(`${keyword} `)).at(-1);

  it('exists and has a build stage and a runtime stage on node:20-bookworm-slim', () => {
    expect(existsSync(join(ROOT, 'Dockerfile'))).toBe(true);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage[0]).toMatch(/^FROM\s+node:20-bookworm-slim(\s+AS\s+\S+)?$/i);
  });

  it('runs as a user that is not root', () => {
    const user = last('USER')?.split(/\s+/)[1];
    expect(user).toBeDefined();
    expect(['root', '0', '0:0', 'root:root']).not.toContain(user);
  });

  it('has a HEALTHCHECK asking /health on PORT, EXPOSE of PORT and NODE_ENV=production', () => {
    const healthcheck = last('HEALTHCHECK');
    expect(healthcheck).toBeDefined();
    expect(healthcheck).toContain("'http://127.0.0.1:' + (process.env.PORT || 3000) + '/health'");
    expect(last('EXPOSE')).toBe(`EXPOSE ${new ProoflineConfig().PORT}`);
    expect(runtime.join('\n')).toMatch(/\bNODE_ENV=production\b/);
  });

  it('starts what npm start starts, and ships the CLI that package.json names', () => {
    const packageJson = JSON.parse(read('package.json')) as { scripts: Record<string, string>; bin: Record<string, string> };
    const cmd = JSON.parse(last('CMD')!.slice(4)) as string[];
    expect(cmd.join(' ')).toBe(packageJson.scripts.start);
    const copied = runtime.filter((line) => /^COPY\s+--from=/i.test(line)).map((line) => line.split(/\s+/).at(-1)!.replace(/^\.\//, ''));
    for (const file of [cmd[1], ...Object.values(packageJson.bin)]) {
      expect({ file, shipped: copied.some((target) => file.startsWith(`${target}/`)) }).toEqual({ file, shipped: true });
    }
  });

  it('compiles and ships every source folder of tsconfig.build.json that the server uses', () => {
    const { include } = JSON.parse(read('tsconfig.build.json')) as { include: string[] };
    const ignored = read('.dockerignore')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    const build = stages[0].join('\n');
    const shipped = runtime.join('\n');
    for (const folder of include.filter((name) => name !== 'bench')) {
      expect({ folder, copied: build.includes(`COPY ${folder} ./${folder}`), ignored: ignored.includes(folder) }).toEqual({ folder, copied: true, ignored: false });
      expect({ folder, shipped: shipped.includes(`/app/dist/${folder} ./dist/${folder}`) }).toEqual({ folder, shipped: true });
    }
  });

  it('makes the data dir writable by the runtime user and matches docker-compose.yml', () => {
    const user = last('USER')!.split(/\s+/)[1];
    expect(runtime.join('\n')).toContain('PROOFLINE_DATA_DIR=/app/data');
    expect(runtime.join('\n')).toMatch(new RegExp(`chown ${user}:${user} /app/data`));
    expect(resolvedProoflineEnvironment.PROOFLINE_DATA_DIR).toBe('/app/data');
  });

  it('keeps local state and secrets out of the build context', () => {
    const ignored = read('.dockerignore').split('\n').map((line) => line.trim());
    for (const entry of ['node_modules', 'dist', 'data', '.kafka', '.git', '.env']) expect(ignored).toContain(entry);
  });
});

describe('README.md, "Configuration"', () => {
  it('lists exactly the variables of ProoflineConfig', () => {
    const readme = read('README.md');
    const start = readme.indexOf('\n## Configuration');
    expect(start).toBeGreaterThanOrEqual(0);
    const end = readme.indexOf('\n## ', start + 1);
    const rows = readme
      .slice(start, end === -1 ? undefined : end)
      .split('\n')
      .filter((line) => line.startsWith('| `'));
    const documented = new Set(rows.flatMap((row) => [...row.split('|')[1].matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((match) => match[1])));
    const undocumented = [...configProperties].filter((name) => !documented.has(name)).sort();
    const unknown = [...documented].filter((name) => !configProperties.has(name)).sort();
    expect({ undocumented, unknown }).toEqual({ undocumented: [], unknown: [] });
  });
});
