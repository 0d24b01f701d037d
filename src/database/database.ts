import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import knex, { type Knex } from 'knex';
import ClientPGLite from 'knex-pglite';
import { types } from 'pg';
import { migrationSource } from '../../migrations';
import { lockEmbeddedDirectory } from './embedded-lock';

export const IN_MEMORY = 'memory://';

export type DatabaseKind = 'pglite' | 'postgres';

export interface Database {
  readonly kind: DatabaseKind;
  readonly knex: Knex;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** A postgres:// URL; when absent, an embedded PGlite under `dataDir`. */
  readonly url?: string;
  /** `memory://` keeps an embedded database in memory (tests). */
  readonly dataDir: string;
  /** A schema to create and use (tests use one each, so runs never see each other's rows). */
  readonly schema?: string;
  readonly poolSize?: number;
}

// bigint columns arrive as strings from pg by default; Proofline parses them where it needs numbers.
types.setTypeParser(types.builtins.INT8, (value: string) => value);

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const db = options.url ? openServer(options.url, options) : openEmbedded(options.dataDir);
  try {
    if (options.schema) {
      await db.knex.raw('CREATE SCHEMA IF NOT EXISTS ??', [options.schema]);
    }
    // PGlite zero-fills each new 16 MB WAL segment inside the statement that starts it, on the
    // event loop: ~100 ms stalls every few thousand events. One session, so the setting holds.
    if (db.kind === 'pglite') await db.knex.raw('SET wal_init_zero = off');
    await db.knex.migrate.latest({ migrationSource, schemaName: options.schema });
  } catch (error) {
    await db.close().catch(() => undefined); // releases the embedded lock, so this process may open it again
    throw error;
  }
  return db;
}

function openServer(url: string, options: DatabaseOptions): Database {
  const connection = knex({
    client: 'pg',
    connection: { connectionString: url, application_name: 'proofline' },
    searchPath: options.schema ? [options.schema] : undefined,
    pool: { min: 0, max: options.poolSize ?? 10 },
    acquireConnectionTimeout: 10_000,
    // A failed acquire reaches its caller, who reports it (start-up names DATABASE_URL, requests answer 503,
    // /health says down); knex's own copy of it, with a stack trace on stdout, is noise.
    log: {
      warn(message: string) {
        if (!message.startsWith('Acquire connection error')) process.stderr.write(`knex: ${message}\n`);
      },
    },
  });
  return { kind: 'postgres', knex: connection, close: () => connection.destroy() };
}

function openEmbedded(dataDir: string): Database {
  const filename = dataDir === IN_MEMORY ? IN_MEMORY : resolve(join(dataDir, 'pglite'));
  if (filename === IN_MEMORY) {
    const connection = knex({ client: ClientPGLite, connection: { filename } } as Knex.Config);
    return { kind: 'pglite', knex: connection, close: () => connection.destroy() };
  }
  mkdirSync(filename, { recursive: true });
  const unlock = lockEmbeddedDirectory(`${filename}.lock`);
  const connection = knex({ client: ClientPGLite, connection: { filename } } as Knex.Config);
  return {
    kind: 'pglite',
    knex: connection,
    close: async () => {
      await connection.destroy();
      unlock();
    },
  };
}
