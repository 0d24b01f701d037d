import type { Knex } from 'knex';
import type { StoreIdentity } from '../eventstore/event-store.port';
import { formatPosition, START, type GlobalPosition } from '../eventstore/global-position';
import { checkCheckpointStore } from '../eventstore/store-identity';
import type { CHECKPOINT_SIGNATURE_PURPOSE, SignedCheckpoint } from './checkpoint';
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
  signature_purpose: string | null;
  event_id: string;
  note_signature: string | null;
}

/** A checkpoint row: the signed head, the event it was recorded from, and the log's note signature line (if any). */
export type StoredCheckpoint = SignedCheckpoint & { readonly eventId: string; readonly noteSignature?: string };

/** A witness's cosignature of the checkpoint of `treeSize`, checked before it was stored. */
export interface StoredCosignature {
  readonly tenantId: string;
  readonly treeSize: number;
  readonly witnessName: string;
  /** 8 hex digits */
  readonly keyId: string;
  /** base64 of key ID, timestamp and signature: the line is `— <witnessName> <signature>` */
  readonly signature: string;
  /** POSIX seconds, from the cosignature */
  readonly cosignedAt: number;
}

// The columns come back as text (bigints agree between pg and PGlite that way), under their own
// names: ORDER BY must name the table's column (ledger_receipts.sequence), or it sorts the text.
const RECEIPT_COLUMNS = `tenant_id, sequence::text AS sequence, event_id::text AS event_id, position_commit::text AS position_commit,
  position_prepare::text AS position_prepare, event_hash, prev_hash, receipt_hash, leaf_hash`;
const CHECKPOINT_COLUMNS = `tenant_id, tree_size::text AS tree_size, origin, root_hash, issued_at, signature_alg, signature_key, signature_value, signature_purpose, event_id::text AS event_id, note_signature`;

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
  /**
   * `store`: the event store the builder reads. Given, the builder's position is refused when it
   * was recorded against another store (CHECKPOINT.FOREIGN_STORE), and every advance records it.
   */
  constructor(
    private readonly db: Knex | Knex.Transaction,
    private readonly store?: { identity(): Promise<StoreIdentity> },
  ) {}

  within(trx: Knex.Transaction): LedgerRepository {
    return new LedgerRepository(trx, this.store);
  }

  async progress(): Promise<GlobalPosition> {
    const row = await this.db('ledger_progress').where({ builder: RECEIPT_BUILDER }).first<{ c: string; p: string; store_kind: string | null; store_id: string | null } | undefined>(
      this.db.raw('position_commit::text AS c'),
      this.db.raw('position_prepare::text AS p'),
      'store_kind',
      'store_id',
    );
    // Resolved here, outside any transaction, even with no row yet: advance() runs in the batch's
    // transaction, and on the embedded database (one connection) a first lookup there would wait
    // for the connection the transaction holds.
    const identity = this.store ? await this.store.identity() : undefined;
    if (!row) return START;
    const position = { commit: BigInt(row.c), prepare: BigInt(row.p) };
    if (identity) checkCheckpointStore('ledger', position, row, identity);
    return position;
  }

  /** Moves the builder's position from `from` to `to`; false when another builder moved it first. */
  async advance(from: GlobalPosition, to: GlobalPosition): Promise<boolean> {
    const identity = this.store ? await this.store.identity() : undefined;
    const [kind, id] = [identity?.kind ?? null, identity?.id ?? null];
    if (from.commit === START.commit && from.prepare === START.prepare) {
      const inserted = await this.db.raw(
        `INSERT INTO ledger_progress (builder, position_commit, position_prepare, store_kind, store_id) VALUES (?, ?, ?, ?, ?) ON CONFLICT (builder) DO NOTHING RETURNING builder`,
        [RECEIPT_BUILDER, to.commit.toString(), to.prepare.toString(), kind, id],
      );
      if (inserted.rows.length > 0) return true;
    }
    const updated = await this.db.raw(
      `UPDATE ledger_progress SET position_commit = ?, position_prepare = ?, store_kind = ?, store_id = ?, updated_at = now()
       WHERE builder = ? AND position_commit = ? AND position_prepare = ? RETURNING builder`,
      [to.commit.toString(), to.prepare.toString(), kind, id, RECEIPT_BUILDER, from.commit.toString(), from.prepare.toString()],
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

  async insertCheckpoint(tenantId: string, checkpoint: SignedCheckpoint & { noteSignature?: unknown }, eventId: string): Promise<void> {
    const noteSignature = typeof checkpoint.noteSignature === 'string' ? checkpoint.noteSignature : null;
    await this.db.raw(
      `INSERT INTO ledger_checkpoints (tenant_id, tree_size, origin, root_hash, issued_at, signature_alg, signature_key, signature_value, signature_purpose, event_id, note_signature)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, tree_size) DO NOTHING`,
      [tenantId, checkpoint.treeSize, checkpoint.origin, checkpoint.rootHash, checkpoint.issuedAt, checkpoint.signature.alg, checkpoint.signature.keyId, checkpoint.signature.value, checkpoint.signature.purpose ?? null, eventId, noteSignature],
    );
  }

  async insertCosignature(cosignature: StoredCosignature): Promise<void> {
    await this.db.raw(
      `INSERT INTO ledger_cosignatures (tenant_id, tree_size, witness_name, key_id, signature, cosigned_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (tenant_id, tree_size, witness_name, key_id) DO NOTHING`,
      [cosignature.tenantId, cosignature.treeSize, cosignature.witnessName, cosignature.keyId, cosignature.signature, cosignature.cosignedAt],
    );
  }

  /** The cosignatures of the tenant's checkpoints, by tree size (only `treeSizes` when given). */
  async cosignatures(tenantId: string, treeSizes?: readonly number[]): Promise<Map<number, StoredCosignature[]>> {
    const rows = await this.db.raw(
      `SELECT tree_size::text AS tree_size, witness_name, key_id, signature, cosigned_at::text AS cosigned_at FROM ledger_cosignatures WHERE tenant_id = ? ORDER BY tree_size, witness_name, key_id`,
      [tenantId],
    );
    const wanted = treeSizes ? new Set(treeSizes) : undefined;
    const bySize = new Map<number, StoredCosignature[]>();
    for (const row of rows.rows as Array<{ tree_size: string; witness_name: string; key_id: string; signature: string; cosigned_at: string }>) {
      const treeSize = Number(row.tree_size);
      if (wanted && !wanted.has(treeSize)) continue;
      const list = bySize.get(treeSize) ?? [];
      list.push({ tenantId, treeSize, witnessName: row.witness_name, keyId: row.key_id, signature: row.signature, cosignedAt: Number(row.cosigned_at) });
      bySize.set(treeSize, list);
    }
    return bySize;
  }

  /** The largest tree size `witnessName` (key `keyId`) cosigned for the tenant, or 0: the old size to send it next. */
  async lastCosignedSize(tenantId: string, witnessName: string, keyId: string): Promise<number> {
    const rows = await this.db.raw(`SELECT coalesce(max(tree_size), 0)::text AS size FROM ledger_cosignatures WHERE tenant_id = ? AND witness_name = ? AND key_id = ?`, [tenantId, witnessName, keyId]);
    return Number(rows.rows[0].size);
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

  /** The tenant's receipts of these events, in ledger order (an event of another tenant has none here). */
  async receiptsOfEvents(tenantId: string, eventIds: readonly string[]): Promise<StoredReceipt[]> {
    if (eventIds.length === 0) return [];
    const rows = await this.db.raw(`SELECT ${RECEIPT_COLUMNS} FROM ledger_receipts WHERE tenant_id = ? AND event_id IN (${eventIds.map(() => '?').join(', ')}) ORDER BY ledger_receipts.sequence`, [tenantId, ...eventIds]);
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

  async latestCheckpoint(tenantId: string): Promise<StoredCheckpoint | undefined> {
    const rows = await this.db.raw(`SELECT ${CHECKPOINT_COLUMNS} FROM ledger_checkpoints WHERE tenant_id = ? ORDER BY ledger_checkpoints.tree_size DESC LIMIT 1`, [tenantId]);
    return rows.rows.length === 0 ? undefined : toCheckpoint(rows.rows[0]);
  }

  /** The tenant's checkpoints larger than `above`, largest first, at most `limit`. */
  async largestCheckpoints(tenantId: string, above: number, limit: number): Promise<StoredCheckpoint[]> {
    const rows = await this.db.raw(`SELECT ${CHECKPOINT_COLUMNS} FROM ledger_checkpoints WHERE tenant_id = ? AND ledger_checkpoints.tree_size > ? ORDER BY ledger_checkpoints.tree_size DESC LIMIT ?`, [tenantId, above, limit]);
    return (rows.rows as CheckpointRow[]).map(toCheckpoint);
  }

  async checkpoints(tenantId: string): Promise<StoredCheckpoint[]> {
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

function toCheckpoint(row: CheckpointRow): StoredCheckpoint {
  return {
    origin: row.origin,
    treeSize: Number(row.tree_size),
    rootHash: row.root_hash,
    issuedAt: row.issued_at,
    // The purpose as stored, whatever it is: a value that is no checkpoint's makes the signature fail, never pass.
    signature: { alg: row.signature_alg, keyId: row.signature_key, value: row.signature_value, ...(row.signature_purpose !== null ? { purpose: row.signature_purpose as typeof CHECKPOINT_SIGNATURE_PURPOSE } : {}) },
    eventId: row.event_id,
    ...(row.note_signature ? { noteSignature: row.note_signature } : {}),
  };
}
