import { Server, type ServerWritableStream } from '@grpc/grpc-js';
import type { ReadReq, ReadResp } from '@eventstore/db-client/generated/streams_pb';
import { ServerFeaturesService } from '@eventstore/db-client/generated/serverfeatures_grpc_pb';
import { StreamsService } from '@eventstore/db-client/generated/streams_grpc_pb';
import { appendHandler } from './append-handler';
import { batchAppendHandler } from './batch-append-handler';
import { deleteHandler, tombstoneHandler } from './delete-handler';
import type { EsdbLog } from './log';
import type { NodeState } from './node-state';
import { readHandler } from './read-handler';
import { serverFeaturesHandler } from './server-features';
import type { ServerFeaturesSettings } from './server-features';
import { unimplementedBidi } from './unimplemented';

/**
 * A gRPC server speaking EventStoreDB's Streams and ServerFeatures services over `log`.
 * Every other service (gossip, operations, persistent subscriptions, ...) is unknown to it,
 * so grpc-js answers UNIMPLEMENTED.
 */
export function createEsdbGrpcServer(log: EsdbLog, node: NodeState, settings: ServerFeaturesSettings): Server {
  const server = new Server();
  server.addService(StreamsService, {
    read: (call: ServerWritableStream<ReadReq, ReadResp>) => {
      node.requests.reads++;
      readHandler(log)(call);
    },
    append: appendHandler(log, node),
    // A server without BatchAppend is an older EventStoreDB (before 21.10), which had no such method at all.
    batchAppend: settings.supportsBatchAppend ? batchAppendHandler(log, node) : unimplementedBidi('BatchAppend'),
    delete: deleteHandler(log),
    tombstone: tombstoneHandler(log),
  });
  server.addService(ServerFeaturesService, { getSupportedMethods: serverFeaturesHandler(settings) });
  return server;
}
