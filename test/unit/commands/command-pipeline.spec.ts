import { createHash, randomUUID } from 'node:crypto';
import type { JsonValue } from '../../../contracts';
import type { CommandContext } from '../../../src/commands/command-context';
import { CommandPipeline, type CommandRequest } from '../../../src/commands/command-pipeline';
import { PostgresSnapshotStore, snapshotBytes } from '../../../src/commands/snapshot-store';
import { StateLoader } from '../../../src/commands/state-loader';
import { streamIdFor } from '../../../src/commands/stream-id';
import type { Database } from '../../../src/database/database';
import type { EventStore } from '../../../src/eventstore/event-store.port';
import { PostgresEventStore } from '../../../src/eventstore/postgres/postgres-event-store';
import { EventSigner } from '../../../src/signing/event-signer';
import { KeyRegistry } from '../../../src/signing/key-registry';
import { verifyStore } from '../../../src/signing/store-verifier';
import type { WorkspaceCommand } from '../../../src/workspaces/decide';
import type { WorkspaceEvent } from '../../../src/workspaces/events';
import type { WorkspaceState } from '../../../src/workspaces/state';
import { workspaceDecider } from '../../../src/workspaces/workspace.decider';
import { openEmbeddedTestDatabase } from '../../support/databases';

const SNAPSHOT_EVERY = 10;

let database: Database;
let store: PostgresEventStore;
let snapshots: PostgresSnapshotStore;
let signer: EventSigner;

beforeAll(async () => {
  database = await openEmbeddedTestDatabase();
  store = new PostgresEventStore(database.knex);
  snapshots = new PostgresSnapshotStore(database.knex);
  signer = new EventSigner(KeyRegistry.open({ keyType: 'ed25519' }));
});

afterAll(async () => {
  await database?.close();
});

/** The shared store, except that `competitor` runs (and commits) just before, or just after, the first call of `method`. */
function storeRacedBy(when: 'before' | 'after', method: 'append' | 'readStream', competitor: () => Promise<unknown>): EventStore {
  let raced = false;
  const race = async () => {
    if (raced) return;
    raced = true;
    await competitor();
  };
  return new Proxy(store, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== 'function') return value;
      if (property !== method) return value.bind(target);
      return async (...args: unknown[]) => {
        if (when === 'before') await race();
        const result: unknown = await value.apply(target, args);
        if (when === 'after') await race();
        return result;
      };
    },
  });
}

/** A loader of its own: a fresh process's view (empty cache) of the shared store. */
const freshLoader = () => new StateLoader(store, snapshots, signer, SNAPSHOT_EVERY);

/** A pipeline with its own state cache: another process on the same store. */
function process_() {
  const loader = freshLoader();
  return { loader, pipeline: new CommandPipeline(store, signer, loader) };
}

function newWorkspace() {
  const tenantId = `tenant-${randomUUID()}`;
  return { tenantId, streamId: streamIdFor('workspace', tenantId) };
}

function context(tenantId: string, idempotency?: { key: string; request: unknown }): CommandContext {
  const commandId = randomUUID();
  return {
    tenantId,
    actor: { id: 'user-1', role: 'owner' },
    correlationId: randomUUID(),
    causationId: commandId,
    commandId,
    now: new Date().toISOString(),
    ...(idempotency ? { idempotency: { key: idempotency.key, requestHash: createHash('sha256').update(JSON.stringify(idempotency.request)).digest('hex') } } : {}),
  };
}

const register = (tenantId: string, name = 'name-0'): WorkspaceCommand => ({ type: 'RegisterWorkspace', workspaceId: tenantId, name, planTier: 'FREE' , owner: { userId: 'owner-1', email: 'owner@example.test', role: 'CUSTOMER_ADMIN' } });
const rename = (name: string): WorkspaceCommand => ({ type: 'RenameWorkspace', name });

function request(streamId: string, tenantId: string, command: WorkspaceCommand, extra: Partial<CommandRequest<WorkspaceCommand>> = {}): CommandRequest<WorkspaceCommand> {
  return { streamId, command, context: context(tenantId), ...extra };
}

/** The state from every stored event, from the start, without snapshots or caches. */
async function fullFold(streamId: string): Promise<WorkspaceState> {
  const events = await store.readStream(streamId);
  return events.map((e) => ({ type: e.envelope.type, data: e.envelope.data }) as WorkspaceEvent).reduce(workspaceDecider.evolve, workspaceDecider.initialState);
}

async function snapshotRow(streamId: string): Promise<{ version: number; stateSchema: string } | undefined> {
  const row = await database.knex('snapshots').where({ stream_id: streamId }).first('stream_version', 'state_schema');
  return row && { version: Number(row.stream_version), stateSchema: row.state_schema };
}

/** Registers a workspace (v0) and renames it up to `lastVersion`: the name at version v is `name-v`. */
async function workspaceAt(lastVersion: number, pipeline = process_().pipeline) {
  const { tenantId, streamId } = newWorkspace();
  await pipeline.handle(workspaceDecider, request(streamId, tenantId, register(tenantId)));
  for (let v = 1; v <= lastVersion; v++) await pipeline.handle(workspaceDecider, request(streamId, tenantId, rename(`name-${v}`)));
  return { tenantId, streamId };
}

/** Rewrites a snapshot's state and signs it as Proofline would: a legitimate snapshot with a marker in it. */
async function rewriteSnapshot(streamId: string, change: (state: Record<string, unknown>) => Record<string, unknown>): Promise<void> {
  const row = await database.knex('snapshots').where({ stream_id: streamId }).first('stream_version', 'state_schema', 'state');
  const snapshot = { streamVersion: Number(row.stream_version), stateSchema: row.state_schema as string, state: change(row.state) as JsonValue };
  const signature = signer.signDetached((identity) => snapshotBytes(streamId, snapshot, identity));
  await database.knex('snapshots').where({ stream_id: streamId }).update({ state: JSON.stringify(snapshot.state), signature: JSON.stringify(signature) });
}

/** Edits a stored event behind the append-only trigger, as someone with database access could. */
async function tamper(streamId: string, version: number, from: string, to: string): Promise<string> {
  const knex = database.knex;
  await knex.raw('ALTER TABLE events DISABLE TRIGGER events_append_only');
  try {
    const updated = await knex.raw(`UPDATE events SET envelope = replace(envelope, ?, ?) WHERE stream_id = ? AND stream_version = ? RETURNING event_id::text AS id`, [
      from,
      to,
      streamId,
      version,
    ]);
    expect(updated.rows).toHaveLength(1);
    const [{ envelope }] = await knex('events').where({ stream_id: streamId, stream_version: version }).select('envelope');
    expect(envelope).toContain(to);
    return updated.rows[0].id as string;
  } finally {
    await knex.raw('ALTER TABLE events ENABLE TRIGGER events_append_only');
  }
}

describe('CommandPipeline on PGlite', () => {
  describe('snapshots', () => {
    it(`are written when the version crosses a multiple of ${SNAPSHOT_EVERY}, and only then`, async () => {
      const { pipeline } = process_();
      const { tenantId, streamId } = newWorkspace();
      const seen: Array<number | undefined> = [];
      let outcome = await pipeline.handle(workspaceDecider, request(streamId, tenantId, register(tenantId)));
      seen.push((await snapshotRow(streamId))?.version);
      for (let v = 1; v <= 24; v++) {
        outcome = await pipeline.handle(workspaceDecider, request(streamId, tenantId, rename(`name-${v}`)));
        expect(outcome.version).toBe(v);
        seen.push((await snapshotRow(streamId))?.version);
      }
      // a new stream has no snapshot until it reaches version SNAPSHOT_EVERY: its first event is no reason to take one
      expect(seen).toEqual(Array.from({ length: 25 }, (_, v) => (v < SNAPSHOT_EVERY ? undefined : Math.floor(v / SNAPSHOT_EVERY) * SNAPSHOT_EVERY)));
      expect((await snapshotRow(streamId))?.stateSchema).toBe(workspaceDecider.stateSchema);
    });

    it('a batch that jumps over a multiple still takes one (the version crossed it)', async () => {
      const loader = freshLoader();
      const { streamId } = newWorkspace();
      await loader.remember(workspaceDecider, streamId, { status: 'active', workspaceId: 'w', name: 'n', planTier: 'FREE' }, 8, 11);
      expect(await snapshotRow(streamId)).toEqual({ version: 11, stateSchema: workspaceDecider.stateSchema });
      await loader.remember(workspaceDecider, streamId, { status: 'active', workspaceId: 'w', name: 'n', planTier: 'FREE' }, 11, 19);
      expect((await snapshotRow(streamId))?.version).toBe(11);
    });

    it('a fresh loader builds the same state as the full fold, from the snapshot', async () => {
      const { streamId } = await workspaceAt(23);
      expect((await snapshotRow(streamId))?.version).toBe(20);
      const loaded = await freshLoader().load(workspaceDecider, streamId);
      expect(loaded).toEqual({ state: await fullFold(streamId), version: 23, fromCache: false });
      expect(loaded.state).toMatchObject({ status: 'active', name: 'name-23' });
    });

    it('a fresh loader reads only the events after the snapshot', async () => {
      const { streamId } = await workspaceAt(23);
      // Mark the snapshot with a plan no event ever set: only a loader that started from it can see PRO.
      await rewriteSnapshot(streamId, (state) => ({ ...state, planTier: 'PRO' }));
      const loaded = await freshLoader().load(workspaceDecider, streamId);
      expect(loaded.version).toBe(23);
      expect(loaded.state).toMatchObject({ status: 'active', planTier: 'PRO', name: 'name-23' }); // snapshot + tail (21..23)
      expect((await fullFold(streamId)) as unknown).toMatchObject({ planTier: 'FREE' });
    });

    it('an event before the snapshot is not read again (tampering there is for verifyStore to find)', async () => {
      const { streamId } = await workspaceAt(12);
      const eventId = await tamper(streamId, 3, '"name":"name-3"', '"name":"evil"');
      await expect(freshLoader().load(workspaceDecider, streamId)).resolves.toMatchObject({ version: 12, state: { name: 'name-12' } });
      const report = await verifyStore(store, signer, { tenantId: streamId.slice('workspace-'.length) });
      expect(report.faults).toEqual([expect.objectContaining({ eventId, fault: 'data-hash-mismatch', streamVersion: 3 })]);
    });

    it('a snapshot changed in the database without Proofline\'s key is ignored: the state comes from the full fold', async () => {
      const { streamId } = await workspaceAt(23);
      await database.knex.raw(`UPDATE snapshots SET state = jsonb_set(state, '{planTier}', '"PRO"') WHERE stream_id = ?`, [streamId]);
      const loaded = await freshLoader().load(workspaceDecider, streamId);
      expect(loaded).toEqual({ state: await fullFold(streamId), version: 23, fromCache: false });
      expect(loaded.state).toMatchObject({ planTier: 'FREE' });
    });

    it('an unsigned snapshot (written before snapshots were signed) is ignored', async () => {
      const { streamId } = await workspaceAt(23);
      await database.knex.raw(`UPDATE snapshots SET signature = NULL WHERE stream_id = ?`, [streamId]);
      expect(await freshLoader().load(workspaceDecider, streamId)).toEqual({ state: await fullFold(streamId), version: 23, fromCache: false });
    });

    it('a snapshot of another state schema is ignored: the state comes from the full fold', async () => {
      const { streamId } = await workspaceAt(13);
      await database.knex.raw(`UPDATE snapshots SET state_schema = 'workspace.state.v0', state = '{"status":"bogus"}' WHERE stream_id = ?`, [streamId]);
      const loaded = await freshLoader().load(workspaceDecider, streamId);
      expect(loaded).toEqual({ state: await fullFold(streamId), version: 13, fromCache: false });
    });

    it('a decider whose state schema changed ignores the old snapshots', async () => {
      const { streamId } = await workspaceAt(11);
      await rewriteSnapshot(streamId, (state) => ({ ...state, planTier: 'PRO' }));
      const next = { ...workspaceDecider, stateSchema: `${workspaceDecider.stateSchema}-next` };
      expect((await freshLoader().load(workspaceDecider, streamId)).state).toMatchObject({ planTier: 'PRO' }); // the schema that wrote it reads it
      expect((await freshLoader().load(next, streamId)).state).toEqual(await fullFold(streamId)); // the next one does not
    });

    it('a stale-schema snapshot does not stop commands, and the next crossing replaces it', async () => {
      const { tenantId, streamId } = await workspaceAt(9);
      await database.knex.raw(`UPDATE snapshots SET state_schema = 'workspace.state.v0' WHERE stream_id = ?`, [streamId]);
      const outcome = await process_().pipeline.handle(workspaceDecider, request(streamId, tenantId, rename('name-10')));
      expect(outcome.version).toBe(10);
      expect(await snapshotRow(streamId)).toEqual({ version: 10, stateSchema: workspaceDecider.stateSchema });
    });
  });

  describe('queries (loadCurrent)', () => {
    it("see what another process appended, where the commands' cache still holds the state this process decided", async () => {
      const a = process_();
      const b = process_();
      const { tenantId, streamId } = await workspaceAt(0, a.pipeline); // a caches v0
      await b.pipeline.handle(workspaceDecider, request(streamId, tenantId, rename('from-b')));

      expect(await a.loader.load(workspaceDecider, streamId)).toMatchObject({ version: 0, fromCache: true }); // fine for a command: its append would 409
      expect(await a.loader.loadCurrent(workspaceDecider, streamId)).toEqual({ state: await fullFold(streamId), version: 1, fromCache: false });
      expect(await a.loader.loadCurrent(workspaceDecider, streamId)).toMatchObject({ version: 1, fromCache: true });
    });

    it('a load that read the stream before a command of this process appended does not put its older state over the newer one', async () => {
      const { tenantId, streamId } = await workspaceAt(0);
      const loader: StateLoader = new StateLoader(
        storeRacedBy('after', 'readStream', (): Promise<unknown> => pipeline.handle(workspaceDecider, request(streamId, tenantId, rename('during-load')))),
        snapshots,
        signer,
        SNAPSHOT_EVERY,
      );
      const pipeline: CommandPipeline = new CommandPipeline(store, signer, loader);

      expect(await loader.load(workspaceDecider, streamId)).toMatchObject({ version: 0, fromCache: false });
      expect(await loader.load(workspaceDecider, streamId)).toMatchObject({ version: 1, fromCache: true, state: { name: 'during-load' } });
    });
  });

  describe('tampered events', () => {
    it.each([
      ['data', '"name":"name-2"', '"name":"evil"', 'data-hash-mismatch'],
      ['actor', '"actor":{"id":"user-1"', '"actor":{"id":"user-2"', 'bad-signature'],
    ])('an event whose %s was changed in the store makes a fresh loader refuse with STREAM.TAMPERED', async (_what, from, to, fault) => {
      const { tenantId, streamId } = await workspaceAt(4);
      const eventId = await tamper(streamId, 2, from, to);

      const refusal = freshLoader().load(workspaceDecider, streamId);
      await expect(refusal).rejects.toMatchObject({ code: 'STREAM.TAMPERED', status: 500, details: { eventId, fault } });
      await expect(refusal).rejects.toThrow(eventId);

      // a command on that stream is refused too, and nothing is appended
      const { pipeline } = process_();
      await expect(pipeline.handle(workspaceDecider, request(streamId, tenantId, rename('after')))).rejects.toMatchObject({ code: 'STREAM.TAMPERED' });
      expect(await store.streamVersion(streamId)).toBe(4);
    });

    it('a signed event copied into a new row of its stream (a replay) makes a fresh loader refuse it as misfiled', async () => {
      const { streamId } = await workspaceAt(3);
      const knex = database.knex;
      const copyId = '01a20000-0000-7000-8000-00000000c0de';
      await knex.raw(
        `INSERT INTO events (event_id, stream_id, stream_version, tenant_id, event_type, schema_version, occurred_at, envelope)
         SELECT ?, stream_id, 4, tenant_id, event_type, schema_version, occurred_at, envelope FROM events WHERE stream_id = ? AND stream_version = 1`,
        [copyId, streamId],
      );
      await knex.raw('UPDATE streams SET version = 4 WHERE stream_id = ?', [streamId]);

      const refusal = freshLoader().load(workspaceDecider, streamId);
      await expect(refusal).rejects.toMatchObject({ code: 'STREAM.TAMPERED', details: { fault: 'misfiled' } });
      await expect(refusal).rejects.toThrow(copyId);
    });
  });

  describe('another process appended since this one cached the state', () => {
    it('without If-Match: decides once more on fresh state and succeeds', async () => {
      const a = process_();
      const b = process_();
      const { tenantId, streamId } = await workspaceAt(0, a.pipeline); // a caches v0
      expect((await a.loader.load(workspaceDecider, streamId)).fromCache).toBe(true);
      await b.pipeline.handle(workspaceDecider, request(streamId, tenantId, rename('from-b'))); // v1, a does not know

      const outcome = await a.pipeline.handle(workspaceDecider, request(streamId, tenantId, rename('from-a')));
      expect(outcome).toMatchObject({ version: 2, replayed: false, events: [{ type: 'workspaces.renamed', streamVersion: 2 }] });
      const [stored] = await store.readStream(streamId, { fromVersion: 2 });
      expect(stored.envelope.data).toEqual({ name: 'from-a', previousName: 'from-b' }); // decided on the fresh state
      expect(await a.loader.load(workspaceDecider, streamId)).toEqual({ state: await fullFold(streamId), version: 2, fromCache: true });
    });

    it('without If-Match: the fresh decision may say no (the other process closed it)', async () => {
      const a = process_();
      const b = process_();
      const { tenantId, streamId } = await workspaceAt(0, a.pipeline);
      await b.pipeline.handle(workspaceDecider, request(streamId, tenantId, { type: 'CloseWorkspace', reason: 'done' }));
      await expect(a.pipeline.handle(workspaceDecider, request(streamId, tenantId, rename('late')))).rejects.toMatchObject({ code: 'WORKSPACE.CLOSED', status: 409 });
      expect(await store.streamVersion(streamId)).toBe(1);
    });

    it('with a stale If-Match: 409, nothing appended', async () => {
      const a = process_();
      const b = process_();
      const { tenantId, streamId } = await workspaceAt(0, a.pipeline);
      await b.pipeline.handle(workspaceDecider, request(streamId, tenantId, rename('from-b')));
      await expect(a.pipeline.handle(workspaceDecider, request(streamId, tenantId, rename('from-a'), { expectedVersion: 0 }))).rejects.toMatchObject({
        code: 'STREAM.WRONG_EXPECTED_VERSION',
        status: 409,
        details: { streamId, expectedVersion: 0 },
      });
      expect(await store.streamVersion(streamId)).toBe(1);
      expect(await fullFold(streamId)).toMatchObject({ name: 'from-b' });
    });

    it('with the current If-Match (the client saw the other process answer): succeeds', async () => {
      const a = process_();
      const b = process_();
      const { tenantId, streamId } = await workspaceAt(0, a.pipeline);
      const byB = await b.pipeline.handle(workspaceDecider, request(streamId, tenantId, rename('from-b')));
      const outcome = await a.pipeline.handle(workspaceDecider, request(streamId, tenantId, rename('from-a'), { expectedVersion: byB.version }));
      expect(outcome.version).toBe(2);
      expect(await fullFold(streamId)).toMatchObject({ name: 'from-a' });
    });

    it('with If-Match on an unchanged stream: succeeds from the cache', async () => {
      const { pipeline } = process_();
      const { tenantId, streamId } = await workspaceAt(2, pipeline);
      await expect(pipeline.handle(workspaceDecider, request(streamId, tenantId, rename('next'), { expectedVersion: 2 }))).resolves.toMatchObject({ version: 3 });
      await expect(pipeline.handle(workspaceDecider, request(streamId, tenantId, rename('again'), { expectedVersion: 2 }))).rejects.toMatchObject({ status: 409 });
    });
  });

  describe('idempotency keys', () => {
    it('the same key with the same request replays the first outcome; nothing new is appended', async () => {
      const { pipeline } = process_();
      const { tenantId, streamId } = newWorkspace();
      const command = register(tenantId);
      const idempotency = { key: `key-${randomUUID()}`, request: command };
      const first = await pipeline.handle(workspaceDecider, { streamId, command, context: context(tenantId, idempotency) });
      const again = await process_().pipeline.handle(workspaceDecider, { streamId, command, context: context(tenantId, idempotency) });
      expect(first.replayed).toBe(false);
      expect(again).toEqual({ ...first, replayed: true });
      expect(await store.readStream(streamId)).toHaveLength(1);
      const [stored] = await store.readStream(streamId);
      expect(stored.envelope.metadata.idempotencyKey).toBe(idempotency.key);
    });

    it('the same key with another request is refused: 422 IDEMPOTENCY.KEY_REUSED', async () => {
      const { pipeline } = process_();
      const { tenantId, streamId } = await workspaceAt(0);
      const key = `key-${randomUUID()}`;
      await pipeline.handle(workspaceDecider, { streamId, command: rename('first'), context: context(tenantId, { key, request: rename('first') }) });
      const refusal = pipeline.handle(workspaceDecider, { streamId, command: rename('second'), context: context(tenantId, { key, request: rename('second') }) });
      await expect(refusal).rejects.toMatchObject({ code: 'IDEMPOTENCY.KEY_REUSED', status: 422, details: { field: 'Idempotency-Key' } });
      await expect(refusal).rejects.toThrow(key);
      expect(await store.streamVersion(streamId)).toBe(1);
      expect(await fullFold(streamId)).toMatchObject({ name: 'first' });
    });

    it.each([
      ['without If-Match', undefined],
      ['with If-Match', 0],
    ])('a retry that races its first attempt (%s) gets the first outcome, not a conflict or a decision on the state it left', async (_how, expectedVersion) => {
      const { tenantId, streamId } = await workspaceAt(0);
      const command: WorkspaceCommand = { type: 'CloseWorkspace', reason: 'customer left' };
      const key = `key-${randomUUID()}`;
      const attempt = () => ({ streamId, command, context: context(tenantId, { key, request: command }), expectedVersion });
      let first: unknown;
      // The retry passed its idempotency check before the first attempt committed, and appends after it.
      const raced = storeRacedBy('before', 'append', async () => {
        first = await process_().pipeline.handle(workspaceDecider, attempt());
      });
      const retry = new CommandPipeline(raced, signer, new StateLoader(raced, snapshots, signer, SNAPSHOT_EVERY));
      const outcome = await retry.handle(workspaceDecider, attempt());
      expect(outcome).toEqual({ ...(first as object), replayed: true });
      expect(await store.streamVersion(streamId)).toBe(1);
    });

    it('keys belong to a tenant: another tenant may use the same key', async () => {
      const key = `key-${randomUUID()}`;
      const one = newWorkspace();
      const two = newWorkspace();
      const { pipeline } = process_();
      await pipeline.handle(workspaceDecider, { streamId: one.streamId, command: register(one.tenantId), context: context(one.tenantId, { key, request: 1 }) });
      const outcome = await pipeline.handle(workspaceDecider, { streamId: two.streamId, command: register(two.tenantId), context: context(two.tenantId, { key, request: 2 }) });
      expect(outcome).toMatchObject({ streamId: two.streamId, version: 0, replayed: false });
    });
  });

  it('a command that decides nothing appends nothing and answers the current version', async () => {
    const { pipeline } = process_();
    const { tenantId, streamId } = await workspaceAt(1, pipeline);
    const outcome = await pipeline.handle(workspaceDecider, request(streamId, tenantId, rename('name-1')));
    expect(outcome).toEqual({ streamId, version: 1, events: [], replayed: false });
    expect(await store.streamVersion(streamId)).toBe(1);
  });

  it('stored events are signed, canonical and carry the command context', async () => {
    const { pipeline } = process_();
    const { tenantId, streamId } = newWorkspace();
    const req = request(streamId, tenantId, register(tenantId));
    const outcome = await pipeline.handle(workspaceDecider, req);
    const [stored] = await store.readStream(streamId);
    expect(stored.envelope).toMatchObject({
      id: outcome.events[0].id,
      type: 'workspaces.registered',
      schemaVersion: 2,
      streamId,
      tenantId,
      occurredAt: req.context.now,
      actor: req.context.actor,
      metadata: { correlationId: req.context.correlationId, causationId: req.context.causationId, commandId: req.context.commandId },
    });
    expect(signer.verify(stored.envelope)).toEqual({ valid: true });
  });
});
