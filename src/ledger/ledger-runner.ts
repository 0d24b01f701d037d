import { Logger } from '@nestjs/common';
import type { ReceiptBuilder } from './receipt-builder';

/**
 * Keeps the receipt builder caught up in the background. A failed round (database down, an
 * event that does not verify) is logged and retried after the interval; nothing is skipped,
 * because the builder's position only moves with a committed batch.
 */
export class LedgerRunner {
  private readonly logger = new Logger('ledger');
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = true;
  lastError?: string;

  constructor(
    private readonly builder: ReceiptBuilder,
    private readonly intervalMs = 250,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.round().finally(() => this.schedule(this.intervalMs));
    }, delayMs);
  }

  private readonly alerted = new Set<string>();

  private async round(): Promise<void> {
    try {
      await this.builder.catchUp();
      this.lastError = undefined;
      for (const halt of this.builder.takeNewHalts()) this.logger.error(`${halt.code}: receipts of tenant ${halt.tenantId} stop at ${halt.position}: ${halt.message}`);
      for (const refusal of this.builder.forkRefusals()) {
        // Logged once per tenant and message; status and /metrics (proofline_ledger_fork_refused) keep saying it.
        const key = `${refusal.tenantId}:${refusal.message}`;
        if (!this.alerted.has(key)) this.logger.error(refusal.message);
        this.alerted.add(key);
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (message !== this.lastError) this.logger.error(`receipt builder round failed: ${message}`);
      this.lastError = message;
    }
  }
}
