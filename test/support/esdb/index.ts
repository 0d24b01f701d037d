import { ServerCredentials } from '@grpc/grpc-js';
import type { Server } from '@grpc/grpc-js';
import { TcpProxy } from '../tcp-proxy';
import { createEsdbGrpcServer } from './grpc-server';
import { EsdbLog } from './log';
import type { StoredEsdbEvent } from './model';
import { NodeState, type AppendRefusal } from './node-state';

export type { StoredEsdbEvent } from './model';
export type { AppendRefusal } from './node-state';

export interface EsdbTestServerOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Whether the server offers Streams.BatchAppend, which the client then uses for every append. Default true. */
  supportsBatchAppend?: boolean;
  /** Default '24.10.0'. */
  serverVersion?: string;
}

export interface EsdbTestServer {
  readonly port: number;
  readonly connectionString: string;
  /**
   * Stops serving (connections are cut, like a crashed node) but keeps the data and the port.
   * Like a restarted node, it forgets its in-memory cache of committed events, through which
   * `any` and `stream_exists` re-appends were recognised.
   */
  stop(): Promise<void>;
  /** Serves again on the same port with the same data. */
  start(): Promise<void>;
  close(): Promise<void>;
  /** For tests: every event in $all order, as stored. */
  allEvents(): readonly StoredEsdbEvent[];
  /**
   * From now on, refuse appends before writing (undefined: accept again), as a node that is not
   * ready, too busy or without a leader does; only to streams starting with `streamPrefix` if given.
   */
  refuseAppends(refusal: AppendRefusal | undefined, streamPrefix?: string): void;
  /** Sets the server's clock this many milliseconds ahead of the client's (negative: behind). */
  skewClock(ms: number): void;
  /** Requests served so far (reads and subscriptions; appends, through Append or BatchAppend). */
  requests(): { readonly reads: number; readonly appends: number };
}

const HOST = '127.0.0.1';

/**
 * An in-memory server that speaks EventStoreDB's gRPC protocol well enough for the official
 * client: appends (Append and BatchAppend) with EventStoreDB's expected-revision and
 * idempotency rules, reads of streams and $all, and catch-up subscriptions. Insecure only
 * (`tls=false`), one node, no deletes, no projections, no ACLs, no stream metadata rules.
 */
export async function startEsdbTestServer(options: EsdbTestServerOptions = {}): Promise<EsdbTestServer> {
  const log = new EsdbLog();
  const node = new NodeState();
  const grpcServer = createEsdbGrpcServer(log, node, {
    serverVersion: options.serverVersion ?? '24.10.0',
    supportsBatchAppend: options.supportsBatchAppend ?? true,
  });
  const grpcPort = await bind(grpcServer, 0);
  const front = new TcpProxy(HOST, grpcPort);
  front.port = options.port ?? 0;
  await front.start();
  return new EsdbTestServerNode(log, node, grpcServer, front);
}

/**
 * Clients connect through a TCP front door rather than to the gRPC server itself, so that
 * stop() can cut connections the way a crash does. Shutting the gRPC server down instead would
 * reset each HTTP/2 stream with CANCEL, which the client reports as CANCELLED; a dropped
 * connection is what it reports as UNAVAILABLE, and what a crashed node looks like.
 */
class EsdbTestServerNode implements EsdbTestServer {
  private closed = false;

  constructor(
    private readonly log: EsdbLog,
    private readonly node: NodeState,
    private readonly grpcServer: Server,
    private readonly front: TcpProxy,
  ) {}

  get port(): number {
    return this.front.port;
  }

  get connectionString(): string {
    return `esdb://${HOST}:${this.port}?tls=false`;
  }

  async start(): Promise<void> {
    if (this.closed) throw new Error('The EventStoreDB test server is closed; start a new one');
    await this.front.start();
  }

  async stop(): Promise<void> {
    await this.front.cut();
    this.log.restart();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.front.cut();
    this.grpcServer.forceShutdown();
  }

  allEvents(): readonly StoredEsdbEvent[] {
    return [...this.log.all()];
  }

  refuseAppends(refusal: AppendRefusal | undefined, streamPrefix?: string): void {
    this.node.refusal = refusal;
    this.node.refusedPrefix = streamPrefix;
  }

  skewClock(ms: number): void {
    this.node.clockSkewMs = ms;
  }

  requests(): { readonly reads: number; readonly appends: number } {
    return { ...this.node.requests };
  }
}

function bind(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(`${HOST}:${port}`, ServerCredentials.createInsecure(), (error, boundPort) =>
      error ? reject(error) : resolve(boundPort),
    );
  });
}
