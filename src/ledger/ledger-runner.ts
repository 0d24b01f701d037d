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

  private async round(): Promise<void> {
    try {
      await this.builder.catchUp();
      this.lastError = undefined;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (message !== this.lastError) this.logger.error(`receipt builder round failed: ${message}`);
      this.lastError = message;
    }
  }
}
