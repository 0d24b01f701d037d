import type { Redis } from 'ioredis';
import { closeRedis, unavailable } from './redis-connection';
import type { RefreshFamily, RotateOutcome, TokenFamilyStore } from './token-family-store';

/*
 * A family is a hash (userId, tenantId, currentTokenId, expiresAt, revoked) that Redis deletes at
 * expiresAt. The scripts also compare expiresAt with the caller's `now`, so a family whose expiry
 * Redis has not yet acted on (clock skew, a test's clock) is already gone for the caller.
 */

/** KEYS[1] family; ARGV presented, next, now. Returns {outcome, currentTokenId, userId, tenantId, expiresAt}. */
const ROTATE = `
local family = redis.call('HMGET', KEYS[1], 'currentTokenId', 'revoked', 'expiresAt', 'userId', 'tenantId')
if not family[1] or tonumber(family[3]) <= tonumber(ARGV[3]) then return {'unknown'} end
if family[2] == '1' then return {'revoked'} end
if family[1] == ARGV[1] then
  redis.call('HSET', KEYS[1], 'currentTokenId', ARGV[2])
  return {'rotated', ARGV[2], family[4], family[5], family[3]}
end
redis.call('HSET', KEYS[1], 'revoked', '1')
return {'reused', family[1], family[4], family[5], family[3]}
`;

/** KEYS[1] family; ARGV now. Returns 1 when it was active. HSET keeps the key's expiry, so the tombstone lives until expiresAt. */
const REVOKE = `
local family = redis.call('HMGET', KEYS[1], 'revoked', 'expiresAt')
if not family[2] or family[1] == '1' or tonumber(family[2]) <= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'revoked', '1')
return 1
`;

interface FamilyScripts {
  prooflineRotateFamily(key: string, presentedTokenId: string, nextTokenId: string, now: number): Promise<string[]>;
  prooflineRevokeFamily(key: string, now: number): Promise<number>;
}

/** Refresh-token families in Redis, shared by every instance of the API. */
export class RedisTokenFamilyStore implements TokenFamilyStore {
  private readonly redis: Redis & FamilyScripts;

  constructor(
    redis: Redis,
    private readonly keyPrefix: string,
  ) {
    redis.defineCommand('prooflineRotateFamily', { numberOfKeys: 1, lua: ROTATE });
    redis.defineCommand('prooflineRevokeFamily', { numberOfKeys: 1, lua: REVOKE });
    this.redis = redis as Redis & FamilyScripts;
  }

  async create(family: RefreshFamily): Promise<void> {
    const key = this.keyOf(family.familyId);
    let results: [Error | null, unknown][] | null;
    try {
      results = await this.redis
        .multi()
        .del(key)
        .hset(key, {
          userId: family.userId,
          tenantId: family.tenantId,
          currentTokenId: family.currentTokenId,
          expiresAt: String(family.expiresAt),
          revoked: '0',
        })
        .pexpireat(key, family.expiresAt)
        .exec();
    } catch (error) {
      throw unavailable('refresh family create', error);
    }
    // A transaction reports a failed command in its results rather than by rejecting.
    const failed = results?.find(([error]) => error !== null);
    if (failed) throw unavailable('refresh family create', failed[0]);
  }

  async rotate(familyId: string, presentedTokenId: string, nextTokenId: string, now = Date.now()): Promise<RotateOutcome> {
    let reply: string[];
    try {
      reply = await this.redis.prooflineRotateFamily(this.keyOf(familyId), presentedTokenId, nextTokenId, now);
    } catch (error) {
      throw unavailable('refresh token rotation', error);
    }
    const [kind, currentTokenId, userId, tenantId, expiresAt] = reply;
    if (kind === 'unknown' || kind === 'revoked') return { kind };
    if (kind !== 'rotated' && kind !== 'reused') throw unavailable('refresh token rotation', new Error(`unexpected script reply ${JSON.stringify(reply)}`));
    return { kind, family: { familyId, userId, tenantId, currentTokenId, expiresAt: Number(expiresAt) } };
  }

  async isActive(familyId: string, now = Date.now()): Promise<boolean> {
    let revoked: string | null;
    let expiresAt: string | null;
    try {
      [revoked, expiresAt] = await this.redis.hmget(this.keyOf(familyId), 'revoked', 'expiresAt');
    } catch (error) {
      throw unavailable('session check', error);
    }
    return expiresAt !== null && revoked !== '1' && Number(expiresAt) > now;
  }

  async revoke(familyId: string): Promise<boolean> {
    try {
      return (await this.redis.prooflineRevokeFamily(this.keyOf(familyId), Date.now())) === 1;
    } catch (error) {
      throw unavailable('refresh family revoke', error);
    }
  }

  /** Closes the client it was given; stores sharing that client may each call this. */
  async close(): Promise<void> {
    await closeRedis(this.redis);
  }

  private keyOf(familyId: string): string {
    return `${this.keyPrefix}refresh-family:${familyId}`;
  }
}
