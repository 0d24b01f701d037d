import { Server } from '@grpc/grpc-js';
import { ServerFeaturesService } from '@eventstore/db-client/generated/serverfeatures_grpc_pb';
import { StreamsService } from '@eventstore/db-client/generated/streams_grpc_pb';
import { appendHandler } from './append-handler';
import { batchAppendHandler } from './batch-append-handler';
import type { EsdbLog } from './log';
import { readHandler } from './read-handler';
import { serverFeaturesHandler } from './server-features';
import type { ServerFeaturesSettings } from './server-features';
import { unimplementedBidi, unimplementedUnary } from './unimplemented';

/**
 * A gRPC server speaking EventStoreDB's Streams and ServerFeatures services over `log`.
 * Every other service (gossip, operations, persistent subscriptions, ...) is unknown to it,
 * so grpc-js answers UNIMPLEMENTED, as it does for Delete and Tombstone here.
 */
export function createEsdbGrpcServer(log: EsdbLog, settings: ServerFeaturesSettings): Server {
  const server = new Server();
  server.addService(StreamsService, {
    read: readHandler(log),
    append: appendHandler(log),
    // A server without BatchAppend is an older EventStoreDB (before 21.10), which had no such method at all.
    batchAppend: settings.supportsBatchAppend ? batchAppendHandler(log) : unimplementedBidi('BatchAppend'),
    delete: unimplementedUnary('Delete'),
    tombstone: unimplementedUnary('Tombstone'),
  });
  server.addService(ServerFeaturesService, { getSupportedMethods: serverFeaturesHandler(settings) });
  return server;
}
