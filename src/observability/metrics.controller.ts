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
  @ApiOperation({ summary: 'Prometheus metrics: append latency and throughput, commands, relay and projection lag, the read horizon age, halted ledger tenants and refused forks, process' })
  async metrics(): Promise<string> {
    // Lag is measured when scraped, so the gauges are as fresh as the scrape; a failure to measure leaves the last values.
    if (this.infrastructure.fanout.started) await this.infrastructure.fanout.status().catch(() => undefined);
    // The read horizon stalls readers whether or not this instance runs any: always measured (events in PostgreSQL only).
    else await this.infrastructure.fanout.horizon().catch(() => undefined);
    await this.measureLedger().catch(() => undefined);
    return this.infrastructure.metrics.registry.metrics();
  }

  /** Halted tenants (from ledger_halts) and refused forks (the builder's memory), as alert gauges. */
  private async measureLedger(): Promise<void> {
    const { ledger, metrics } = this.infrastructure;
    const refusals = ledger.builder.forkRefusals();
    metrics.ledgerForkRefused.reset();
    for (const refusal of refusals) metrics.ledgerForkRefused.set({ tenant: refusal.tenantId }, 1);
    const halts = await ledger.repository.halts();
    metrics.ledgerTenantHalted.reset();
    for (const halt of halts) metrics.ledgerTenantHalted.set({ tenant: halt.tenantId, code: halt.code }, 1);
  }
}
