import { Redis } from 'ioredis';
import { ProoflineError } from '../../errors/proofline-error';

export interface RedisConnectionOptions {
  /** How long to wait for the TCP connection and handshake (ms). */
  readonly connectTimeoutMs?: number;
  /** How long a command may wait for its reply before it fails (ms); bounds a silent network partition. */
  readonly commandTimeoutMs?: number;
}

/**
 * Opens a client for the auth state stores that fails fast instead of queueing: during an outage
 * every command rejects at once (the caller answers 503) rather than waiting for a reconnect that
 * may never come, while the client keeps reconnecting in the background by itself.
 */
export async function openRedis(url: string, options: RedisConnectionOptions = {}): Promise<Redis> {
  const connectTimeoutMs = options.connectTimeoutMs ?? 2_000;
  let lastConnectionError: unknown;
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: connectTimeoutMs,
    commandTimeout: options.commandTimeoutMs ?? 2_000,
    enableOfflineQueue: false,
    // Fail commands caught in a dropped connection on the first close, and never resend them:
    // a replayed rotation whose first run did land would see its own new id as "reuse" and revoke the session.
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // Short, capped backoff so service resumes within a second or so of Redis coming back.
    retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
    // disconnect() ends the socket and destroys it only after this; the 2 s default kept a timer
    // (and so the process) alive long after a failed open or a close.
    disconnectTimeout: 200,
  });
  // Without a listener ioredis prints every reconnect failure; callers learn of failures through
  // their commands (as 503s), so only the cause of the last one is kept for the connect message.
  redis.on('error', (error: unknown) => {
    lastConnectionError = error;
  });
  const connecting = redis.connect();
  // ioredis's connectTimeout covers the TCP connect only; a server that accepts and then stays
  // silent would hold the handshake for seconds more, so the whole open gets one deadline.
  let deadline: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    deadline = setTimeout(() => reject(new Error(`no ready connection within ${connectTimeoutMs} ms`)), connectTimeoutMs);
  });
  try {
    await Promise.race([connecting, timedOut]);
  } catch (error) {
    connecting.catch(() => undefined);
    redis.disconnect();
    // connect() only says "Connection is closed."; the error event said why (e.g. ECONNREFUSED).
    throw unavailable('connect', lastConnectionError ?? error);
  } finally {
    clearTimeout(deadline);
  }
  return redis;
}

const closing = new WeakMap<Redis, Promise<void>>();

/**
 * Closes a client once: stores sharing it may each close it, and a later call waits for the first.
 * While Redis is down there is nothing to say goodbye to, so the client is just dropped.
 */
export function closeRedis(redis: Redis): Promise<void> {
  let closed = closing.get(redis);
  if (!closed) {
    closed = redis.quit().then(
      () => undefined,
      () => redis.disconnect(),
    );
    closing.set(redis, closed);
  }
  return closed;
}

/** Any failure talking to Redis, as the 503 the API answers with. */
export function unavailable(operation: string, error: unknown): ProoflineError {
  const { name, message } = describeFailure(error);
  // A reply error means Redis answered (out of memory, read-only replica...): say so rather than "unreachable".
  const what = name === 'ReplyError' ? 'Redis refused the command' : 'Redis is unreachable';
  const failure = new ProoflineError('DEPENDENCY.UNAVAILABLE', `${what} (${operation}): ${message}`, 503, { dependency: 'redis', operation });
  failure.cause = error;
  return failure;
}

/** Socket errors come from Node's own realm, where `instanceof Error` is false under jest, so look at the shape. */
function describeFailure(error: unknown): { name?: string; message: string } {
  if (typeof error === 'object' && error !== null && typeof (error as Error).message === 'string') {
    return { name: (error as Error).name, message: (error as Error).message };
  }
  return { message: String(error) };
}
