import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Params } from 'nestjs-pino';
import { newEventId } from '../../contracts';
import type { ProoflineConfig } from '../config/proofline-config';

const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request's correlation id: the caller's X-Correlation-Id when well-formed, else a new UUIDv7. */
export function correlationIdOf(request: IncomingMessage): string {
  const given = request.headers['x-correlation-id'];
  const value = Array.isArray(given) ? given[0] : given;
  return value && CORRELATION_ID.test(value) ? value : newEventId();
}

/** Structured JSON logs; every line of a request carries its correlation id. */
export function loggerOptions(config: ProoflineConfig): Params {
  return {
    pinoHttp: {
      level: config.LOG_LEVEL,
      genReqId: (request: IncomingMessage, response: ServerResponse) => {
        const id = (request as IncomingMessage & { id?: string }).id ?? correlationIdOf(request);
        response.setHeader('x-correlation-id', id);
        return id;
      },
      customProps: (request: IncomingMessage) => ({ correlationId: (request as IncomingMessage & { id?: string }).id }),
      redact: ['req.headers.authorization', 'req.headers.cookie'],
      autoLogging: { ignore: (request: IncomingMessage) => request.url === '/health' || request.url === '/metrics' },
    },
  };
}
