import { EsdbEventStore } from '../../src/eventstore/eventstoredb/esdb-event-store';
import { startEsdbTestServer } from '../support/esdb';
import { eventStoreConformance } from './event-store.conformance';

/**
 * The EventStoreDB adapter through Proofline's protocol-level test server: the real client,
 * a real gRPC connection, an in-memory server that follows EventStoreDB's rules
 * (test/support/esdb). Not a real EventStoreDB: see eventstoredb-server.conformance.spec.ts.
 */
eventStoreConformance('EsdbEventStore through the EventStoreDB protocol test server (batch appends)', async () => {
  const server = await startEsdbTestServer();
  const store = EsdbEventStore.fromConnectionString(server.connectionString);
  return {
    store,
    close: async () => {
      await store.close();
      await server.close();
    },
  };
});

eventStoreConformance('EsdbEventStore through the EventStoreDB protocol test server (a server without batch appends)', async () => {
  const server = await startEsdbTestServer({ supportsBatchAppend: false, serverVersion: '21.6.0' });
  const store = EsdbEventStore.fromConnectionString(server.connectionString);
  return {
    store,
    close: async () => {
      await store.close();
      await server.close();
    },
  };
});
