import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createHttpApp } from '../../src/app/http-app';
import { createInfrastructure, type Infrastructure } from '../../src/app/infrastructure';
import { loadConfig } from '../../src/config/load-config';
import { serviceUrl } from './services';
import { randomBytes } from 'node:crypto';
import knex from 'knex';
import { deleteRedisKeys, uniqueRedisPrefix } from './redis-keys';

export interface TestApp {
  readonly app: NestFastifyApplication;
  readonly infrastructure: Infrastructure;
  readonly server: ReturnType<NestFastifyApplication['getHttpServer']>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  readonly database?: 'embedded' | 'server';
  /** Overrides DATABASE_URL (e.g. a proxy in front of the server, to cut it). */
  readonly databaseUrl?: string;
  readonly env?: Record<string, string>;
  /** Where rate limits and sessions live: memory (default) or the real Redis under a key prefix of this app's own. */
  readonly authStore?: 'memory' | 'redis';
}

/** The real HTTP app on an in-memory PGlite (default) or a fresh schema of the PostgreSQL server. */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'proofline-test-'));
  const schema = options.database === 'server' ? `proofline_e2e_${randomBytes(6).toString('hex')}` : undefined;
  const redisPrefix = uniqueRedisPrefix();
  const config = loadConfig({
    PROOFLINE_AUTH_STORE: options.authStore ?? 'memory',
    ...(options.authStore === 'redis' ? { REDIS_URL: serviceUrl('redis'), PROOFLINE_REDIS_KEY_PREFIX: redisPrefix } : {}),
    PROOFLINE_DATA_DIR: dataDir,
    PROOFLINE_SIGNING_KEY_TYPE: 'ed25519',
    LOG_LEVEL: 'silent',
    ...(schema ? { PROOFLINE_PROFILE: 'services', DATABASE_URL: options.databaseUrl ?? serviceUrl('postgres'), DATABASE_SCHEMA: schema } : {}),
    ...options.env,
  });
  const infrastructure = await createInfrastructure(config, { dataDirForDatabase: schema ? undefined : 'memory://' });
  const app = await createHttpApp(infrastructure, { quiet: true });
  return {
    app,
    infrastructure,
    server: app.getHttpServer(),
    close: async () => {
      await app.close();
      await infrastructure.close();
      rmSync(dataDir, { recursive: true, force: true });
      if (options.authStore === 'redis') await deleteRedisKeys(redisPrefix);
      if (schema) {
        const admin = knex({ client: 'pg', connection: serviceUrl('postgres') });
        await admin.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]).finally(() => admin.destroy());
      }
    },
  };
}
