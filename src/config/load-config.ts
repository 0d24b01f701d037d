import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { ProoflineConfig } from './proofline-config';

export class ConfigurationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigurationError';
  }
}

/** Reads and validates the configuration; unknown variables are ignored, empty ones count as unset. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ProoflineConfig {
  const defaults = new ProoflineConfig();
  const known = Object.keys(defaults).concat(OPTIONAL_KEYS);
  const given: Record<string, string> = {};
  for (const key of known) {
    const value = env[key];
    // Values read from secret files often end in a newline: trimmed, not refused (a PEM key is kept as written).
    if (value !== undefined && value.trim() !== '') given[key] = key === 'PROOFLINE_SIGNING_KEY' ? value : value.trim();
  }
  const config = plainToInstance(ProoflineConfig, given, { exposeDefaultValues: true });
  const errors = validateSync(config, { forbidUnknownValues: true });
  const problems = [...errors.map(describe), ...esdbConnectionProblems(config.ESDB_CONNECTION_STRING)];
  if (problems.length > 0) throw new ConfigurationError(problems);
  return Object.freeze(config);
}

const OPTIONAL_KEYS = ['DATABASE_URL', 'DATABASE_SCHEMA', 'REDIS_URL', 'KAFKA_BROKERS', 'ESDB_CONNECTION_STRING', 'PROOFLINE_SIGNING_KEY'];

/** Settings that are secrets as a whole: never shown, not even in part. */
const SECRET_SETTINGS = new Set(['PROOFLINE_SIGNING_KEY', 'PROOFLINE_TOKEN_SECRET', 'PROOFLINE_ADMIN_PASSWORD']);

/**
 * A value as a start-up message may show it: secrets redacted, and the credentials inside a
 * connection string (`scheme://user:password@host`, `user:password@host:port`) replaced by ***.
 */
export function shownValue(setting: string, value: unknown): string {
  if (SECRET_SETTINGS.has(setting)) return '<redacted>';
  if (typeof value !== 'string' || !CONNECTION_SETTINGS.has(setting)) return JSON.stringify(value);
  // Whatever stands before the last @ of a host part is a user name and password, however malformed the rest.
  return JSON.stringify(value.replace(/(^|[\s/,])[^\s/,]*@/g, '$1***@'));
}

const CONNECTION_SETTINGS = new Set(['DATABASE_URL', 'REDIS_URL', 'KAFKA_BROKERS', 'ESDB_CONNECTION_STRING']);

/** Query options the EventStoreDB client knows (case-insensitive); it ignores others with a warning that prints the whole string. */
const ESDB_OPTIONS = [
  'tls', 'tlsverifycert', 'tlscafile', 'tlscertfile', 'tlskeyfile', 'usercertfile', 'userkeyfile', 'connectionname', 'maxdiscoverattempts',
  'discoveryinterval', 'gossiptimeout', 'nodepreference', 'keepaliveinterval', 'keepalivetimeout', 'defaultdeadline', 'throwonappendfailure',
];

/**
 * What the EventStoreDB client would misread without saying so: an unknown option (ignored — `ssl=false`
 * leaves TLS on), or an `@` left in the password (the rest becomes a host name, shown in errors).
 */
function esdbConnectionProblems(value: string | undefined): string[] {
  if (value === undefined) return [];
  const problems: string[] = [];
  const [beforeQuery, query = ''] = value.split('?', 2);
  const authority = beforeQuery.replace(/^[a-z+]+:\/\//i, '').split('/')[0];
  if ((authority.match(/@/g) ?? []).length > 1) {
    problems.push('ESDB_CONNECTION_STRING: the user name and password must be URL-encoded (an @ in the password is %40) (value not shown)');
  }
  const unknown = query
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) => pair.split('=')[0])
    .filter((key) => !ESDB_OPTIONS.includes(key.toLowerCase()));
  if (unknown.length > 0) problems.push(`ESDB_CONNECTION_STRING: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; known: ${ESDB_OPTIONS.join(', ')} (value not shown)`);
  return problems;
}

function describe(error: ValidationError): string {
  const shown = shownValue(error.property, error.value);
  const rules = Object.values(error.constraints ?? {}).join('; ');
  return `${error.property}: ${rules} (got ${shown})`;
}
