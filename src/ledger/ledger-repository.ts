import type { Knex } from 'knex';
import { formatPosition, START, type GlobalPosition } from '../eventstore/global-position';
import type { SignedCheckpoint } from './checkpoint';
import type { Receipt } from './receipt';

export const RECEIPT_BUILDER = 'receipts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface StoredReceipt extends Receipt {
  readonly leafHash: string;
}

interface ReceiptRow {
  tenant_id: string;
  sequence: string;
  event_id: string;
  position_commit: string;
  position_prepare: string;
  event_hash: string;
  prev_hash: string;
  receipt_hash: string;
  leaf_hash: string;
}

interface CheckpointRow {
  tenant_id: string;
  tree_size: string;
  origin: string;
  root_hash: string;
  issued_at: string;
  signature_alg: 'RS256' | 'EdDSA';
  signature_key: string;
  signature_value: string;
  event_id: string;
}

// The columns come back as text (bigints agree between pg and PGlite that way), under their own
// names: ORDER BY must name the table's column (ledger_receipts.sequence), or it sorts the text.
const RECEIPT_COLUMNS = `tenant_id, sequence::text AS sequence, event_id::text AS event_id, position_commit::text AS position_commit,
  position_prepare::text AS position_prepare, event_hash, prev_hash, receipt_hash, leaf_hash`;
const CHECKPOINT_COLUMNS = `tenant_id, tree_size::text AS tree_size, origin, root_hash, issued_at, signature_alg, signature_key, signature_value, event_id::text AS event_id`;

/** A tenant whose receipts stopped at a bad event (see migrations/0006_ledger_halts.ts). */
export interface TenantHalt {
  readonly tenantId: string;
  readonly code: string;
  readonly message: string;
  readonly eventId?: string;
  readonly position: string;
}

/** SQL for the ledger tables. `db` may be a transaction, so a batch of receipts and the progress land together. */
export class LedgerRepository {
  constructor(private readonly db: Knex | Knex.Transaction) {}

  within(trx: Knex.Transaction): LedgerRepository {
    return new LedgerRepository(trx);
  }

  async progress(): Promise<GlobalPosition> {
    const row = await this.db('ledger_progress').where({ builder: RECEIPT_BUILDER }).first<{ c: string; p: string } | undefined>(
      this.db.raw('position_commit::text AS c'),
      this.db.raw('position_prepare::text AS p'),
    );
    return row ? { commit: BigInt(row.c), prepare: BigInt(row.p) } : START;
  }

  /** Moves the builder's position from `from` to `to`; false when another builder moved it first. */
  async advance(from: GlobalPosition, to: GlobalPosition): Promise<boolean> {
    if (from.commit === START.commit && from.prepare === START.prepare) {
      const inserted = await this.db.raw(
        `INSERT INTO ledger_progress (builder, position_commit, position_prepare) VALUES (?, ?, ?) ON CONFLICT (builder) DO NOTHING RETURNING builder`,
        [RECEIPT_BUILDER, to.commit.toString(), to.prepare.toString()],
      );
      if (inserted.rows.length > 0) return true;
    }
    const updated = await this.db.raw(
      `UPDATE ledger_progress SET position_commit = ?, position_prepare = ?, updated_at = now()
       WHERE builder = ? AND position_commit = ? AND position_prepare = ? RETURNING builder`,
      [to.commit.toString(), to.prepare.toString(), RECEIPT_BUILDER, from.commit.toString(), from.prepare.toString()],
    );
    return updated.rows.length > 0;
  }

  async insertReceipts(receipts: readonly StoredReceipt[]): Promise<void> {
    if (receipts.length === 0) return;
    await this.db('ledger_receipts').insert(
      receipts.map((r) => {
        const [commit, prepare] = r.position.split('/');
        return {
          tenant_id: r.tenantId,
          sequence: r.sequence,
          event_id: r.eventId,
          position_commit: commit,
          position_prepare: prepare,
          event_hash: r.eventHash,
          prev_hash: r.prevHash,
          receipt_hash: r.receiptHash,
          leaf_hash: r.leafHash,
        };
      }),
    );
  }

  async insertCheckpoint(tenantId: string, checkpoint: SignedCheckpoint, eventId: string): Promise<void> {
    await this.db.raw(
      `INSERT INTO ledger_checkpoints (tenant_id, tree_size, origin, root_hash, issued_at, signature_alg, signature_key, signature_value, event_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, tree_size) DO NOTHING`,
      [tenantId, checkpoint.treeSize, checkpoint.origin, checkpoint.rootHash, checkpoint.issuedAt, checkpoint.signature.alg, checkpoint.signature.keyId, checkpoint.signature.value, eventId],
    );
  }

  async insertHalt(halt: TenantHalt): Promise<void> {
    const [commit, prepare] = halt.position.split('/');
    await this.db.raw(
      `INSERT INTO ledger_halts (tenant_id, code, message, event_id, position_commit, position_prepare) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id) DO NOTHING`,
      [halt.tenantId, halt.code, halt.message, halt.eventId ?? null, commit, prepare],
    );
  }

  /** Every halted tenant, or only `tenantId`'s halt. */
  async halts(tenantId?: string): Promise<TenantHalt[]> {
    const where = tenantId === undefined ? '' : 'WHERE tenant_id = ?';
    const rows = await this.db.raw(
      `SELECT tenant_id, code, message, event_id, position_commit::text AS c, position_prepare::text AS p FROM ledger_halts ${where} ORDER BY tenant_id`,
      tenantId === undefined ? [] : [tenantId],
    );
    return (rows.rows as Array<{ tenant_id: string; code: string; message: string; event_id: string | null; c: string; p: string }>).map((row) => ({
      tenantId: row.tenant_id,
      code: row.code,
      message: row.message,
      ...(row.event_id ? { eventId: row.event_id } : {}),
      position: `${row.c}/${row.p}`,
    }));
  }

  async halt(tenantId: string): Promise<TenantHalt | undefined> {
    const [halt] = await this.halts(tenantId);
    return halt;
  }

  /** The receipted position ("<commit>/<prepare>") of each of `eventIds` that already has a receipt. */
  async receiptPositions(eventIds: readonly string[]): Promise<Map<string, string>> {
    const ids = eventIds.filter((id) => UUID.test(id));
    if (ids.length === 0) return new Map();
    const rows = await this.db('ledger_receipts')
      .whereIn('event_id', ids)
      .select(this.db.raw('event_id::text AS event_id, position_commit::text AS c, position_prepare::text AS p'));
    return new Map((rows as Array<{ event_id: string; c: string; p: string }>).map((row) => [row.event_id, `${row.c}/${row.p}`]));
  }

  /** Receipts of a tenant with sequence in [from, to), in order. */
  async receipts(tenantId: string, from = 0, to = Number.MAX_SAFE_INTEGER): Promise<StoredReceipt[]> {
    const rows = await this.db.raw(`SELECT ${RECEIPT_COLUMNS} FROM ledger_receipts WHERE tenant_id = ? AND sequence >= ? AND sequence < ? ORDER BY ledger_receipts.sequence`, [tenantId, from, to]);
    return (rows.rows as ReceiptRow[]).map(toReceipt);
  }

  async receipt(tenantId: string, sequence: number): Promise<StoredReceipt | undefined> {
    const [receipt] = await this.receipts(tenantId, sequence, sequence + 1);
    return receipt;
  }

  async leafHashes(tenantId: string, treeSize: number): Promise<Buffer[]> {
    const rows = await this.db.raw(`SELECT leaf_hash FROM ledger_receipts WHERE tenant_id = ? AND sequence < ? ORDER BY sequence`, [tenantId, treeSize]);
    return (rows.rows as Array<{ leaf_hash: string }>).map((row) => Buffer.from(row.leaf_hash, 'hex'));
  }

  async size(tenantId: string): Promise<number> {
    const rows = await this.db.raw(`SELECT coalesce(max(sequence) + 1, 0)::text AS size FROM ledger_receipts WHERE tenant_id = ?`, [tenantId]);
    return Number(rows.rows[0].size);
  }

  async latestCheckpoint(tenantId: string): Promise<(SignedCheckpoint & { eventId: string }) | undefined> {
    const rows = await this.db.raw(`SELECT ${CHECKPOINT_COLUMNS} FROM ledger_checkpoints WHERE tenant_id = ? ORDER BY ledger_checkpoints.tree_size DESC LIMIT 1`, [tenantId]);
    return rows.rows.length === 0 ? undefined : toCheckpoint(rows.rows[0]);
  }

  async checkpoints(tenantId: string): Promise<Array<SignedCheckpoint & { eventId: string }>> {
    const rows = await this.db.raw(`SELECT ${CHECKPOINT_COLUMNS} FROM ledger_checkpoints WHERE tenant_id = ? ORDER BY ledger_checkpoints.tree_size`, [tenantId]);
    return (rows.rows as CheckpointRow[]).map(toCheckpoint);
  }
}

function toReceipt(row: ReceiptRow): StoredReceipt {
  return {
    v: 1,
    tenantId: row.tenant_id,
    sequence: Number(row.sequence),
    eventId: row.event_id,
    position: formatPosition({ commit: BigInt(row.position_commit), prepare: BigInt(row.position_prepare) }),
    eventHash: row.event_hash,
    prevHash: row.prev_hash,
    receiptHash: row.receipt_hash,
    leafHash: row.leaf_hash,
  };
}

function toCheckpoint(row: CheckpointRow): SignedCheckpoint & { eventId: string } {
  return {
    origin: row.origin,
    treeSize: Number(row.tree_size),
    rootHash: row.root_hash,
    issuedAt: row.issued_at,
    signature: { alg: row.signature_alg, keyId: row.signature_key, value: row.signature_value },
    eventId: row.event_id,
  };
}
