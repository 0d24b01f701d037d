import { randomUUID, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { canonicalJson, type EventEnvelope } from '../../../contracts';
import type { Database } from '../../../src/database/database';
import type { EventStore } from '../../../src/eventstore/event-store.port';
import { checkpointBytes } from '../../../src/ledger/checkpoint';
import { verifyExtendsKept } from '../../../src/ledger/kept-checkpoint';
import { LedgerRepository } from '../../../src/ledger/ledger-repository';
import { verifyReceiptDocument } from '../../../src/ledger/receipt-document';
import { EventSigner } from '../../../src/signing/event-signer';
import { KeyRegistry } from '../../../src/signing/key-registry';
import { failureOf } from '../../conformance/helpers';
import { openEmbeddedTestDatabase } from '../../support/databases';
import {
  appendInterleaved,
  appendOne,
  businessEvent,
  catchUpFully,
  disableAppendOnly,
  enableAppendOnly,
  freshSigning,
  ledgerOn,
  storeOn,
  tenantEvents,
  type Signing,
} from './ledger-fixture';

/**
 * The attacks of issue 23, played by an operator with superuser rights on the database but
 * without the signing key: each test failed on the code before the fix it names.
 */

const T = 'tenant-victim';
const B = 'tenant-bystander';

let db: Database;
let knex: Knex;
let store: EventStore;
let repository: LedgerRepository;
let signing: Signing;

beforeEach(async () => {
  signing = freshSigning();
  db = await openEmbeddedTestDatabase();
  knex = db.knex;
  store = storeOn(knex);
  repository = new LedgerRepository(knex);
});
afterEach(async () => {
  await db?.close();
});

/** Stores `bytes` as the row of an event appended now (the attacker rewrites the row, triggers off). */
async function storeBytes(event: EventEnvelope, bytes: string): Promise<void> {
  await store.append(event.streamId, [event], 'any');
  await disableAppendOnly(knex);
  await knex('events').where({ event_id: event.id }).update({ envelope: bytes });
  await enableAppendOnly(knex);
}

const receiptedIds = async (tenantId: string) => (await repository.receipts(tenantId)).map((r) => r.eventId);

describe('one byte string per event', () => {
  it('given stored bytes with a duplicate key ("amount":999999,"amount":100), then the builder receipts nothing of that tenant from there, and verify names it', async () => {
    const [good] = await appendInterleaved(store, signing.signer, [T]);
    const event = businessEvent(signing.signer, T, { amount: 100 });
    const canonical = canonicalJson(event);
    const duplicated = canonical.replace('"amount":100', '"amount":999999,"amount":100');
    expect(duplicated).not.toBe(canonical);
    await storeBytes(event, duplicated);
    const after = await appendOne(store, signing.signer, T, { amount: 5 });
    const ledger = ledgerOn(knex, store, signing);

    await catchUpFully(ledger.builder, knex);

    expect(await receiptedIds(T)).toEqual([good.id]);
    expect(await receiptedIds(T)).not.toContain(after.id);
    expect(await ledger.status(T)).toMatchObject({ builder: 'halted', halt: { code: 'LEDGER.NOT_CANONICAL', eventId: event.id } });
    expect(await ledger.verify(T)).toMatchObject({ ok: false, fault: { kind: 'not-canonical', position: 1, eventId: event.id } });
  });

  /** Each is a byte string other than the one signed, whose signature a lenient decoder still accepts. */
  const malleable: ReadonlyArray<readonly [string, (envelope: EventEnvelope) => EventEnvelope]> = [
    ['padding stripped', (e) => withSignature(e, { ...e.metadata.signature, value: e.metadata.signature.value.replace(/=+$/, '') })],
    ['junk appended', (e) => withSignature(e, { ...e.metadata.signature, value: `${e.metadata.signature.value}!!` })],
    ['base64url alphabet', (e) => withSignature(e, { ...e.metadata.signature, value: e.metadata.signature.value.replace(/\+/g, '-').replace(/\//g, '_') })],
    ['white space inside', (e) => withSignature(e, { ...e.metadata.signature, value: `${e.metadata.signature.value.slice(0, 8)} ${e.metadata.signature.value.slice(8)}` })],
    ['an extra field in the signature block', (e) => withSignature(e, { ...e.metadata.signature, note: 'x' } as never)],
  ];

  it.each(malleable)('given a signed event stored with its signature %s, then it is never receipted', async (_name, change) => {
    let event = businessEvent(signing.signer, T, { amount: 100 });
    // The base64url variant needs a '+' or '/' to change; an Ed25519 signature lacks both about one time in twenty.
    while (!/[+/]/.test(event.metadata.signature.value)) event = businessEvent(signing.signer, T, { amount: 100 });
    const variant = change(event);
    expect(canonicalJson(variant)).not.toBe(canonicalJson(event));
    await storeBytes(event, canonicalJson(variant));
    const ledger = ledgerOn(knex, store, signing);

    await catchUpFully(ledger.builder, knex);

    expect(await receiptedIds(T)).toEqual([]);
    expect(await ledger.status(T)).toMatchObject({ builder: 'halted', halt: { eventId: event.id } });
    expect(signing.signer.verifyStored((await tenantEvents(store, T))[0])).toMatchObject({ valid: false });
  });
});

describe('a bad event stops its tenant, not the world', () => {
  it('given an event of T that does not verify, then T halts at it (and stays halted after a restart) while B keeps getting receipts and checkpoints', async () => {
    const before = await appendInterleaved(store, signing.signer, [T, B]);
    const forged = businessEvent(signing.signer, T, { amount: 100 });
    const tampered = { ...forged, data: { amount: 1_000_000 } };
    await store.append(tampered.streamId, [tampered], 'any');
    const laterT = await appendOne(store, signing.signer, T, { amount: 5 });
    const laterB = await appendOne(store, signing.signer, B, { amount: 6 });
    const ledger = ledgerOn(knex, store, signing, { batchSize: 2 });

    await catchUpFully(ledger.builder, knex);
    const checkpointB = await ledger.builder.checkpointNow(B);

    expect(await receiptedIds(T)).toEqual([before[0].id]);
    expect(await receiptedIds(B)).toEqual([before[1].id, laterB.id]);
    expect(checkpointB).toMatchObject({ treeSize: 2 });
    expect(await ledger.status(T)).toMatchObject({ builder: 'halted', halt: { code: 'LEDGER.UNVERIFIABLE_EVENT', eventId: tampered.id } });
    expect(await ledger.status(B)).toMatchObject({ builder: 'running' });

    const restarted = ledgerOn(knex, store, signing);
    await appendOne(store, signing.signer, B, { amount: 7 });
    await appendOne(store, signing.signer, T, { amount: 8 });
    await catchUpFully(restarted.builder, knex);
    expect(await receiptedIds(T)).toEqual([before[0].id]);
    expect(await receiptedIds(T)).not.toContain(laterT.id);
    expect((await receiptedIds(B)).length).toBe(4); // two events, B's checkpoint event, one more
    expect(await restarted.status(T)).toMatchObject({ builder: 'halted' });
  });
});

describe('the signer never signs a fork', () => {
  async function honestHistory(): Promise<{ checkpointSize: number; root: string }> {
    await appendOne(store, signing.signer, T, { payee: 'alice' });
    await appendOne(store, signing.signer, T, { payee: 'bob' });
    await appendOne(store, signing.signer, T, { payee: 'carol' });
    await appendOne(store, signing.signer, T, { payee: 'honest' });
    const ledger = ledgerOn(knex, store, signing);
    await catchUpFully(ledger.builder, knex);
    const checkpoint = await ledger.builder.checkpointNow(T);
    expect(checkpoint).toMatchObject({ treeSize: 4 });
    return { checkpointSize: 4, root: checkpoint!.rootHash };
  }

  /** Deletes T's events from the k-th on (checkpoint events included), their receipts and T's checkpoint rows. */
  async function forkByDeletion(k: number): Promise<void> {
    const events = await tenantEvents(store, T);
    const doomed = events.slice(k).map((e) => e.envelope.id);
    await disableAppendOnly(knex);
    await knex('events').whereIn('event_id', doomed).delete();
    await knex('ledger_receipts').where({ tenant_id: T }).andWhere('sequence', '>=', k).delete();
    await knex('ledger_checkpoints').where({ tenant_id: T }).delete();
    await enableAppendOnly(knex);
  }

  it('given T\'s tail deleted and rewritten ({"payee":"mallory"} at 3), then after a restart the builder refuses to sign the same size with another root: LEDGER.FORK_REFUSED with both heads', async () => {
    const honest = await honestHistory();
    await forkByDeletion(3);
    await appendOne(store, signing.signer, T, { payee: 'mallory' });
    await appendOne(store, signing.signer, T, { payee: 'dave' });
    const restarted = ledgerOn(knex, store, signing);
    await catchUpFully(restarted.builder, knex);

    const failure = await failureOf(restarted.builder.checkpointNow(T));

    expect(failure).toMatchObject({ code: 'LEDGER.FORK_REFUSED', details: { kept: { treeSize: honest.checkpointSize, rootHash: honest.root } } });
    expect(await repository.checkpoints(T)).toEqual([]);
    expect(await restarted.status(T)).toMatchObject({ builder: 'fork-refused', forkRefused: { kept: { treeSize: 4, rootHash: honest.root } } });
  });

  it('given one event deleted from the middle with a bystander interleaved and the progress rewound for everyone, then T is refused while B, rebuilt bit for bit, is still signed', async () => {
    await appendInterleaved(store, signing.signer, [T, B, T, B, T, B, T]);
    const ledger = ledgerOn(knex, store, signing);
    await catchUpFully(ledger.builder, knex);
    const keptT = await ledger.builder.checkpointNow(T);
    const keptB = await ledger.builder.checkpointNow(B);
    const receiptsB = await repository.receipts(B);
    const doomed = (await tenantEvents(store, T))[1];

    await disableAppendOnly(knex);
    await knex('events').where({ event_id: doomed.envelope.id }).delete();
    await knex('events').whereIn('event_type', ['ledger.checkpoint-issued']).delete();
    await knex('ledger_receipts').delete();
    await knex('ledger_checkpoints').delete();
    await knex('ledger_progress').delete();
    await enableAppendOnly(knex);
    await appendOne(store, signing.signer, T, { payee: 'mallory' });
    await appendOne(store, signing.signer, B, { n: 99 });

    const restarted = ledgerOn(knex, store, signing);
    await catchUpFully(restarted.builder, knex);

    expect((await repository.receipts(B)).slice(0, receiptsB.length)).toEqual(receiptsB.slice(0, 3));
    expect(await failureOf(restarted.builder.checkpointNow(T))).toMatchObject({ code: 'LEDGER.FORK_REFUSED', details: { kept: { treeSize: keptT!.treeSize } } });
    expect(await restarted.builder.checkpointNow(B)).toMatchObject({ treeSize: 4 });
    expect(keptB).toMatchObject({ treeSize: 3 });
    expect((await repository.checkpoints(T)).length).toBe(0);
  });

  it('given a refused fork, then only an explicit rewind naming the database root lets the signer go on, and the head given up is kept', async () => {
    await honestHistory();
    await forkByDeletion(2);
    await appendOne(store, signing.signer, T, { payee: 'mallory' });
    const restarted = ledgerOn(knex, store, signing);
    await catchUpFully(restarted.builder, knex);
    const refused = (await failureOf(restarted.builder.checkpointNow(T))) as { details: { database: { rootHash: string; treeSize: number } } };

    expect(await failureOf(restarted.rewindSigner(T, '0'.repeat(64), 'restored the 2026-12-01 backup'))).toMatchObject({ code: 'LEDGER.REWIND_MISMATCH' });
    expect(await failureOf(restarted.builder.checkpointNow(T))).toMatchObject({ code: 'LEDGER.FORK_REFUSED' });

    const { gaveUp, accepted } = await restarted.rewindSigner(T, refused.details.database.rootHash, 'restored the 2026-12-01 backup');
    expect(gaveUp).toMatchObject({ treeSize: 4 });
    expect(accepted).toMatchObject({ treeSize: refused.details.database.treeSize, rootHash: refused.details.database.rootHash });
    expect(await restarted.builder.checkpointNow(T)).toMatchObject({ treeSize: 3 });
    expect(await restarted.status(T)).toMatchObject({ builder: 'running' });
  });

  /** A second host of the deployment: the same signing key, a registry (and kept heads) of its own. */
  function standbyHost(): Signing {
    const keys = KeyRegistry.open({ keyType: 'ed25519', privateKeyPem: signing.keys.active().privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() });
    return { keys, signer: new EventSigner(keys) };
  }

  /** Deletes T's events from the k-th on and their receipts, leaving T's checkpoint rows in place. */
  async function forkKeepingCheckpoints(k: number): Promise<void> {
    const doomed = (await tenantEvents(store, T)).slice(k).map((e) => e.envelope.id);
    await disableAppendOnly(knex);
    await knex('events').whereIn('event_id', doomed).delete();
    await knex('ledger_receipts').where({ tenant_id: T }).andWhere('sequence', '>=', k).delete();
    await enableAppendOnly(knex);
  }

  it('given a failover to a standby whose heads are empty and T\'s tail rewritten meanwhile, then the standby extends the latest checkpoint it can verify in the store and refuses the fork', async () => {
    const honest = await honestHistory();
    await catchUpFully(ledgerOn(knex, store, signing).builder, knex); // the checkpoint is recorded once its own event is receipted
    expect((await repository.latestCheckpoint(T))?.treeSize).toBe(honest.checkpointSize);
    await forkKeepingCheckpoints(3);
    await appendOne(store, signing.signer, T, { payee: 'mallory' });
    await appendOne(store, signing.signer, T, { payee: 'dave' });
    const standby = ledgerOn(knex, store, standbyHost());
    await catchUpFully(standby.builder, knex);

    const failure = await failureOf(standby.builder.checkpointNow(T));

    expect(failure).toMatchObject({ code: 'LEDGER.FORK_REFUSED', details: { kept: { treeSize: honest.checkpointSize, rootHash: honest.root } } });
    expect((await repository.latestCheckpoint(T))?.treeSize).toBe(honest.checkpointSize);
  });

  it('given a failover to a standby whose heads are empty and an honest history, then the standby extends the stored checkpoint and signs', async () => {
    const honest = await honestHistory();
    await catchUpFully(ledgerOn(knex, store, signing).builder, knex);
    await appendOne(store, signing.signer, T, { payee: 'erin' });
    const standby = ledgerOn(knex, store, standbyHost());
    await catchUpFully(standby.builder, knex);

    expect(await standby.builder.checkpointNow(T)).toMatchObject({ treeSize: honest.checkpointSize + 2 });
  });

  it('given a fail-back to a host whose own head is older than the checkpoint the standby signed, and the tail after it rewritten, then it refuses: the larger checkpoint in the store its keys verify must be extended too', async () => {
    const honest = await honestHistory(); // host A signs size 4 (its head: 4)
    await catchUpFully(ledgerOn(knex, store, signing).builder, knex);
    await appendOne(store, signing.signer, T, { payee: 'erin' });
    await appendOne(store, signing.signer, T, { payee: 'frank' });
    const standby = ledgerOn(knex, store, standbyHost());
    await catchUpFully(standby.builder, knex);
    const signedByStandby = (await standby.builder.checkpointNow(T))!;
    await catchUpFully(standby.builder, knex);
    // The operator rewrites everything after A's head (the standby's signed tail), leaving the checkpoint rows in place.
    await forkKeepingCheckpoints(honest.checkpointSize + 1);
    for (const payee of ['mallory', 'mallory2', 'mallory3', 'mallory4']) await appendOne(store, signing.signer, T, { payee });
    const failback = ledgerOn(knex, store, signing); // host A again, with its own head (size 4)
    await catchUpFully(failback.builder, knex);

    const failure = await failureOf(failback.builder.checkpointNow(T));

    expect(failure).toMatchObject({ code: 'LEDGER.FORK_REFUSED', details: { kept: { treeSize: signedByStandby.treeSize, rootHash: signedByStandby.rootHash } } });
  });

  it('given a rewind accepted by the operator after a restore, then a larger checkpoint of the history given up, still in the store, does not block signing', async () => {
    await honestHistory();
    await catchUpFully(ledgerOn(knex, store, signing).builder, knex);
    await forkKeepingCheckpoints(2); // as a restore from an older backup that kept the later checkpoint rows would leave it
    await appendOne(store, signing.signer, T, { payee: 'after the restore' });
    const restarted = ledgerOn(knex, store, signing);
    await catchUpFully(restarted.builder, knex);
    const refused = (await failureOf(restarted.builder.checkpointNow(T))) as { details: { database: { rootHash: string; treeSize: number } } };
    expect(refused).toMatchObject({ code: 'LEDGER.FORK_REFUSED' });

    await restarted.rewindSigner(T, refused.details.database.rootHash, 'restored the 2026-12-01 backup');

    expect(await restarted.builder.checkpointNow(T)).toMatchObject({ treeSize: refused.details.database.treeSize });
    // And the checkpoints after it: the given-up checkpoint (size 4) is never a head to extend again, whatever the clocks say.
    await catchUpFully(restarted.builder, knex);
    await appendOne(store, signing.signer, T, { payee: 'later' });
    await catchUpFully(restarted.builder, knex);
    const next = await restarted.builder.checkpointNow(T);
    expect(next!.treeSize).toBeGreaterThan(refused.details.database.treeSize);
    await appendOne(store, signing.signer, T, { payee: 'later still' });
    await catchUpFully(restarted.builder, knex);
    expect((await restarted.builder.checkpointNow(T))!.treeSize).toBeGreaterThan(next!.treeSize);
  });

  it('given one planted checkpoint row above the real one (its signature does not verify), then the real larger checkpoint is still the head to extend on a fail-back', async () => {
    const honest = await honestHistory();
    await catchUpFully(ledgerOn(knex, store, signing).builder, knex);
    await appendOne(store, signing.signer, T, { payee: 'erin' });
    const standby = ledgerOn(knex, store, standbyHost());
    await catchUpFully(standby.builder, knex);
    const signedByStandby = (await standby.builder.checkpointNow(T))!;
    await catchUpFully(standby.builder, knex);
    const real = (await repository.latestCheckpoint(T))!;
    await disableAppendOnly(knex);
    await knex('ledger_checkpoints').insert({ ...(await knex('ledger_checkpoints').where({ tenant_id: T, tree_size: real.treeSize }).first()), tree_size: 1_000_000, event_id: randomUUID() });
    await enableAppendOnly(knex);
    await forkKeepingCheckpoints(honest.checkpointSize + 1);
    for (const payee of ['mallory', 'mallory2', 'mallory3']) await appendOne(store, signing.signer, T, { payee });
    const failback = ledgerOn(knex, store, signing);
    await catchUpFully(failback.builder, knex);

    expect(await failureOf(failback.builder.checkpointNow(T))).toMatchObject({ code: 'LEDGER.FORK_REFUSED', details: { kept: { treeSize: signedByStandby.treeSize } } });
  });

  it('given hosts that share PROOFLINE_LEDGER_HEADS_DIR and a fork that also deleted the checkpoints, then the standby still refuses it: it reads the head the first host signed', async () => {
    const shared = mkdtempSync(join(tmpdir(), 'proofline-heads-'));
    try {
      for (const payee of ['alice', 'bob', 'carol', 'honest']) await appendOne(store, signing.signer, T, { payee });
      const first = ledgerOn(knex, store, signing, { headsDirectory: shared });
      await catchUpFully(first.builder, knex);
      const signed = (await first.builder.checkpointNow(T))!;
      await forkByDeletion(3);
      await appendOne(store, signing.signer, T, { payee: 'mallory' });
      await appendOne(store, signing.signer, T, { payee: 'dave' });
      const standby = ledgerOn(knex, store, standbyHost(), { headsDirectory: shared });
      await catchUpFully(standby.builder, knex);

      expect(await failureOf(standby.builder.checkpointNow(T))).toMatchObject({ code: 'LEDGER.FORK_REFUSED', details: { kept: { treeSize: signed.treeSize, rootHash: signed.rootHash } } });
      // Without the shared directory (and with the checkpoints deleted) the standby has nothing to extend: the documented limit.
      const isolated = ledgerOn(knex, store, standbyHost());
      await catchUpFully(isolated.builder, knex);
      expect(await isolated.builder.checkpointNow(T)).toMatchObject({ treeSize: 5 });
    } finally {
      rmSync(shared, { recursive: true, force: true });
    }
  });

  it('given a database that only lost receipts (the events are intact), then the rebuilt tree extends the kept head and is signed', async () => {
    const honest = await honestHistory();
    await disableAppendOnly(knex);
    await knex('ledger_receipts').delete();
    await knex('ledger_checkpoints').delete();
    await knex('ledger_progress').delete();
    await enableAppendOnly(knex);
    await appendOne(store, signing.signer, T, { payee: 'erin' });
    const restarted = ledgerOn(knex, store, signing);
    await catchUpFully(restarted.builder, knex);

    const next = await restarted.builder.checkpointNow(T);

    expect(next).toMatchObject({ treeSize: honest.checkpointSize + 2 }); // + the checkpoint's own event and erin's
  });
});

describe('rotation is revocation of the signing power', () => {
  it('given a checkpoint dated after its key was retired, signed with the retired key and planted in the table, then ledger verify rejects it', async () => {
    for (const payee of ['a', 'b', 'c']) await appendOne(store, signing.signer, T, { payee });
    const ledger = ledgerOn(knex, store, signing);
    await catchUpFully(ledger.builder, knex);
    const old = signing.keys.active();
    signing.keys.rotate(); // in memory: retiredAt is now
    const issuedAt = new Date(Date.parse(signing.keys.get(old.keyId)!.retiredAt!) + 60_000).toISOString();
    const body = { origin: `proofline-test/${T}`, treeSize: 3, rootHash: (await ledger.consistency(T, 3, 3)).toRoot, issuedAt };
    const value = sign(null, checkpointBytes(body)!, old.privateKey).toString('base64');
    await knex('ledger_checkpoints').insert({ tenant_id: T, tree_size: 3, origin: body.origin, root_hash: body.rootHash, issued_at: issuedAt, signature_alg: 'EdDSA', signature_key: old.keyId, signature_value: value, event_id: randomUUID() });

    expect(await ledger.verify(T)).toMatchObject({ ok: false, fault: { kind: 'bad-checkpoint', position: 2 } });
    expect((await ledger.verify(T)).fault?.message).toContain('retired');
  });
});

describe('an auditor who kept a checkpoint', () => {
  it('given a fork signed anyway (the operator also wiped the heads beside the key), then verify-receipt --since and ledger consistency --from against the kept head detect it, while the documents alone verify', async () => {
    for (const payee of ['alice', 'bob', 'carol', 'honest']) await appendOne(store, signing.signer, T, { payee });
    const ledger = ledgerOn(knex, store, signing);
    await catchUpFully(ledger.builder, knex);
    const kept = (await ledger.builder.checkpointNow(T))!;
    const origin = kept.origin;
    const trusted = [signing.keys.active().publicKey];
    await appendOne(store, signing.signer, T, { payee: 'dave' });
    await catchUpFully(ledger.builder, knex);
    await ledger.builder.checkpointNow(T);
    await catchUpFully(ledger.builder, knex); // a checkpoint is recorded when its own event is receipted
    const honestDocument = await ledger.receiptDocument(T, 3, kept.treeSize);
    expect(verifyReceiptDocument(honestDocument, trusted, { since: kept, origin })).toMatchObject({ valid: true });

    // The fork, signed by a signer over the same key that forgot its heads.
    await disableAppendOnly(knex);
    const doomed = (await tenantEvents(store, T)).slice(3).map((e) => e.envelope.id);
    await knex('events').whereIn('event_id', doomed).delete();
    await knex('ledger_receipts').where({ tenant_id: T }).andWhere('sequence', '>=', 3).delete();
    await knex('ledger_checkpoints').where({ tenant_id: T }).delete();
    await enableAppendOnly(knex);
    const amnesiac = KeyRegistry.open({ keyType: 'ed25519', privateKeyPem: signing.keys.active().privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() });
    const forger = { keys: amnesiac, signer: new EventSigner(amnesiac) };
    for (const payee of ['mallory', 'dave', 'erin']) await appendOne(store, forger.signer, T, { payee });
    const forked = ledgerOn(knex, store, forger);
    await catchUpFully(forked.builder, knex);
    const today = (await forked.builder.checkpointNow(T))!;
    expect(today.treeSize).toBeGreaterThan(kept.treeSize);
    await catchUpFully(forked.builder, knex);
    const forkedDocument = await forked.receiptDocument(T, 3, kept.treeSize);

    expect(forkedDocument.event.data).toEqual({ payee: 'mallory' });
    expect(verifyReceiptDocument(forkedDocument, trusted, { origin })).toMatchObject({ valid: true }); // the key alone cannot tell
    const withKept = verifyReceiptDocument(forkedDocument, trusted, { since: kept, origin });
    expect(withKept.valid).toBe(false);
    expect(withKept.checks.filter((check) => !check.ok).map((check) => check.name)).toEqual(['extends the kept head']);
    const proof = (await forked.consistency(T, kept.treeSize, today.treeSize)).hashes;
    expect(verifyExtendsKept(kept, today, proof, trusted, origin).filter((check) => !check.ok).map((check) => check.name)).toEqual(['extends the kept head']);
    expect(verifyReceiptDocument(honestDocument, trusted, { origin: 'another-instance/tenant-victim' })).toMatchObject({ valid: false });
  });

  it('given GET consistency between two checkpointed sizes, then both ends come with their signed heads', async () => {
    for (const payee of ['a', 'b', 'c']) await appendOne(store, signing.signer, T, { payee });
    const ledger = ledgerOn(knex, store, signing);
    await catchUpFully(ledger.builder, knex);
    const first = (await ledger.builder.checkpointNow(T))!;
    await appendOne(store, signing.signer, T, { payee: 'd' });
    await catchUpFully(ledger.builder, knex);
    const second = (await ledger.builder.checkpointNow(T))!;
    await catchUpFully(ledger.builder, knex);

    const view = await ledger.consistency(T, first.treeSize, second.treeSize);

    expect(view.fromCheckpoint).toEqual(first);
    expect(view.toCheckpoint).toEqual(second);
    expect(await ledger.checkpoints(T)).toEqual([first, second]);
    expect(verifyExtendsKept(first, view.toCheckpoint!, view.hashes, [signing.keys.active().publicKey], first.origin).every((check) => check.ok)).toBe(true);
  });
});

function withSignature(envelope: EventEnvelope, signature: EventEnvelope['metadata']['signature']): EventEnvelope {
  return { ...envelope, metadata: { ...envelope.metadata, signature } };
}
