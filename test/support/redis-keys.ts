import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { closeRedis, openRedis } from '../../src/auth/state/redis-connection';
import { serviceUrl } from './services';

/** A key prefix no other test run uses, so suites sharing the one Redis never meet. */
export function uniqueRedisPrefix(): string {
  return `proofline-test:${randomUUID()}:`;
}

/** Deletes every key under `prefix`, on the given connection or a short-lived one of its own. */
export async function deleteRedisKeys(prefix: string, connection?: Redis): Promise<void> {
  const redis = connection ?? (await openRedis(serviceUrl('redis')));
  try {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    if (!connection) await closeRedis(redis);
  }
}
