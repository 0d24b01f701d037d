import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Witness } from './witness';

/** Request bodies above this are refused (a checkpoint with 100 signatures and 63 proof lines is far smaller). */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * The witness's HTTP interface (C2SP tlog-witness): `POST /add-checkpoint`, and for monitors
 * `GET /<hex SHA-256 of the origin>/checkpoint` (the last checkpoint it cosigned, with its
 * cosignature). Plain node:http: the witness is a separate small process, not the Proofline API.
 */
export function witnessServer(witness: Witness): Server {
  return createServer((request, response) => {
    handle(witness, request, response).catch((error: unknown) => {
      if (!response.headersSent) reply(response, 500, `the witness failed: ${error instanceof Error ? error.message : String(error)}`);
      else response.destroy();
    });
  });
}

export async function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server.address() as AddressInfo;
}

async function handle(witness: Witness, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const path = (request.url ?? '/').split('?')[0];
  if (path === '/add-checkpoint') {
    if (request.method !== 'POST') return reply(response, 405, 'add-checkpoint is a POST', 'text/plain; charset=utf-8', { Allow: 'POST' });
    const body = await readBody(request);
    if (body === undefined) return reply(response, 413, `the body is larger than ${MAX_BODY_BYTES} bytes`);
    const answer = await witness.addCheckpoint(body);
    return reply(response, answer.status, answer.body, answer.contentType);
  }
  const monitor = /^\/([0-9a-f]{64})\/checkpoint$/.exec(path);
  if (monitor && (request.method === 'GET' || request.method === 'HEAD')) {
    const head = witness.cosignedByOriginHash(monitor[1]);
    return head ? reply(response, 200, head.note) : reply(response, 404, 'this witness never cosigned a checkpoint of that log');
  }
  return reply(response, 404, 'not found: POST /add-checkpoint, GET /<origin hash>/checkpoint');
}

function reply(response: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8', headers: Record<string, string> = {}): void {
  const bytes = Buffer.from(body.endsWith('\n') ? body : `${body}\n`, 'utf8');
  response.writeHead(status, { 'Content-Type': contentType, 'Content-Length': bytes.length, ...headers });
  response.end(bytes);
}

async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
