import type { Knex } from 'knex';
import type { Database } from '../../src/database/database';
import { EsdbEventStore } from '../../src/eventstore/eventstoredb/esdb-event-store';
import { openEmbeddedTestDatabase } from './databases';

let shared: Promise<Database> | undefined;

/**
 * The database holding the EventStoreDB adapter's claim registry, one in-memory PGlite per test
 * file: every store a file opens shares it, as Proofline processes share their PostgreSQL.
 */
export async function claimsDatabase(): Promise<Knex> {
  shared ??= openEmbeddedTestDatabase();
  return (await shared).knex;
}

/** An EsdbEventStore on `connectionString`, its claims in the file's claims database. */
export async function esdbStore(connectionString: string): Promise<EsdbEventStore> {
  return EsdbEventStore.fromConnectionString(connectionString, await claimsDatabase());
}

afterAll(async () => {
  const opened = shared;
  shared = undefined;
  if (opened) await (await opened).close();
});
