import type { Knex } from 'knex';
import * as eventStore from './0001_event_store';
import * as ledger from './0002_ledger';
import * as signedSnapshots from './0003_signed_snapshots';
import * as identity from './0004_identity';
import * as projections from './0005_projections';
import * as ledgerHalts from './0006_ledger_halts';
import * as identitySharedAccounts from './0007_identity_shared_accounts';
import * as ledgerWitnesses from './0008_ledger_witnesses';
import * as kafkaPartitions from './0011_kafka_partitions';
import * as tenantHaltsResume from './0014_tenant_halts_resume';
import * as checkpointStoreIdentity from './0015_checkpoint_store_identity';
import * as partitionBatchFailures from './0016_partition_batch_failures';
import * as eventstoredbClaims from './0017_eventstoredb_claims';
import * as checkpointSignaturePurpose from './0018_checkpoint_signature_purpose';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/**
 * Migrations are listed here rather than discovered on disk, so the same list runs from
 * TypeScript (tests) and from compiled JavaScript (npm start) without loader tricks.
 * Append only; never rename or reorder an entry that has shipped.
 */
const MIGRATIONS: ReadonlyArray<readonly [string, Migration]> = [
  ['0001_event_store', eventStore],
  ['0002_ledger', ledger],
  ['0003_signed_snapshots', signedSnapshots],
  ['0004_identity', identity],
  ['0005_projections', projections],
  ['0006_ledger_halts', ledgerHalts],
  ['0007_identity_shared_accounts', identitySharedAccounts],
  ['0008_ledger_witnesses', ledgerWitnesses],
  ['0011_kafka_partitions', kafkaPartitions],
  ['0014_tenant_halts_resume', tenantHaltsResume],
  ['0015_checkpoint_store_identity', checkpointStoreIdentity],
  ['0016_partition_batch_failures', partitionBatchFailures],
  ['0017_eventstoredb_claims', eventstoredbClaims],
  ['0018_checkpoint_signature_purpose', checkpointSignaturePurpose],
];

export const migrationSource: Knex.MigrationSource<readonly [string, Migration]> = {
  getMigrations: async () => [...MIGRATIONS],
  getMigrationName: ([name]) => name,
  getMigration: async ([, migration]) => migration,
};
