import { Module, type DynamicModule } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import { ExecuteDomainCommandHandler } from '../commands/execute-domain-command';
import { HealthController } from '../observability/health.controller';
import { loggerOptions } from '../observability/logging';
import { MetricsController } from '../observability/metrics.controller';
import { KeysController } from '../signing/keys.controller';
import { LedgerController } from '../ledger/ledger.controller';
import { WorkspacesController } from '../workspaces/workspaces.controller';
import type { Infrastructure } from './infrastructure';
import { INFRASTRUCTURE } from './tokens';

@Module({})
export class AppModule {
  /** The infrastructure is built before Nest, so the CLI and tests can share the same wiring. */
  static with(infrastructure: Infrastructure): DynamicModule {
    return {
      module: AppModule,
      imports: [CqrsModule.forRoot(), TerminusModule.forRoot({ errorLogStyle: 'json' }), LoggerModule.forRoot(loggerOptions(infrastructure.config))],
      controllers: [WorkspacesController, LedgerController, KeysController, HealthController, MetricsController],
      providers: [{ provide: INFRASTRUCTURE, useValue: infrastructure }, ExecuteDomainCommandHandler],
    };
  }
}
