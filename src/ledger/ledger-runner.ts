import { Logger } from '@nestjs/common';
import { ProoflineError } from '../errors/proofline-error';
import type { AdvisoryLease } from '../fanout/lease';
import type { BuildOutcome, ReceiptBuilder } from './receipt-builder';

const builderActive = (lease: string) =>
  new ProoflineError('LEDGER.BUILDER_ACTIVE', `LEDGER.BUILDER_ACTIVE: another receipt builder holds the ${lease} lease (an instance with PROOFLINE_LEDGER_BUILDER=on builds continuously); nothing was built`, 409, { lease });

export interface LedgerRunnerOptions {
  /**
   * "Exactly one active builder": only the holder writes receipts and issues checkpoints; the
   * others stand by and take over when its session ends. Without it (the embedded database, one
   * process) this runner always builds.
   */
  readonly lease?: AdvisoryLease;
}

/** What /projections/status shows of this process's receipt builder. */
export interface LedgerBuilderStatus {
  /** The runner runs in this process (PROOFLINE_LEDGER_BUILDER=on and the server started it). */
  readonly running: boolean;
  /** This process holds the builder lease (or needs none); false: it stands by. */
  readonly active: boolean;
  /** The backend pid of the lease's session while held. */
  readonly leaseSessionPid: number | null;
  readonly lastError: string | null;
}

/**
 * Keeps the receipt builder caught up in the background. A failed round (database down, an
 * event that does not verify, the lease lost) is logged and retried after the interval; nothing
 * is skipped, because the builder's position only moves with a committed batch.
 *
 * With a lease, each round first makes sure this process holds it (a standby tries to take it),
 * and the builder checks it before each batch of receipts and each checkpoint it signs. A builder
 * that takes the lease over forgets what it cached, so it never signs a tree from before the
 * previous holder's writes.
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
    private readonly options: LedgerRunnerOptions = {},
  ) {}

  /** True while this process may build: it holds the lease, or runs without one. */
  get active(): boolean {
    return !this.stopped && (this.options.lease?.held ?? true);
  }

  status(): LedgerBuilderStatus {
    return { running: !this.stopped, active: this.active, leaseSessionPid: this.options.lease?.sessionPid ?? null, lastError: this.lastError ?? null };
  }

  /**
   * One round by hand (`proofline ledger build`), under the same lease: refused with
   * LEDGER.BUILDER_ACTIVE while another builder holds it.
   */
  async buildOnce(): Promise<BuildOutcome> {
    const lease = this.options.lease;
    if (lease && !lease.held) {
      if (!(await lease.tryAcquire())) {
        await lease.release(); // the standby's session is not kept: this is one round
        throw builderActive(lease.name);
      }
      this.builder.reload();
    }
    try {
      return await this.builder.catchUp(lease ? () => lease.check() : undefined);
    } finally {
      if (this.stopped) await lease?.release();
    }
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    await this.options.lease?.release();
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.round().finally(() => this.schedule(this.intervalMs));
    }, delayMs);
  }

  private readonly alerted = new Set<string>();

  private async round(): Promise<void> {
    const lease = this.options.lease;
    try {
      if (lease && !lease.held) {
        if (!(await lease.tryAcquire())) {
          // Standing by is no failure (the ledger status would read "stalled"); a session the lease cannot trust is.
          const refused = lease.sharedSession;
          if (refused && refused !== this.lastError) this.logger.error(`receipt builder: ${refused}`);
          this.lastError = refused;
          return; // another builder holds it (or the database did not answer): try again next round
        }
        this.builder.reload();
        this.logger.log(`this process now builds receipts (lease ${lease.name}, session ${lease.sessionPid})`);
      }
      await this.builder.catchUp(lease ? () => lease.check() : undefined);
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
