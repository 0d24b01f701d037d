import type { Knex } from 'knex';

/**
 * Witnesses (issue 23, item 3): the log's signature line on each checkpoint written as a C2SP
 * signed note (from the checkpoint event's data, like the other columns), and the witnesses'
 * cosignatures, stored with the checkpoint they cosign. A cosignature is checked against the
 * witness's key before it is stored and again by every verifier; deleting one only takes a
 * witness's word away (verifiers requiring it then fail), it cannot forge one. Append-only.
 */
const SCHEMA = [
  `ALTER TABLE ledger_checkpoints ADD COLUMN note_signature text`,
  `CREATE TABLE ledger_cosignatures (
    tenant_id     text NOT NULL,
    tree_size     bigint NOT NULL,
    witness_name  text NOT NULL,
    key_id        char(8) NOT NULL,
    signature     text NOT NULL,
    cosigned_at   bigint NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ledger_cosignatures_pkey PRIMARY KEY (tenant_id, tree_size, witness_name, key_id)
  )`,
  `CREATE TRIGGER ledger_cosignatures_append_only BEFORE UPDATE OR DELETE ON ledger_cosignatures
    FOR EACH ROW EXECUTE FUNCTION proofline_refuse_change()`,
];

export async function up(knex: Knex): Promise<void> {
  for (const statement of SCHEMA) await knex.raw(statement);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS ledger_cosignatures');
  await knex.raw('ALTER TABLE ledger_checkpoints DROP COLUMN IF EXISTS note_signature');
}
