import type { Knex } from 'knex';

const SCHEMA = [
  `CREATE TABLE ledger_receipts (
    tenant_id        text NOT NULL,
    sequence         bigint NOT NULL CHECK (sequence >= 0),
    event_id         uuid NOT NULL,
    position_commit  bigint NOT NULL,
    position_prepare bigint NOT NULL,
    event_hash       char(64) NOT NULL,
    prev_hash        char(64) NOT NULL,
    receipt_hash     char(64) NOT NULL,
    leaf_hash        char(64) NOT NULL,
    recorded_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ledger_receipts_pkey PRIMARY KEY (tenant_id, sequence),
    CONSTRAINT ledger_receipts_event_unique UNIQUE (event_id)
  )`,
  `CREATE TABLE ledger_checkpoints (
    tenant_id       text NOT NULL,
    tree_size       bigint NOT NULL CHECK (tree_size > 0),
    origin          text NOT NULL,
    root_hash       char(64) NOT NULL,
    issued_at       text NOT NULL,
    signature_alg   text NOT NULL,
    signature_key   text NOT NULL,
    signature_value text NOT NULL,
    event_id        uuid NOT NULL,
    CONSTRAINT ledger_checkpoints_pkey PRIMARY KEY (tenant_id, tree_size)
  )`,
  `CREATE TABLE ledger_progress (
    builder          text PRIMARY KEY,
    position_commit  bigint NOT NULL,
    position_prepare bigint NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE TRIGGER ledger_receipts_append_only BEFORE UPDATE OR DELETE ON ledger_receipts
    FOR EACH ROW EXECUTE FUNCTION proofline_refuse_change()`,
  `CREATE TRIGGER ledger_receipts_no_truncate BEFORE TRUNCATE ON ledger_receipts
    FOR EACH STATEMENT EXECUTE FUNCTION proofline_refuse_change()`,
  `CREATE TRIGGER ledger_checkpoints_append_only BEFORE UPDATE OR DELETE ON ledger_checkpoints
    FOR EACH ROW EXECUTE FUNCTION proofline_refuse_change()`,
  `CREATE TRIGGER ledger_checkpoints_no_truncate BEFORE TRUNCATE ON ledger_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION proofline_refuse_change()`,
];

/**
 * The value-receipt ledger: one hash chain per tenant (also the leaves of its Merkle tree),
 * the signed checkpoints recorded from the ledger streams, and the builder's position.
 * Receipts and checkpoints are append-only like events.
 */
export async function up(knex: Knex): Promise<void> {
  for (const statement of SCHEMA) await knex.raw(statement);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS ledger_progress, ledger_checkpoints, ledger_receipts');
}
