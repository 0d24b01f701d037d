import { Module, type DynamicModule, type Type } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { CqrsModule } from '@nestjs/cqrs';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import { AccessGuard } from '../auth/access.guard';
import { AuthController } from '../auth/auth.controller';
import { ExecuteDomainCommandHandler } from '../commands/execute-domain-command';
import { LedgerController } from '../ledger/ledger.controller';
import { ProjectionsController } from '../fanout/projections.controller';
import { FinanceController } from '../approvals/finance.controller';
import { ValueDefinitionsController } from '../approvals/value-definitions.controller';
import { CLOCK, systemClock } from '../go-live/clock';
import { GoLiveController } from '../go-live/go-live.controller';
import { HealthController } from '../observability/health.controller';
import { loggerOptions } from '../observability/logging';
import { MetricsController } from '../observability/metrics.controller';
import { KeysController } from '../signing/keys.controller';
import { ApiKeysController } from '../workspaces/api-keys.controller';
import { MembersController } from '../workspaces/members.controller';
import { WorkspacesController } from '../workspaces/workspaces.controller';
import type { Infrastructure } from './infrastructure';
import { INFRASTRUCTURE } from './tokens';

/** Every controller of the HTTP API; the route table (and its access-matrix test) is read from these. */
export const CONTROLLERS: readonly Type[] = [
  AuthController,
  WorkspacesController,
  MembersController,
  ApiKeysController,
  ValueDefinitionsController,
  FinanceController,
  GoLiveController,
  LedgerController,
  ProjectionsController,
  KeysController,
  HealthController,
  MetricsController,
];

@Module({})
export class AppModule {
  /** The infrastructure is built before Nest, so the CLI and tests can share the same wiring. */
  static with(infrastructure: Infrastructure): DynamicModule {
    return {
      module: AppModule,
      imports: [CqrsModule.forRoot(), TerminusModule.forRoot({ errorLogStyle: 'json' }), LoggerModule.forRoot(loggerOptions(infrastructure.config))],
      controllers: [...CONTROLLERS],
      providers: [
        { provide: INFRASTRUCTURE, useValue: infrastructure },
        { provide: CLOCK, useFactory: systemClock },
        { provide: APP_GUARD, useClass: AccessGuard },
        ExecuteDomainCommandHandler,
      ],
    };
  }
}
