import type { Redis } from 'ioredis';
import { MemoryTokenFamilyStore } from '../../src/auth/state/memory-token-family-store';
import { closeRedis, openRedis } from '../../src/auth/state/redis-connection';
import { RedisTokenFamilyStore } from '../../src/auth/state/redis-token-family-store';
import { deleteRedisKeys, uniqueRedisPrefix } from '../support/redis-keys';
import { describeWithService, serviceUrl } from '../support/services';
import { sleep } from './helpers';
import { tokenFamilyStoreConformance } from './token-family-store.conformance';

tokenFamilyStoreConformance('MemoryTokenFamilyStore', async () => {
  const store = new MemoryTokenFamilyStore();
  return { store, close: () => store.close() };
});

describeWithService('redis', 'RedisTokenFamilyStore', () => {
  const keyPrefix = uniqueRedisPrefix();
  let admin: Redis;

  beforeAll(async () => {
    admin = await openRedis(serviceUrl('redis'));
  });

  afterAll(async () => {
    await deleteRedisKeys(keyPrefix, admin);
    await closeRedis(admin);
  });

  tokenFamilyStoreConformance('RedisTokenFamilyStore', async () => {
    const store = new RedisTokenFamilyStore(await openRedis(serviceUrl('redis')), `${keyPrefix}conformance:`);
    return { store, close: () => store.close() };
  });

  describe('in Redis', () => {
    const prefix = `${keyPrefix}specifics:`;
    let store: RedisTokenFamilyStore;

    beforeAll(async () => {
      store = new RedisTokenFamilyStore(await openRedis(serviceUrl('redis')), prefix);
    });

    afterAll(async () => {
      await store.close();
    });

    it('keeps a family, and its tombstone after revoke, under its prefix only until expiresAt, then Redis drops it', async () => {
      const expiresAt = Date.now() + 800;
      await store.create({ familyId: 'expiring', userId: 'user', tenantId: 'tenant', currentTokenId: 'first', expiresAt });
      await store.revoke('expiring');

      const keys = await admin.keys(`${prefix}*`);
      expect(keys).toHaveLength(1);
      const ttl = await admin.pttl(keys[0]);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(800);

      await sleep(1_200);
      expect(await admin.keys(`${prefix}*`)).toEqual([]);
    });

    it('given an expiresAt already past, stores nothing', async () => {
      await store.create({ familyId: 'stillborn', userId: 'user', tenantId: 'tenant', currentTokenId: 'first', expiresAt: Date.now() - 1 });

      expect(await admin.keys(`${prefix}*`)).toEqual([]);
      expect(await store.rotate('stillborn', 'first', 'second')).toEqual({ kind: 'unknown' });
    });
  });
});
