import type { CommandPipeline } from '../commands/command-pipeline';
import type { StateLoader } from '../commands/state-loader';
import { authStoreOf, type ProoflineConfig } from '../config/proofline-config';
import type { Database } from '../database/database';
import type { EventStore } from '../eventstore/event-store.port';
import type { EventSigner } from '../signing/event-signer';
import { Authenticator } from './authenticator';
import { Invitations } from './invitations';
import { PasswordResets } from './password-resets';
import { SecurityLog } from './security-log';
import { Sessions } from './sessions';
import { MemoryRateLimiter } from './state/memory-rate-limiter';
import { MemoryTokenFamilyStore } from './state/memory-token-family-store';
import type { RateLimiter } from './state/rate-limiter';
import { openRedis } from './state/redis-connection';
import { RedisRateLimiter } from './state/redis-rate-limiter';
import { RedisTokenFamilyStore } from './state/redis-token-family-store';
import type { TokenFamilyStore } from './state/token-family-store';
import { loadTokenSecret } from './token-secret';
import { TokenIssuer } from './tokens';
import { UserRepository } from './user-repository';

/** Accounts, sessions, API keys, rate limits and the security log, wired once. */
export interface Identity {
  readonly users: UserRepository;
  readonly tokens: TokenIssuer;
  readonly families: TokenFamilyStore;
  readonly limiter: RateLimiter;
  readonly securityLog: SecurityLog;
  readonly authenticator: Authenticator;
  readonly sessions: Sessions;
  readonly passwordResets: PasswordResets;
  readonly invitations: Invitations;
  readonly store: 'memory' | 'redis';
  close(): Promise<void>;
}

export interface IdentityDependencies {
  readonly database: Database;
  readonly store: EventStore;
  readonly signer: EventSigner;
  readonly states: StateLoader;
  readonly pipeline: CommandPipeline;
}

export async function createIdentity(config: ProoflineConfig, deps: IdentityDependencies, options: { ephemeralSecret?: boolean } = {}): Promise<Identity> {
  const storeKind = authStoreOf(config);
  const redis = storeKind === 'redis' ? await openRedis(config.REDIS_URL!) : undefined;
  const limiter: RateLimiter = redis ? new RedisRateLimiter(redis, config.PROOFLINE_REDIS_KEY_PREFIX) : new MemoryRateLimiter();
  const families: TokenFamilyStore = redis ? new RedisTokenFamilyStore(redis, config.PROOFLINE_REDIS_KEY_PREFIX) : new MemoryTokenFamilyStore();
  const users = new UserRepository(deps.database.knex);
  const tokens = new TokenIssuer(loadTokenSecret(config.PROOFLINE_TOKEN_SECRET, options.ephemeralSecret ? undefined : config.PROOFLINE_DATA_DIR), {
    accessSeconds: config.PROOFLINE_ACCESS_TOKEN_SECONDS,
    refreshSeconds: config.PROOFLINE_REFRESH_TOKEN_SECONDS,
  });
  const securityLog = new SecurityLog(deps.store, deps.signer);
  const sessions = new Sessions({ users, tokens, families, limiter, securityLog, pipeline: deps.pipeline, states: deps.states });
  return {
    users,
    tokens,
    families,
    limiter,
    securityLog,
    authenticator: new Authenticator(tokens, families, deps.states, users),
    sessions,
    passwordResets: new PasswordResets(users, deps.states, limiter, securityLog),
    invitations: new Invitations({ users, states: deps.states, pipeline: deps.pipeline, limiter, sessions, securityLog }),
    store: storeKind,
    close: async () => {
      await limiter.close();
      await families.close();
      await redis?.quit().catch(() => redis.disconnect());
    },
  };
}
