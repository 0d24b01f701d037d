import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knex from 'knex';
import { canonicalJson } from '../../../contracts';
import { createInfrastructure } from '../../../src/app/infrastructure';
import { loadConfig } from '../../../src/config/load-config';
import { SettingFailure } from '../../../src/config/setting-failure';
import { START } from '../../../src/eventstore/global-position';
import { PostgresEventStore } from '../../../src/eventstore/postgres/postgres-event-store';
import { transactionCounters } from '../../../src/eventstore/postgres/restore-check';
import { LedgerRepository } from '../../../src/ledger/ledger-repository';
import { sealedEvent, testSigner, uniqueStreamId } from '../../conformance/envelopes';
import { failureOf } from '../../conformance/helpers';
import { openServerTestDatabase } from '../../support/databases';
import { describeWithService, serviceUrl } from '../../support/services';

/**
 * Issue 25, item 5. A logical restore (pg_dump/pg_restore, COPY) into another cluster keeps the
 * stored transaction ids but not the cluster's counter. Planted here: a row whose transaction id
 * is ahead of the cluster's counter, as such a restore leaves it. Proofline must refuse to start
 * on it, naming the fix, and start once the counter was advanced as docs/operations.md says.
 */
describeWithService('postgres', 'a database restored logically from another cluster', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'proofline-restore-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  const configFor = (schema: string) =>
    loadConfig({
      PROOFLINE_PROFILE: 'services',
      DATABASE_URL: serviceUrl('postgres'),
      DATABASE_SCHEMA: schema,
      PROOFLINE_AUTH_STORE: 'memory',
      PROOFLINE_DATA_DIR: dataDir,
      PROOFLINE_SIGNING_KEY_TYPE: 'ed25519',
      LOG_LEVEL: 'silent',
    });

  it('is refused at start with an error naming the fix, and starts once the transaction counter was advanced past its events', async () => {
    const db = await openServerTestDatabase();
    try {
      const signer = testSigner();
      const store = new PostgresEventStore(db.knex);
      const ordinary = sealedEvent(signer, uniqueStreamId('restored'));
      await store.append(ordinary.streamId, [ordinary], 'no-stream');

      // given: a row as a logical restore from a busier cluster leaves it, its transaction id ahead of this cluster's counter
      const restored = sealedEvent(signer, uniqueStreamId('restored'));
      const { next } = await transactionCounters(db.knex);
      const planted = next + 1000n;
      await db.knex.raw('ALTER TABLE events DISABLE TRIGGER USER');
      await db.knex.raw(
        `INSERT INTO events (transaction_id, event_id, stream_id, stream_version, tenant_id, event_type, schema_version, occurred_at, envelope)
         VALUES (CAST(? AS xid8), ?, ?, 0, ?, ?, 1, ?, ?)`,
        [planted.toString(), restored.id, restored.streamId, restored.tenantId, restored.type, restored.occurredAt, canonicalJson(restored)],
      );
      await db.knex.raw('ALTER TABLE events ENABLE TRIGGER USER');
      // the fault itself: no global reader sees the restored event
      expect((await store.readAll(START, 100)).map((event) => event.envelope.id)).toEqual([ordinary.id]);

      // when Proofline starts on it, then it refuses, naming the setting, both counters and where the fix is written
      const refused = await failureOf(createInfrastructure(configFor(db.schema), { ephemeralKeys: true }));
      expect(refused).toBeInstanceOf(SettingFailure);
      expect((refused as Error).message).toMatch(/^DATABASE_URL must hold an event store restored physically/);
      expect((refused as Error).message).toContain(`holds transaction id ${planted} but this PostgreSQL cluster has only reached`);
      expect((refused as Error).message).toContain('docs/operations.md, "Restoring the event store"');

      // when the counter is advanced as docs/operations.md says (one committed transaction per id)
      const gap = planted - (await transactionCounters(db.knex)).next + 1n;
      const admin = knex({ client: 'pg', connection: serviceUrl('postgres') });
      try {
        await admin.raw(`DO $$ BEGIN FOR i IN 1..${gap} LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$`);
      } finally {
        await admin.destroy();
      }

      // then it starts, and the restored event is readable in its place
      const infrastructure = await createInfrastructure(configFor(db.schema), { ephemeralKeys: true });
      try {
        expect((await infrastructure.store.readAll(START, 100)).map((event) => event.envelope.id)).toEqual([ordinary.id, restored.id]);
      } finally {
        await infrastructure.close();
      }
    } finally {
      await db.close();
    }
  }, 60_000);

  it("keeps the checkpoints' positions but not their store's name: refused as CHECKPOINT.FOREIGN_STORE, and accepted after the re-stamp docs/operations.md gives", async () => {
    const db = await openServerTestDatabase();
    try {
      const store = new PostgresEventStore(db.knex);
      const signer = testSigner();
      const event = sealedEvent(signer, uniqueStreamId('restored'));
      await store.append(event.streamId, [event], 'no-stream');
      const [recorded] = await store.readAll(START, 1);
      // given: checkpoints as a logical restore brings them from the old cluster (its system identifier)
      const old = { store_kind: 'postgresql', store_id: `7000000000000000001/${db.schema}` };
      const at = { position_commit: String(recorded.position.commit), position_prepare: String(recorded.position.prepare) };
      await db.knex('relay_checkpoints').insert({ relay: 'main', ...at, ...old });
      await db.knex('ledger_progress').insert({ builder: 'receipts', ...at, ...old });
      const ledger = new LedgerRepository(db.knex, store);
      expect(await failureOf(ledger.progress())).toMatchObject({ code: 'CHECKPOINT.FOREIGN_STORE' });

      // when: the re-stamp of docs/operations.md, run in the restored schema
      for (const table of ['relay_checkpoints', 'ledger_progress']) {
        await db.knex.raw(`UPDATE ?? SET store_id = (SELECT system_identifier::text FROM pg_control_system()) || '/' || current_schema() WHERE store_kind = 'postgresql'`, [table]);
      }

      // then: the positions are accepted as this store's
      expect(await ledger.progress()).toEqual(recorded.position);
      expect(await db.knex('relay_checkpoints').where({ relay: 'main' }).first('store_id')).toEqual({ store_id: (await store.identity()).id });
    } finally {
      await db.close();
    }
  }, 60_000);
});
