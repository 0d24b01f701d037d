import { Catch, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ProoflineError } from '../errors/proofline-error';
import { toErrorResponse } from './error-body';

/** One place maps every error to `{code, message, details}`; only 5xx are logged as errors. */
@Catch()
export class ProoflineExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('http');

  catch(error: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const { status, body } = toErrorResponse(error);
    if (status >= 500) this.logger.error({ err: error, code: body.code }, body.message);
    if (error instanceof ProoflineError) void reply.headers(error.headers);
    void reply.status(status).header('content-type', 'application/json; charset=utf-8').send(body);
  }
}
