import { PostgresEventStore } from '../../src/eventstore/postgres/postgres-event-store';
import { openEmbeddedTestDatabase } from '../support/databases';
import { eventStoreConformance } from './event-store.conformance';
import { assertEmbeddedDatabaseCanStart } from './helpers';

eventStoreConformance('PostgresEventStore on embedded PGlite', async () => {
  assertEmbeddedDatabaseCanStart();
  const db = await openEmbeddedTestDatabase();
  const store = new PostgresEventStore(db.knex);
  return {
    store,
    close: async () => {
      await store.close();
      await db.close();
    },
  };
});
