import type { ProoflineConfig } from '../config/proofline-config';
import { CommandPipeline } from '../commands/command-pipeline';
import { PostgresSnapshotStore } from '../commands/snapshot-store';
import { StateLoader } from '../commands/state-loader';
import { openDatabase, type Database } from '../database/database';
import type { EventStore } from '../eventstore/event-store.port';
import { PostgresEventStore } from '../eventstore/postgres/postgres-event-store';
import { InstrumentedEventStore } from '../observability/instrumented-event-store';
import { Metrics } from '../observability/metrics';
import { Readiness } from '../observability/readiness';
import { EventSigner } from '../signing/event-signer';
import { KeyRegistry } from '../signing/key-registry';
import { Ledger } from '../ledger/ledger';
import { AdvisoryLease } from '../fanout/lease';
import { LedgerRunner } from '../ledger/ledger-runner';
import { createIdentity, type Identity } from '../auth/identity';
import { Fanout } from '../fanout/fanout';
import { createTables } from '../../projections/runtime/tables';
import { eventStoreOf, fanoutOf } from '../config/proofline-config';
import { EsdbEventStore } from '../eventstore/eventstoredb/esdb-event-store';
import { blameSetting, isFileSystemError, SettingFailure, type Blame } from '../config/setting-failure';
import { logicalRestoreFault } from '../eventstore/postgres/restore-check';
import { ProoflineError } from '../errors/proofline-error';

/** Everything Proofline runs on, wired once; the HTTP app, the CLI and the benchmarks share it. */
export interface Infrastructure {
  readonly config: ProoflineConfig;
  readonly database: Database;
  readonly store: EventStore;
  readonly keys: KeyRegistry;
  readonly signer: EventSigner;
  readonly states: StateLoader;
  readonly pipeline: CommandPipeline;
  readonly metrics: Metrics;
  readonly ledger: Ledger;
  /** Runs the receipt builder in the background; started by the server, not by the CLI. */
  readonly ledgerRunner: LedgerRunner;
  readonly identity: Identity;
  /** The read path (relay, projectors); started by the server, not by the CLI. */
  readonly fanout: Fanout;
  /** Every configured dependency's readiness (GET /health). */
  readonly readiness: Readiness;
  close(): Promise<void>;
}

export interface InfrastructureOverrides {
  /** Keys kept in memory only, e.g. for tests that must not write to the data dir. */
  readonly ephemeralKeys?: boolean;
  /** Open the key registry without rotating or writing it (commands that only read and verify). */
  readonly readOnlyKeys?: boolean;
  /** `memory://` for an in-memory embedded database. */
  readonly dataDirForDatabase?: string;
}

/** What each start-up step needs from its setting; a failure is reported as `SETTING rule: what happened` (SettingFailure). */
const DATA_DIR: Blame = ['PROOFLINE_DATA_DIR', 'must be a directory this process may write and no other Proofline process has open'];
const DATABASE_URL: Blame = ['DATABASE_URL', 'must point at a reachable PostgreSQL server where Proofline may create its schema and tables'];
const ESDB: Blame = ['ESDB_CONNECTION_STRING', 'must be an EventStoreDB connection string (esdb://host:2113?tls=false)'];
const SIGNING_KEY: Blame = ['PROOFLINE_SIGNING_KEY', 'must be a PKCS#8 PEM private key (RSA or Ed25519)'];
const REDIS: Blame = ['REDIS_URL', 'must point at a reachable Redis server'];

export async function createInfrastructure(config: ProoflineConfig, overrides: InfrastructureOverrides = {}): Promise<Infrastructure> {
  const url = config.PROOFLINE_PROFILE === 'services' || config.DATABASE_URL ? config.DATABASE_URL : undefined;
  const database = await blameSetting(url ? DATABASE_URL : DATA_DIR, () =>
    openDatabase({ url, dataDir: overrides.dataDirForDatabase ?? config.PROOFLINE_DATA_DIR, schema: config.DATABASE_SCHEMA, poolSize: config.DATABASE_POOL_SIZE }),
  );
  if (eventStoreOf(config) !== 'eventstoredb') await refuseLogicalRestore(database, url ? 'DATABASE_URL' : 'PROOFLINE_DATA_DIR');
  const metrics = new Metrics();
  const store = new InstrumentedEventStore(
    eventStoreOf(config) === 'eventstoredb' ? await blameSetting(ESDB, () => EsdbEventStore.fromConnectionString(config.ESDB_CONNECTION_STRING!, database.knex)) : new PostgresEventStore(database.knex),
    metrics,
  );
  const keys = await blameSetting(
    (error) => (isFileSystemError(error) ? DATA_DIR : config.PROOFLINE_SIGNING_KEY ? SIGNING_KEY : undefined),
    () =>
      KeyRegistry.open({
        dataDir: overrides.ephemeralKeys ? undefined : config.PROOFLINE_DATA_DIR,
        keyType: config.PROOFLINE_SIGNING_KEY_TYPE,
        privateKeyPem: config.PROOFLINE_SIGNING_KEY,
        readOnly: overrides.readOnlyKeys,
      }),
  );
  const signer = new EventSigner(keys);
  const states = new StateLoader(store, new PostgresSnapshotStore(database.knex), signer, config.PROOFLINE_SNAPSHOT_EVERY);
  const pipeline = new CommandPipeline(store, signer, states);
  const ledger = new Ledger(database.knex, store, signer, keys, {
    instance: config.PROOFLINE_INSTANCE_NAME,
    checkpointEvery: config.PROOFLINE_LEDGER_CHECKPOINT_EVERY,
    checkpointIntervalMs: config.PROOFLINE_LEDGER_CHECKPOINT_SECONDS * 1000,
    headsDirectory: config.PROOFLINE_LEDGER_HEADS_DIR,
  });
  // On a server, several instances may run the builder: one holds the lease and builds, the others stand by (issue 25, item 9).
  const ledgerRunner = new LedgerRunner(ledger.builder, 250, { lease: database.kind === 'postgres' ? new AdvisoryLease(database.knex, 'ledger.builder') : undefined });
  const identity = await blameSetting(
    (error) => (isFileSystemError(error) ? DATA_DIR : isRedisFailure(error) ? REDIS : undefined),
    () => createIdentity(config, { database, store, signer, states, pipeline }, { ephemeralSecret: overrides.ephemeralKeys }),
  ).catch(async (error: unknown) => {
    await store.close();
    await database.close();
    throw error;
  });
  const fanout = new Fanout(fanoutOf(config), database.knex, store, metrics, config);
  // Read models exist from the start, so a query before the first event answers empty, not 500.
  await blameSetting(url ? DATABASE_URL : DATA_DIR, async () => {
    for (const projector of fanout.projectors) await createTables(database.knex, projector, 'live');
  });
  const readiness = new Readiness({ config, database, store, keys, fanout });
  return {
    config,
    database,
    store,
    keys,
    signer,
    states,
    pipeline,
    metrics,
    ledger,
    ledgerRunner,
    identity,
    fanout,
    readiness,
    close: async () => {
      await readiness.close();
      await fanout.close();
      await ledgerRunner.stop();
      await identity.close();
      await store.close();
      await database.close();
    },
  };
}

/** Global positions are transaction ids: a database restored logically from another cluster would make readers skip events. */
async function refuseLogicalRestore(database: Database, setting: string): Promise<void> {
  const fault = await blameSetting(setting === 'DATABASE_URL' ? DATABASE_URL : DATA_DIR, () => logicalRestoreFault(database.knex)).catch(async (error: unknown) => {
    await database.close();
    throw error;
  });
  if (!fault) return;
  await database.close();
  throw new SettingFailure(setting, 'must hold an event store restored physically, or one whose transaction counter was advanced past its events', fault);
}

/** How the auth state stores report Redis being away (src/auth/state/redis-connection.ts). */
function isRedisFailure(error: unknown): boolean {
  return error instanceof ProoflineError && error.details.dependency === 'redis';
}
