import type { IncomingMessage } from 'node:http';
import type { Params } from 'nestjs-pino';
import { newEventId } from '../../contracts';
import type { ProoflineConfig } from '../config/proofline-config';

const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The request's correlation id: the caller's X-Correlation-Id when well-formed, else a new
 * UUIDv7. Kept on the raw request so Fastify, the logs and the events all use the same one.
 */
export function correlationIdOf(request: IncomingMessage): string {
  const raw = request as IncomingMessage & { id?: string };
  if (raw.id) return raw.id;
  const given = request.headers['x-correlation-id'];
  const value = Array.isArray(given) ? given[0] : given;
  raw.id = value && CORRELATION_ID.test(value) ? value : newEventId();
  return raw.id;
}

/** Structured JSON logs; every line of a request carries its correlation id. */
export function loggerOptions(config: ProoflineConfig): Params {
  return {
    pinoHttp: {
      level: config.LOG_LEVEL,
      genReqId: correlationIdOf,
      customProps: (request: IncomingMessage) => ({ correlationId: (request as IncomingMessage & { id?: string }).id }),
      redact: ['req.headers.authorization', 'req.headers.cookie'],
      autoLogging: { ignore: (request: IncomingMessage) => request.url === '/health' || request.url === '/metrics' },
    },
  };
}
