import { randomBytes } from 'node:crypto';
import type { Database } from '../../../src/database/database';
import type { StoreIdentity } from '../../../src/eventstore/event-store.port';
import type { EsdbEventStore } from '../../../src/eventstore/eventstoredb/esdb-event-store';
import { esdbStore } from '../../support/esdb-store';
import { START } from '../../../src/eventstore/global-position';
import { PostgresEventStore } from '../../../src/eventstore/postgres/postgres-event-store';
import { LedgerRepository } from '../../../src/ledger/ledger-repository';
import { failureOf } from '../../conformance/helpers';
import { startTestApp, type TestApp } from '../../support/app';
import { openEmbeddedTestDatabase, openServerTestDatabase } from '../../support/databases';
import { eventually } from '../../support/eventually';
import { startEsdbTestServer, type EsdbTestServer } from '../../support/esdb';
import { describeWithService, serviceUrl } from '../../support/services';

/**
 * Issue 26, item 1: checkpoints name the store their position belongs to (migration 0015), and a
 * checkpoint recorded against another store is refused instead of read in a log it is not from:
 * the case of ESDB_CONNECTION_STRING set on a deployment that ran on PostgreSQL.
 */
describe('checkpoints name their store (issue 26, item 1)', () => {
  let db: Database;
  let server: EsdbTestServer;
  let esdb: EsdbEventStore;

  beforeAll(async () => {
    server = await startEsdbTestServer();
    esdb = await esdbStore(server.connectionString);
  });
  afterAll(async () => {
    await esdb.close();
    await server.close();
  });
  beforeEach(async () => {
    db = await openEmbeddedTestDatabase();
  });
  afterEach(async () => {
    await db.close();
  });

  const position = { commit: 1234n, prepare: 56n };

  it('given the ledger advanced on PostgreSQL, when a builder on EventStoreDB reads its position, then CHECKPOINT.FOREIGN_STORE names both stores (the PostgreSQL one still resumes)', async () => {
    const postgres = new PostgresEventStore(db.knex);
    expect(await new LedgerRepository(db.knex, postgres).advance(START, position)).toBe(true);

    const error = await failureOf(new LedgerRepository(db.knex, esdb).progress());

    const [pg, es] = [await postgres.identity(), await esdb.identity()];
    expect(error).toMatchObject({ code: 'CHECKPOINT.FOREIGN_STORE', status: 500, details: { position: '1234/56', recordedKind: 'postgresql', recordedId: pg.id, storeKind: 'eventstoredb', storeId: es.id } });
    expect((error as Error).message).toContain('resuming would skip events');
    expect(await new LedgerRepository(db.knex, postgres).progress()).toEqual(position);
  });

  it('every advance records the store it read; a row from before migration 0015 (no store) is accepted and stamped by the next advance', async () => {
    await db.knex.raw(`INSERT INTO ledger_progress (builder, position_commit, position_prepare) VALUES ('receipts', 1234, 56)`);
    const repository = new LedgerRepository(db.knex, esdb);

    expect(await repository.progress()).toEqual(position);
    expect(await repository.advance(position, { commit: 2000n, prepare: 2000n })).toBe(true);

    const row = await db.knex('ledger_progress').where({ builder: 'receipts' }).first();
    const identity: StoreIdentity = await esdb.identity();
    expect({ kind: row.store_kind, id: row.store_id }).toEqual(identity);
  });

  it("PostgreSQL's identity is the cluster's system identifier and the schema, the same on every call", async () => {
    const store = new PostgresEventStore(db.knex);

    const identity = await store.identity();

    expect(identity).toEqual({ kind: 'postgresql', id: expect.stringMatching(/^\d+\/public$/) });
    expect(await new PostgresEventStore(db.knex).identity()).toEqual(identity);
  });
});

describeWithService('postgres', 'PostgreSQL identity on a server schema (issue 26, item 1)', () => {
  it('two schemas of one cluster are two stores: the identity names the schema', async () => {
    const [a, b] = [await openServerTestDatabase(2), await openServerTestDatabase(2)];
    try {
      const [ia, ib] = [await new PostgresEventStore(a.knex).identity(), await new PostgresEventStore(b.knex).identity()];

      expect(ia.id).toBe(`${ia.id.split('/')[0]}/${a.schema}`);
      expect(ib.id).toBe(`${ia.id.split('/')[0]}/${b.schema}`);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describeWithService('kafka', 'the relay refuses a checkpoint of another store (issue 26, item 1)', () => {
  let esdb: EsdbTestServer;
  let t: TestApp | undefined;

  afterEach(async () => {
    await t?.close();
    await esdb?.close();
  }, 30_000);

  it('given relay_checkpoints written while the deployment ran on PostgreSQL, when the relay starts on EventStoreDB, then it publishes nothing and reports CHECKPOINT.FOREIGN_STORE', async () => {
    esdb = await startEsdbTestServer();
    t = await startTestApp({
      database: 'server',
      env: { ESDB_CONNECTION_STRING: esdb.connectionString, KAFKA_BROKERS: serviceUrl('kafka'), PROOFLINE_KAFKA_TOPIC_PREFIX: `foreign-${randomBytes(4).toString('hex')}` },
    });
    const knex = t.infrastructure.database.knex;
    const postgres = await new PostgresEventStore(knex).identity();
    await knex('relay_checkpoints').insert({ relay: 'main', position_commit: '987654', position_prepare: '3', store_kind: postgres.kind, store_id: postgres.id });

    await t.infrastructure.fanout.start();
    const relay = t.infrastructure.fanout.relay!;
    const lastError = await eventually(async () => relay.lastError, (error) => error !== undefined, 60_000);

    expect(lastError).toContain(`the relay main checkpoint at 987654/3 was recorded against postgresql ${postgres.id}`);
    expect(lastError).toContain(`this process reads eventstoredb ${(await t.infrastructure.store.identity()).id}`);
    const row = await knex('relay_checkpoints').where({ relay: 'main' }).first();
    expect({ commit: row.position_commit, prepare: row.position_prepare, kind: row.store_kind }).toEqual({ commit: '987654', prepare: '3', kind: 'postgresql' });
  }, 90_000);
});
