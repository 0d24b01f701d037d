import { Transform } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, ValidateIf } from 'class-validator';

export const PROFILES = ['embedded', 'services'] as const;
export type Profile = (typeof PROFILES)[number];

export const SIGNING_KEY_TYPES = ['rsa', 'ed25519'] as const;
export type SigningKeyType = (typeof SIGNING_KEY_TYPES)[number];

export const FANOUT_MODES = ['kafka', 'in-process'] as const;
export const EVENT_STORES = ['postgres', 'eventstoredb'] as const;

export const AUTH_STORES = ['memory', 'redis'] as const;
export type AuthStore = (typeof AUTH_STORES)[number];

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

  /** Required when the auth store is redis (the services profile's default). */
  @ValidateIf((config: ProoflineConfig) => authStoreOf(config) === 'redis' || config.REDIS_URL !== undefined)
  @Matches(/^rediss?:\/\/\S+$/, { message: 'REDIS_URL must be a redis:// or rediss:// URL (required when PROOFLINE_AUTH_STORE=redis, the services profile default)' })
  REDIS_URL?: string;

  @ValidateIf((config: ProoflineConfig) => config.PROOFLINE_FANOUT === 'kafka' || config.KAFKA_BROKERS !== undefined)
  @Matches(/^([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}(,([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5})*$/, {
    message: 'KAFKA_BROKERS must be a comma-separated list of host:port (a host name or IP address, no credentials; required with PROOFLINE_FANOUT=kafka)',
  })
  KAFKA_BROKERS?: string;

  @ValidateIf((config: ProoflineConfig) => config.PROOFLINE_EVENT_STORE === 'eventstoredb' || config.ESDB_CONNECTION_STRING !== undefined)
  @Matches(/^(esdb|esdb\+discover):\/\/\S+$/, {
    message: 'ESDB_CONNECTION_STRING must be an esdb:// or esdb+discover:// connection string (required with PROOFLINE_EVENT_STORE=eventstoredb)',
  })
  ESDB_CONNECTION_STRING?: string;

  /** Where events are stored: the PostgreSQL database (PGlite or a server) or EventStoreDB. Default: eventstoredb when ESDB_CONNECTION_STRING is set. */
  @IsOptional()
  @IsIn(EVENT_STORES)
  PROOFLINE_EVENT_STORE?: (typeof EVENT_STORES)[number];

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

  /**
   * Where the ledger's signer keeps the last head it signed for each log (docs/ledger.md). Default:
   * `<PROOFLINE_DATA_DIR>/keys/heads`. Where several instances may build the ledger, point them all
   * at one shared directory, or a standby that takes over does not know what the last holder signed.
   */
  @IsOptional()
  @Matches(/\S/, { message: 'PROOFLINE_LEDGER_HEADS_DIR must not be empty when set' })
  PROOFLINE_LEDGER_HEADS_DIR?: string;

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

  /** How events reach the projections: through Kafka (relay + consumer groups) or in-process from the store. Default: kafka when KAFKA_BROKERS is set. */
  @IsOptional()
  @IsIn(FANOUT_MODES)
  PROOFLINE_FANOUT?: (typeof FANOUT_MODES)[number];

  /** Partitions of each topic Proofline creates (events of one stream always share a partition). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1000)
  PROOFLINE_KAFKA_PARTITIONS = 3;

  /** A projector's Kafka consumer whose group has lag but that delivered no batch for this long is replaced (docs/projections.md, "Failures"). */
  @Transform(toInt)
  @IsInt()
  @Min(5)
  @Max(3600)
  PROOFLINE_KAFKA_STALL_SECONDS = 60;

  /** The read horizon's age beyond which /health and /projections/status say degraded (docs/operations.md, "A stuck transaction"). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(86400)
  PROOFLINE_HORIZON_DEGRADED_SECONDS = 300;

  /** Topics are `<prefix>.<domain>.events.v1`, consumer groups `<prefix>.projector.<name>`. */
  @Matches(/^[a-z][a-z0-9-]{0,39}$/, { message: 'PROOFLINE_KAFKA_TOPIC_PREFIX must be lowercase letters, digits and - (at most 40), starting with a letter' })
  PROOFLINE_KAFKA_TOPIC_PREFIX = 'proofline';

  /** `on` runs the relay (while it holds the lease) and the projectors in the server; `off` leaves them to other instances. */
  @IsIn(['on', 'off'])
  PROOFLINE_PROJECTIONS: 'on' | 'off' = 'on';

  /** Where rate-limit windows and refresh-token families live; defaults to redis in the services profile, memory in the embedded one. */
  @IsOptional()
  @IsIn(AUTH_STORES)
  PROOFLINE_AUTH_STORE?: AuthStore;

  @Matches(/^[A-Za-z0-9:_.-]{0,64}$/, { message: 'PROOFLINE_REDIS_KEY_PREFIX must be at most 64 letters, digits and :_.-' })
  PROOFLINE_REDIS_KEY_PREFIX = 'proofline:';

  /** The HMAC secret of access and refresh tokens; when absent, generated on first boot into the data dir. */
  @IsOptional()
  @Matches(/^\S{32,512}$/, { message: 'PROOFLINE_TOKEN_SECRET must be 32 to 512 characters without white space (e.g. openssl rand -base64 48)' })
  PROOFLINE_TOKEN_SECRET?: string;

  @Transform(toInt)
  @IsInt()
  @Min(60)
  @Max(86_400)
  PROOFLINE_ACCESS_TOKEN_SECONDS = 900;

  @Transform(toInt)
  @IsInt()
  @Min(300)
  @Max(90 * 86_400)
  PROOFLINE_REFRESH_TOKEN_SECONDS = 7 * 86_400;

  /** Requests per tenant per minute over every authenticated endpoint (a sliding window). */
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  PROOFLINE_TENANT_REQUESTS_PER_MINUTE = 1200;

  /**
   * Behind reverse proxies: the number of proxy hops to trust, or the proxies' addresses
   * (comma-separated IPs or CIDRs), so per-IP limits and security events see the client. Never
   * "trust everything": the left-most X-Forwarded-For entry is whatever the client wrote.
   */
  @Matches(/^(off|[1-9]|[0-9a-fA-F:.]+(\/\d{1,3})?(\s*,\s*[0-9a-fA-F:.]+(\/\d{1,3})?)*)$/, {
    message: 'PROOFLINE_TRUST_PROXY must be off, a number of proxy hops (1-9), or a comma-separated list of proxy addresses or CIDRs',
  })
  PROOFLINE_TRUST_PROXY = 'off';

  /** With PROOFLINE_ADMIN_PASSWORD: the first ADMIN, created at start if no account has this address. */
  @ValidateIf((config: ProoflineConfig) => config.PROOFLINE_ADMIN_EMAIL !== undefined || config.PROOFLINE_ADMIN_PASSWORD !== undefined)
  @Matches(/^[^\s@]+@[^\s@]+$/, { message: 'PROOFLINE_ADMIN_EMAIL must be an e-mail address (required with PROOFLINE_ADMIN_PASSWORD)' })
  PROOFLINE_ADMIN_EMAIL?: string;

  @ValidateIf((config: ProoflineConfig) => config.PROOFLINE_ADMIN_EMAIL !== undefined || config.PROOFLINE_ADMIN_PASSWORD !== undefined)
  @IsString({ message: 'PROOFLINE_ADMIN_PASSWORD is required with PROOFLINE_ADMIN_EMAIL' })
  PROOFLINE_ADMIN_PASSWORD?: string;

  @IsIn(LOG_LEVELS)
  LOG_LEVEL: (typeof LOG_LEVELS)[number] = 'info';
}

/** The auth store in effect: set explicitly, or following the profile. */
export function authStoreOf(config: Pick<ProoflineConfig, 'PROOFLINE_AUTH_STORE' | 'PROOFLINE_PROFILE'>): AuthStore {
  return config.PROOFLINE_AUTH_STORE ?? (config.PROOFLINE_PROFILE === 'services' ? 'redis' : 'memory');
}

/** Fastify's trustProxy for PROOFLINE_TRUST_PROXY: false, a hop count, or the trusted addresses. */
export function trustProxyOf(setting: string): false | number | string[] {
  if (setting === 'off') return false;
  if (/^[1-9]$/.test(setting)) return Number(setting);
  return setting.split(',').map((address) => address.trim());
}

/** The event store in effect: set explicitly, or EventStoreDB whenever a connection string is configured. */
export function eventStoreOf(config: Pick<ProoflineConfig, 'PROOFLINE_EVENT_STORE' | 'ESDB_CONNECTION_STRING'>): 'postgres' | 'eventstoredb' {
  return config.PROOFLINE_EVENT_STORE ?? (config.ESDB_CONNECTION_STRING ? 'eventstoredb' : 'postgres');
}

/** The fan-out in effect: set explicitly, or Kafka whenever brokers are configured. */
export function fanoutOf(config: Pick<ProoflineConfig, 'PROOFLINE_FANOUT' | 'KAFKA_BROKERS'>): 'kafka' | 'in-process' {
  return config.PROOFLINE_FANOUT ?? (config.KAFKA_BROKERS ? 'kafka' : 'in-process');
}
