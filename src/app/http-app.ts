import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { ProoflineExceptionFilter } from '../http/exception.filter';
import { createValidationPipe } from '../http/validation';
import { correlationIdOf } from '../observability/logging';
import { AppModule } from './app.module';
import type { Infrastructure } from './infrastructure';

export interface HttpAppOptions {
  /** Nest's own logger off (tests); request logs still follow LOG_LEVEL. */
  readonly quiet?: boolean;
}

/** The HTTP application on Fastify, initialised but not listening (tests use `inject` or supertest). */
export async function createHttpApp(infrastructure: Infrastructure, options: HttpAppOptions = {}): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: infrastructure.config.PROOFLINE_BODY_LIMIT_BYTES,
    genReqId: correlationIdOf,
    logger: false,
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.with(infrastructure), adapter, {
    bufferLogs: true,
    logger: options.quiet ? false : undefined,
  });
  if (!options.quiet) app.useLogger(app.get(Logger));
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new ProoflineExceptionFilter());
  app.enableShutdownHooks();
  SwaggerModule.setup('docs', app, SwaggerModule.createDocument(app, openApiDocument()), { jsonDocumentUrl: 'docs/openapi.json' });
  // Commands take JSON only: any other body is a 415 naming the content type, not a string the validator trips on.
  const fastify = app.getHttpAdapter().getInstance();
  fastify.removeContentTypeParser('text/plain');
  fastify.addHook('onRequest', async (request, reply) => {
    void reply.header('x-correlation-id', request.id);
  });
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}

function openApiDocument() {
  return new DocumentBuilder()
    .setTitle('Proofline')
    .setDescription('Every business decision that touches money or trust, as a signed event. Errors are {code, message, details}.')
    .setVersion('0.1.0')
    .build();
}
