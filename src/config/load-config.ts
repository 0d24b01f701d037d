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
    if (value !== undefined && value.trim() !== '') given[key] = value;
  }
  const config = plainToInstance(ProoflineConfig, given, { exposeDefaultValues: true });
  const errors = validateSync(config, { forbidUnknownValues: true });
  if (errors.length > 0) throw new ConfigurationError(errors.map(describe));
  return Object.freeze(config);
}

const OPTIONAL_KEYS = ['DATABASE_URL', 'DATABASE_SCHEMA', 'REDIS_URL', 'KAFKA_BROKERS', 'ESDB_CONNECTION_STRING', 'PROOFLINE_SIGNING_KEY'];

function describe(error: ValidationError): string {
  const shown = error.property === 'PROOFLINE_SIGNING_KEY' ? '<redacted>' : JSON.stringify(error.value);
  const rules = Object.values(error.constraints ?? {}).join('; ');
  return `${error.property}: ${rules} (got ${shown})`;
}
