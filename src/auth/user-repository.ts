import type { Knex } from 'knex';

export interface UserAccount {
  readonly id: string;
  readonly email: string;
  readonly passwordHash: string;
  readonly homeTenantId: string;
  readonly status: 'pending' | 'active';
  readonly passwordChangedAt: Date;
  /** Since when the account belongs to a workspace other than its home (null: only its home). */
  readonly sharedSince: Date | null;
}

interface UserRow {
  id: string;
  email: string;
  password_hash: string;
  home_tenant_id: string;
  status: 'pending' | 'active';
  created_at: Date | string;
  password_changed_at: Date | string;
  shared_since: Date | string | null;
}

/** One address, one account: addresses are compared trimmed and lower-cased. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Accounts and one-time password-reset tokens (migrations/0004_identity.ts). */
export class UserRepository {
  constructor(private readonly knex: Knex) {}

  async findByEmail(email: string): Promise<UserAccount | undefined> {
    const row = await this.knex<UserRow>('identity_users').where({ email: normalizeEmail(email) }).first();
    return row && toAccount(row);
  }

  async findById(id: string): Promise<UserAccount | undefined> {
    const row = await this.knex<UserRow>('identity_users').where({ id }).first();
    return row && toAccount(row);
  }

  /** Inserts a pending account; false when the address already has one. */
  async insertPending(account: Omit<UserAccount, 'status' | 'passwordChangedAt' | 'sharedSince'>, now: Date): Promise<boolean> {
    const inserted = await this.knex('identity_users')
      .insert({ id: account.id, email: normalizeEmail(account.email), password_hash: account.passwordHash, home_tenant_id: account.homeTenantId, status: 'pending', created_at: now, password_changed_at: now })
      .onConflict('email')
      .ignore()
      .returning('id');
    return inserted.length === 1;
  }

  async deletePending(id: string): Promise<void> {
    await this.knex('identity_users').where({ id, status: 'pending' }).delete();
  }

  /** Recorded before the membership outside the home is, so a crash in between errs on the safe side. */
  async markShared(id: string, now: Date): Promise<void> {
    await this.knex('identity_users').where({ id }).whereNull('shared_since').update({ shared_since: now });
  }

  async activate(id: string): Promise<void> {
    await this.knex('identity_users').where({ id }).update({ status: 'active' });
  }

  /** A new password ends every reset token still outstanding for the account: none may overwrite it later. */
  async changePassword(id: string, passwordHash: string, now: Date): Promise<void> {
    await this.knex.transaction(async (trx) => {
      // The update locks the row: a concurrent issue waits, then voids, and its token is the only one left.
      await trx('identity_users').where({ id }).update({ password_hash: passwordHash, password_changed_at: now });
      await voidOutstandingResets(trx, id, now);
    });
  }

  /**
   * Only the newest reset token of an account is valid: issuing one ends the ones before it. The
   * account's row is locked first, so two concurrent issues cannot both leave a token valid.
   */
  async savePasswordReset(reset: { tokenSha256: string; userId: string; tenantId: string; expiresAt: Date }, now: Date): Promise<void> {
    await this.knex.transaction(async (trx) => {
      await trx('identity_users').where({ id: reset.userId }).forUpdate().first();
      await voidOutstandingResets(trx, reset.userId, now);
      await trx('identity_password_resets').insert({ token_sha256: reset.tokenSha256, user_id: reset.userId, tenant_id: reset.tenantId, expires_at: reset.expiresAt, created_at: now });
    });
  }

  async findPasswordReset(tokenSha256: string, now: Date): Promise<{ userId: string; tenantId: string } | undefined> {
    const row: { user_id: string; tenant_id: string } | undefined = await this.knex('identity_password_resets').where({ token_sha256: tokenSha256 }).whereNull('used_at').where('expires_at', '>', now).first();
    return row && { userId: row.user_id, tenantId: row.tenant_id };
  }

  /** Marks an unused, unexpired reset token used — once, even under concurrent redemptions — and names its user. */
  async redeemPasswordReset(tokenSha256: string, now: Date): Promise<{ userId: string; tenantId: string } | undefined> {
    const rows: Array<{ user_id: string; tenant_id: string }> = await this.knex('identity_password_resets')
      .where({ token_sha256: tokenSha256 })
      .whereNull('used_at')
      .where('expires_at', '>', now)
      .update({ used_at: now })
      .returning(['user_id', 'tenant_id']);
    return rows[0] && { userId: rows[0].user_id, tenantId: rows[0].tenant_id };
  }

  async recordApiKeyUse(tenantId: string, keyId: string, now: Date): Promise<void> {
    await this.knex('identity_api_key_usage').insert({ tenant_id: tenantId, key_id: keyId, last_used_at: now }).onConflict(['tenant_id', 'key_id']).merge();
  }

  async apiKeyLastUse(tenantId: string): Promise<Map<string, Date>> {
    const rows: Array<{ key_id: string; last_used_at: Date | string }> = await this.knex('identity_api_key_usage').where({ tenant_id: tenantId });
    return new Map(rows.map((row) => [row.key_id, new Date(row.last_used_at)]));
  }
}

function voidOutstandingResets(knex: Knex, userId: string, now: Date) {
  return knex('identity_password_resets').where({ user_id: userId }).whereNull('used_at').update({ used_at: now });
}

function toAccount(row: UserRow): UserAccount {
  return { id: row.id, email: row.email, passwordHash: row.password_hash, homeTenantId: row.home_tenant_id, status: row.status, passwordChangedAt: new Date(row.password_changed_at), sharedSince: row.shared_since === null || row.shared_since === undefined ? null : new Date(row.shared_since) };
}
