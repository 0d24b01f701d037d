import { esdbStore } from '../support/esdb-store';
import { startEsdbTestServer, type EsdbTestServerOptions } from '../support/esdb';
import { eventStoreConformance, type OpenedEventStore } from './event-store.conformance';

/**
 * The EventStoreDB adapter through Proofline's protocol-level test server: the real client,
 * a real gRPC connection, an in-memory server that follows EventStoreDB's rules
 * (test/support/esdb). Not a real EventStoreDB: see eventstoredb-server.conformance.spec.ts.
 * Each suite gets a fresh test server of its own.
 */
async function throughTestServer(options: EsdbTestServerOptions = {}): Promise<OpenedEventStore> {
  const server = await startEsdbTestServer(options);
  const store = await esdbStore(server.connectionString);
  return {
    store,
    close: async () => {
      await store.close();
      await server.close();
    },
  };
}

eventStoreConformance('EsdbEventStore through the EventStoreDB protocol test server (batch appends)', () => throughTestServer());

// EventStoreDB before 21.10 has no BatchAppend: the client then uses the plain Append call.
eventStoreConformance('EsdbEventStore through the EventStoreDB protocol test server (a server without batch appends)', () =>
  throughTestServer({ supportsBatchAppend: false, serverVersion: '21.6.0' }),
);
