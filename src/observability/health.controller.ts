import { Controller, Get, Inject, Res, ServiceUnavailableException } from '@nestjs/common';
import { PublicRoute } from '../auth/access-policy';
import type { FastifyReply } from 'fastify';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import type { Infrastructure } from '../app/infrastructure';
import { INFRASTRUCTURE } from '../app/tokens';
import type { DependencyCheck } from './readiness';

/** A 503 carries Retry-After (API conventions): dependencies reconnect by themselves within seconds. */
const RETRY_AFTER_SECONDS = 5;

@ApiTags('operations')
@PublicRoute()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @Inject(INFRASTRUCTURE) private readonly infrastructure: Infrastructure,
  ) {}

  @Get()
  @HealthCheck()
  @ApiOperation({ summary: 'Readiness of every configured dependency (event store, signing key; Redis, Kafka and EventStoreDB when configured); 503 when one is down' })
  async check(@Res({ passthrough: true }) reply: FastifyReply) {
    try {
      return await this.health.check(this.infrastructure.readiness.checks.map((dependency) => () => this.indicate(dependency)));
    } catch (error) {
      // Terminus reports a failed check as an exception; its body is the report monitors expect, so it is kept as is.
      if (!(error instanceof ServiceUnavailableException)) throw error;
      void reply.status(503).header('retry-after', String(RETRY_AFTER_SECONDS));
      return error.getResponse();
    }
  }

  private async indicate(dependency: DependencyCheck) {
    const indicator = this.indicators.check(dependency.name);
    const report = await dependency.run();
    return report.up ? indicator.up(report.details) : indicator.down(report.details);
  }
}
