import { execSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { loadConfig } from '../../src/config/load-config';
import type { SigningKeyType } from '../../src/config/proofline-config';
import { createInfrastructure, type Infrastructure } from '../../src/app/infrastructure';
import { coreCount } from './kit';

/** The PostgreSQL server the benchmarks run against: DATABASE_URL, else the local test server. */
export function benchDatabaseUrl(): string {
  return process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
}

/** A fresh schema name for one benchmark; `createInfrastructure` creates it and migrates it. */
export function benchSchemaName(bench: string): string {
  return `proofline_bench_${bench.replace(/[^a-z0-9]/g, '_')}_${randomBytes(4).toString('hex')}`;
}

async function admin<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: benchDatabaseUrl(), application_name: 'proofline-bench' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function dropSchema(schema: string): Promise<void> {
  await admin((client) => client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
}

/** Runs `fn` with a fresh schema name and drops the schema afterwards, whatever happens. */
export async function withSchema<T>(bench: string, fn: (schema: string) => Promise<T>): Promise<T> {
  const schema = benchSchemaName(bench);
  try {
    return await fn(schema);
  } finally {
    await dropSchema(schema);
  }
}

export interface BenchInfrastructureOptions {
  readonly keyType: SigningKeyType;
  readonly poolSize?: number;
  readonly snapshotEvery?: number;
}

/** The production wiring (createInfrastructure) on a bench schema, with keys kept in memory. */
export function openInfrastructure(schema: string, options: BenchInfrastructureOptions): Promise<Infrastructure> {
  const config = loadConfig({
    PROOFLINE_PROFILE: 'services',
    DATABASE_URL: benchDatabaseUrl(),
    DATABASE_SCHEMA: schema,
    DATABASE_POOL_SIZE: String(options.poolSize ?? 20),
    PROOFLINE_SIGNING_KEY_TYPE: options.keyType,
    PROOFLINE_SNAPSHOT_EVERY: String(options.snapshotEvery ?? 50),
    PROOFLINE_DATA_DIR: './data',
    // Benchmarks of the write path measure PostgreSQL, not sessions: rate limits and sessions stay in memory.
    PROOFLINE_AUTH_STORE: 'memory',
    LOG_LEVEL: 'silent',
  });
  return createInfrastructure(config, { ephemeralKeys: true });
}

/** What the figures depend on: cores, Node, the server's version and durability settings. */
export async function environmentInfo(): Promise<Record<string, unknown>> {
  const settings = await admin(async (client) => {
    const version = (await client.query<{ v: string }>('SELECT version() AS v')).rows[0].v;
    const shown: Record<string, string> = {};
    for (const name of ['synchronous_commit', 'fsync', 'wal_sync_method', 'commit_delay', 'full_page_writes', 'shared_buffers', 'max_connections']) {
      shown[name] = (await client.query<Record<string, string>>(`SHOW ${name}`)).rows[0][name];
    }
    return { version, ...shown };
  });
  const host = new URL(benchDatabaseUrl()).hostname;
  return {
    code: codeVersion(),
    nproc: coreCount(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    postgres: settings,
    postgresHost: host,
    postgresOnThisMachine: ['127.0.0.1', 'localhost', '::1'].includes(host),
  };
}

/** Which code was measured: the commit, and whether src/ etc. had uncommitted changes then. */
function codeVersion(): Record<string, unknown> {
  try {
    const commit = execSync('git rev-parse --short HEAD', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execSync('git status --porcelain -- src migrations contracts', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .filter(Boolean)
      .map((line) => line.slice(3));
    return { commit, uncommittedFiles: dirty };
  } catch {
    return { commit: 'unknown' };
  }
}
