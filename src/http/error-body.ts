import { HttpException, HttpStatus } from '@nestjs/common';
import { ProoflineError } from '../errors/proofline-error';

/** The one error body every 4xx and 5xx carries. */
export interface ErrorBody {
  readonly code: string;
  readonly message: string;
  readonly details: Record<string, unknown>;
}

interface FastifyLikeError {
  statusCode?: number;
  code?: string;
  message?: string;
}

const FASTIFY_CODES: Record<string, { code: string; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'REQUEST.BODY_TOO_LARGE', message: 'the request body is larger than the limit' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'REQUEST.UNSUPPORTED_MEDIA_TYPE', message: 'send the body as application/json' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'REQUEST.EMPTY_BODY', message: 'the body is empty but the content type is application/json' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'REQUEST.INVALID_CONTENT_LENGTH', message: 'the Content-Length does not match the body' },
};

/** Maps anything thrown while handling a request to a status and an ErrorBody. */
export function toErrorResponse(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof ProoflineError) return { status: error.status, body: { code: error.code, message: error.message, details: error.details } };
  if (error instanceof HttpException) return fromHttpException(error);
  const fastify = error as FastifyLikeError;
  if (fastify && typeof fastify.statusCode === 'number' && fastify.statusCode >= 400 && fastify.statusCode < 500) {
    const known = fastify.code ? FASTIFY_CODES[fastify.code] : undefined;
    if (known) return { status: fastify.statusCode, body: { ...known, details: {} } };
    if (error instanceof SyntaxError || /JSON/i.test(fastify.message ?? '')) {
      return { status: 400, body: { code: 'REQUEST.MALFORMED_JSON', message: `the body is not valid JSON: ${fastify.message}`, details: { field: 'body', rule: 'json' } } };
    }
    return { status: fastify.statusCode, body: { code: 'REQUEST.REJECTED', message: fastify.message ?? 'request rejected', details: {} } };
  }
  return { status: 500, body: { code: 'INTERNAL', message: 'an unexpected error occurred; it was logged with the correlation id', details: {} } };
}

function fromHttpException(error: HttpException): { status: number; body: ErrorBody } {
  const status = error.getStatus();
  const response = error.getResponse();
  if (typeof response === 'object' && response !== null && 'code' in response) {
    const { code, message, details } = response as ErrorBody;
    return { status, body: { code, message, details: details ?? {} } };
  }
  const message = String(typeof response === 'string' ? response : ((response as { message?: string }).message ?? error.message));
  return { status, body: byStatus(status, message) };
}

/** Errors raised by Fastify or Nest before our code ran (body parsing, routing) get stable codes too. */
function byStatus(status: number, message: string): ErrorBody {
  if (status === 400 && /JSON/i.test(message)) {
    return { code: 'REQUEST.MALFORMED_JSON', message: `the body is not valid JSON (${message})`, details: { fields: [{ field: 'body', rule: 'json', message }] } };
  }
  if (status === 413) return { code: 'REQUEST.BODY_TOO_LARGE', message: `the request body is larger than the limit (${message})`, details: { fields: [{ field: 'body', rule: 'max-size', message }] } };
  if (status === 415) return { code: 'REQUEST.UNSUPPORTED_MEDIA_TYPE', message: 'send the body as application/json', details: { fields: [{ field: 'content-type', rule: 'application/json', message }] } };
  if (status === 404) return { code: 'ROUTE.NOT_FOUND', message, details: {} };
  return { code: `HTTP.${HttpStatus[status] ?? status}`, message, details: {} };
}
