import type { RefreshFamily, RotateOutcome, TokenFamilyStore } from './token-family-store';

interface StoredFamily {
  family: RefreshFamily;
  revoked: boolean;
}

/** Families that nobody touches after expiry are only dropped by a sweep, so run one at most this often. */
const SWEEP_INTERVAL_MS = 60_000;

/** Refresh-token families for a single process (tests, one-node deployments). */
export class MemoryTokenFamilyStore implements TokenFamilyStore {
  private readonly families = new Map<string, StoredFamily>();
  private lastSweep = Number.NEGATIVE_INFINITY;

  async create(family: RefreshFamily): Promise<void> {
    this.sweepIfDue(Date.now());
    this.families.set(family.familyId, { family: { ...family }, revoked: false });
  }

  async rotate(familyId: string, presentedTokenId: string, nextTokenId: string, now = Date.now()): Promise<RotateOutcome> {
    const stored = this.live(familyId, now);
    if (!stored) return { kind: 'unknown' };
    if (stored.revoked) return { kind: 'revoked' };
    if (stored.family.currentTokenId !== presentedTokenId) {
      stored.revoked = true;
      return { kind: 'reused', family: stored.family };
    }
    stored.family = { ...stored.family, currentTokenId: nextTokenId };
    return { kind: 'rotated', family: stored.family };
  }

  async isActive(familyId: string, now = Date.now()): Promise<boolean> {
    const stored = this.live(familyId, now);
    return stored !== undefined && !stored.revoked;
  }

  async revoke(familyId: string): Promise<boolean> {
    const stored = this.live(familyId, Date.now());
    if (!stored || stored.revoked) return false;
    stored.revoked = true;
    return true;
  }

  async close(): Promise<void> {
    this.families.clear();
  }

  /** The family (revoked or not) unless it never existed or has expired; an expired one is forgotten. */
  private live(familyId: string, now: number): StoredFamily | undefined {
    const stored = this.families.get(familyId);
    if (stored && stored.family.expiresAt <= now) {
      this.families.delete(familyId);
      return undefined;
    }
    return stored;
  }

  private sweepIfDue(now: number): void {
    if (now - this.lastSweep < SWEEP_INTERVAL_MS) return;
    this.lastSweep = now;
    for (const [familyId, stored] of this.families) {
      if (stored.family.expiresAt <= now) this.families.delete(familyId);
    }
  }
}
