import { Transform } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, ValidateIf } from 'class-validator';

export const PROFILES = ['embedded', 'services'] as const;
export type Profile = (typeof PROFILES)[number];

export const SIGNING_KEY_TYPES = ['rsa', 'ed25519'] as const;
export type SigningKeyType = (typeof SIGNING_KEY_TYPES)[number];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const toInt = ({ value }: { value: unknown }) => (typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value);

/**
 * Every setting Proofline reads from the environment, with its rule. The property names are
 * the environment variable names, so a validation message names the variable to fix.
 * Documented, one row each, in README.md ("Configuration").
 */
export class ProoflineConfig {
  @IsIn(PROFILES)
  PROOFLINE_PROFILE: Profile = 'embedded';

  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 3000;

  @IsString()
  @Matches(/^\S+$/, { message: 'HOST must be a host name or address without spaces' })
  HOST = '0.0.0.0';

  @IsString()
  @Matches(/\S/, { message: 'PROOFLINE_DATA_DIR must not be empty' })
  PROOFLINE_DATA_DIR = './data';

  /** Required in the services profile: the PostgreSQL server holding events and read models. */
  @ValidateIf((config: ProoflineConfig) => config.PROOFLINE_PROFILE === 'services' || config.DATABASE_URL !== undefined)
  @Matches(/^postgres(ql)?:\/\/\S+$/, { message: 'DATABASE_URL must be a postgres:// or postgresql:// URL (required when PROOFLINE_PROFILE=services)' })
  DATABASE_URL?: string;

  @IsOptional()
  @Matches(/^[a-z_][a-z0-9_]{0,62}$/, { message: 'DATABASE_SCHEMA must be a lowercase SQL identifier (letters, digits, _; at most 63)' })
  DATABASE_SCHEMA?: string;

  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(200)
  DATABASE_POOL_SIZE = 10;

  @IsOptional()
  @Matches(/^rediss?:\/\/\S+$/, { message: 'REDIS_URL must be a redis:// or rediss:// URL' })
  REDIS_URL?: string;

  @IsOptional()
  @Matches(/^[^\s,]+:\d+(,[^\s,]+:\d+)*$/, { message: 'KAFKA_BROKERS must be a comma-separated list of host:port' })
  KAFKA_BROKERS?: string;

  @IsOptional()
  @Matches(/^(esdb|esdb\+discover):\/\/\S+$/, { message: 'ESDB_CONNECTION_STRING must be an esdb:// or esdb+discover:// connection string' })
  ESDB_CONNECTION_STRING?: string;

  @IsIn(SIGNING_KEY_TYPES)
  PROOFLINE_SIGNING_KEY_TYPE: SigningKeyType = 'rsa';

  /** A PKCS#8 PEM private key; when absent, keys are generated on first boot into the data dir. */
  @IsOptional()
  @Matches(/-----BEGIN PRIVATE KEY-----[\s\S]+-----END PRIVATE KEY-----/, {
    message: 'PROOFLINE_SIGNING_KEY must be a PKCS#8 PEM private key (-----BEGIN PRIVATE KEY-----)',
  })
  PROOFLINE_SIGNING_KEY?: string;

  /** Events between two persisted snapshots of a stream's state. */
  @Transform(toInt)
  @IsInt()
  @Min(10)
  @Max(100000)
  PROOFLINE_SNAPSHOT_EVERY = 50;

  @Transform(toInt)
  @IsInt()
  @Min(1024)
  @Max(50 * 1024 * 1024)
  PROOFLINE_BODY_LIMIT_BYTES = 1024 * 1024;

  /** Names this deployment in every ledger checkpoint's origin (`<instance>/<tenantId>`). */
  @Matches(/^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/, { message: 'PROOFLINE_INSTANCE_NAME must be letters, digits, dots and dashes (at most 63)' })
  PROOFLINE_INSTANCE_NAME = 'proofline';

  @IsIn(['on', 'off'])
  PROOFLINE_LEDGER_BUILDER: 'on' | 'off' = 'on';

  /** A checkpoint is issued after this many new receipts of a tenant… */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  PROOFLINE_LEDGER_CHECKPOINT_EVERY = 100;

  /** …or as soon as it has a new receipt once this many seconds have passed since its last checkpoint (docs/ledger.md). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(86_400)
  PROOFLINE_LEDGER_CHECKPOINT_SECONDS = 10;

  @IsIn(LOG_LEVELS)
  LOG_LEVEL: (typeof LOG_LEVELS)[number] = 'info';
}
