import { Controller, Get, Header, Inject } from '@nestjs/common';
import { PublicRoute } from '../auth/access-policy';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Infrastructure } from '../app/infrastructure';
import { INFRASTRUCTURE } from '../app/tokens';

@ApiTags('operations')
@PublicRoute()
@Controller('metrics')
export class MetricsController {
  constructor(@Inject(INFRASTRUCTURE) private readonly infrastructure: Infrastructure) {}

  @Get()
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiOperation({ summary: 'Prometheus metrics: append latency and throughput, commands, relay and projection lag, process' })
  async metrics(): Promise<string> {
    // Lag is measured when scraped, so the gauges are as fresh as the scrape; a failure to measure leaves the last values.
    if (this.infrastructure.fanout.started) await this.infrastructure.fanout.status().catch(() => undefined);
    return this.infrastructure.metrics.registry.metrics();
  }
}
