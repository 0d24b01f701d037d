/** A refresh-token family: one login session; each refresh rotates its current token id. */
export interface RefreshFamily {
  readonly familyId: string;
  readonly userId: string;
  readonly tenantId: string;
  readonly currentTokenId: string;
  /** Epoch ms; the family (and any tombstone) is forgotten after it. */
  readonly expiresAt: number;
}

export type RotateOutcome =
  /** The presented id was current: current := next. */
  | { readonly kind: 'rotated'; readonly family: RefreshFamily }
  /** The family was active but the presented id is an older one: the family is now revoked. */
  | { readonly kind: 'reused'; readonly family: RefreshFamily }
  /** The family was revoked before (logout or earlier reuse). */
  | { readonly kind: 'revoked' }
  /** No such family (never existed, expired, or lost). */
  | { readonly kind: 'unknown' };

export interface TokenFamilyStore {
  create(family: RefreshFamily): Promise<void>;
  /**
   * Atomic compare-and-set: of two concurrent rotations with the same presented id exactly one is
   * 'rotated', the other 'reused'. Any id other than the current one counts as reuse: refresh
   * tokens are signed, so a non-current id of this family can only be one we issued earlier.
   */
  rotate(familyId: string, presentedTokenId: string, nextTokenId: string, now?: number): Promise<RotateOutcome>;
  /** True while the family exists, is not revoked and has not expired. Checked on every request carrying an access token. */
  isActive(familyId: string, now?: number): Promise<boolean>;
  /** Revokes the family (kept as a tombstone until its expiry). Returns true if it was active. */
  revoke(familyId: string): Promise<boolean>;
  close(): Promise<void>;
}
