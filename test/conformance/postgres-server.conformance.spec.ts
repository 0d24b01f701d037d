import { PostgresEventStore } from '../../src/eventstore/postgres/postgres-event-store';
import { openServerTestDatabase } from '../support/databases';
import { describeWithService } from '../support/services';
import { eventStoreConformance } from './event-store.conformance';

describeWithService('postgres', 'PostgreSQL server', () => {
  eventStoreConformance('PostgresEventStore on a PostgreSQL server', async () => {
    const db = await openServerTestDatabase();
    const store = new PostgresEventStore(db.knex);
    return {
      store,
      close: async () => {
        await store.close();
        await db.close();
      },
    };
  });
});
