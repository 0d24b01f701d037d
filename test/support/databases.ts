import { randomBytes } from 'node:crypto';
import knex from 'knex';
import { IN_MEMORY, openDatabase, type Database } from '../../src/database/database';
import { serviceUrl } from './services';

/** A fresh in-memory PGlite with the migrations applied. */
export function openEmbeddedTestDatabase(): Promise<Database> {
  return openDatabase({ dataDir: IN_MEMORY });
}

/**
 * A fresh schema on the PostgreSQL server, dropped by `close()`, so concurrent runs never see
 * each other's rows.
 */
export async function openServerTestDatabase(poolSize = 10): Promise<Database & { schema: string }> {
  const schema = `proofline_test_${randomBytes(6).toString('hex')}`;
  const database = await openDatabase({ url: serviceUrl('postgres'), dataDir: IN_MEMORY, schema, poolSize });
  return {
    ...database,
    schema,
    close: async () => {
      await database.close();
      const admin = knex({ client: 'pg', connection: serviceUrl('postgres') });
      try {
        await admin.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
      } finally {
        await admin.destroy();
      }
    },
  };
}
