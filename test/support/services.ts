import { Socket } from 'node:net';

export type ServiceName = 'postgres' | 'redis' | 'kafka' | 'eventstoredb';
export const SERVICES: readonly ServiceName[] = ['postgres', 'redis', 'kafka', 'eventstoredb'];

/** EventStoreDB has no default: it cannot run on our machines, so it is only tried when named. */
const DEFAULT_URLS: Record<ServiceName, string> = {
  postgres: 'postgres://postgres@127.0.0.1:5432/test',
  redis: 'redis://127.0.0.1:6379',
  kafka: '127.0.0.1:9092',
  eventstoredb: '',
};

const ENV_NAMES: Record<ServiceName, string> = { postgres: 'DATABASE_URL', redis: 'REDIS_URL', kafka: 'KAFKA_BROKERS', eventstoredb: 'ESDB_CONNECTION_STRING' };

/** Where tests find a service: the usual environment variable, else the local default. */
export function serviceUrl(service: ServiceName): string {
  return process.env[ENV_NAMES[service]] || DEFAULT_URLS[service];
}

/** Services listed in REQUIRE_SERVICES (comma-separated) must be reachable: their absence fails the run. */
export function requiredServices(): ServiceName[] {
  const listed = (process.env.REQUIRE_SERVICES ?? '').split(',').map((name) => name.trim().toLowerCase());
  return SERVICES.filter((service) => listed.includes(service));
}

export function hostAndPort(service: ServiceName): { host: string; port: number } {
  const url = serviceUrl(service);
  if (service === 'kafka') {
    const [host, port] = url.split(',')[0].split(':');
    return { host, port: Number(port) };
  }
  if (service === 'eventstoredb') {
    // esdb://[user:pass@]host:port[,host:port]?tls=false: the first node answers the probe.
    const [host, port] = url.replace(/^esdb(\+discover)?:\/\//, '').replace(/^[^@/]*@/, '').split(/[,/?]/)[0].split(':');
    return { host, port: Number(port || 2113) };
  }
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port || (service === 'postgres' ? 5432 : 6379)) };
}

export async function isReachable(service: ServiceName, timeoutMs = 1500): Promise<boolean> {
  if (serviceUrl(service) === '') return false;
  const { host, port } = hostAndPort(service);
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, host, () => done(true));
  });
}

/** Set by test/support/global-setup.ts after probing every service once per run. */
export function isAvailable(service: ServiceName): boolean {
  return (process.env.PROOFLINE_TEST_SERVICES ?? '').split(',').includes(service);
}

/**
 * A suite that needs a real service: it runs when the service answered the probe, and is
 * skipped with a note when it did not (a required service that did not answer has already
 * failed the run in global setup).
 */
export function describeWithService(service: ServiceName, name: string, body: () => void): void {
  describeWithServices([service], name, body);
}

/** A suite that needs several real services: it runs when every one answered, else it is skipped naming those that did not. */
export function describeWithServices(services: readonly ServiceName[], name: string, body: () => void): void {
  const missing = services.filter((service) => !isAvailable(service));
  if (missing.length === 0) {
    describe(`${name} [${services.join(', ')}]`, body);
  } else {
    describe.skip(`${name} [${missing.join(', ')} unreachable: skipped]`, body);
  }
}
