import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { ProoflineExceptionFilter } from '../http/exception.filter';
import { refuseOversizedJson } from '../http/json-limits';
import { createValidationPipe } from '../http/validation';
import { correlationIdOf } from '../observability/logging';
import { trustProxyOf } from '../config/proofline-config';
import { recordRoutes } from '../http/registered-routes';
import { routesWithoutPolicy } from '../http/route-table';
import { AppModule, CONTROLLERS } from './app.module';
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
    trustProxy: trustProxyOf(infrastructure.config.PROOFLINE_TRUST_PROXY),
  });
  const undeclared = routesWithoutPolicy(CONTROLLERS);
  if (undeclared.length > 0) {
    throw new Error(`every route must declare who may call it (@Allow or @PublicRoute); these do not: ${undeclared.map((route) => `${route.method} ${route.path}`).join(', ')}`);
  }
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.with(infrastructure), adapter, {
    bufferLogs: true,
    logger: options.quiet ? false : undefined,
  });
  recordRoutes(app);
  if (!options.quiet) app.useLogger(app.get(Logger));
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new ProoflineExceptionFilter());
  app.enableShutdownHooks();
  SwaggerModule.setup('docs', app, SwaggerModule.createDocument(app, openApiDocument()), { jsonDocumentUrl: 'docs/openapi.json' });
  // Commands take JSON only: any other body is a 415 naming the content type, not a string the validator trips on.
  const fastify = app.getHttpAdapter().getInstance();
  fastify.removeContentTypeParser('text/plain');
  refuseOversizedJson(fastify);
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
    .setDescription('Every business decision that touches money or trust, as a signed event. Errors are {code, message, details}. Sign in at POST /auth/login and send Authorization: Bearer <accessToken>.')
    .setVersion('0.1.0')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'an access token from POST /auth/login, or an API key (plk.…)' })
    .build();
}
