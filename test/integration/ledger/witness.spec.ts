import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import type { Database } from '../../../src/database/database';
import type { EventStore } from '../../../src/eventstore/event-store.port';
import type { SignedCheckpoint } from '../../../src/ledger/checkpoint';
import type { Ledger } from '../../../src/ledger/ledger';
import { consistencyProof } from '../../../src/ledger/merkle';
import { noteTextOf, witnessCheck } from '../../../src/ledger/note/checkpoint-note';
import { parseNote, parseVerifierKey, type VerifierKey } from '../../../src/ledger/note/signed-note';
import { originHash, Witness, type TrustedLog } from '../../../src/ledger/witness/witness';
import type { WitnessEndpoint } from '../../../src/ledger/witness/witness-client';
import { listen, witnessServer } from '../../../src/ledger/witness/witness-server';
import { LedgerRepository } from '../../../src/ledger/ledger-repository';
import { EventSigner } from '../../../src/signing/event-signer';
import { KeyRegistry } from '../../../src/signing/key-registry';
import { failureOf } from '../../conformance/helpers';
import { openEmbeddedTestDatabase } from '../../support/databases';
import { appendOne, catchUpFully, disableAppendOnly, enableAppendOnly, freshSigning, ledgerOn, storeOn, tenantEvents, type Signing } from './ledger-fixture';

/**
 * Issue 23, item 3: witnesses. Real witness processes' code (the node:http server and the
 * state directory) in this process, the log's side through Ledger.witness over HTTP, the
 * checkpoints in an embedded database. The fork is the one of the hostile-operator suite: the
 * operator deletes the tail and has it signed by a signer that lost its kept heads — which the
 * signer alone cannot notice, and a witness that kept the head it cosigned must.
 */

const T = 'tenant-witnessed';
const ORIGIN = `proofline-test/${T}`;

let db: Database;
let knex: Knex;
let store: EventStore;
let signing: Signing;
let directories: string[];
let running: RunningWitness[];

interface RunningWitness {
  readonly witness: Witness;
  readonly server: Server;
  readonly endpoint: WitnessEndpoint;
  readonly vkey: VerifierKey;
}

beforeEach(async () => {
  signing = freshSigning();
  db = await openEmbeddedTestDatabase();
  knex = db.knex;
  store = storeOn(knex);
  directories = [];
  running = [];
});
afterEach(async () => {
  for (const witness of running) await stop(witness);
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
  await db?.close();
});

function witnessDirectory(name: string): string {
  const directory = mkdtempSync(join(tmpdir(), 'proofline-witness-'));
  directories.push(directory);
  Witness.init(directory, name);
  return directory;
}

/** Opens the witness in `directory` (as `proofline witness serve` does: locked, trusting the log's public key) on a free port. */
async function start(directory: string, logKeys = [signing.keys.active().publicKey], logs: readonly TrustedLog[] = [{ origin: 'proofline-test/*', keys: logKeys }]): Promise<RunningWitness> {
  const witness = Witness.open(directory, logs, { lock: true });
  const server = witnessServer(witness);
  const address = await listen(server, 0, '127.0.0.1');
  const vkey = parseVerifierKey(witness.vkey());
  const started = { witness, server, vkey, endpoint: { vkey, url: `http://127.0.0.1:${address.port}` } };
  running.push(started);
  return started;
}

async function stop(witness: RunningWitness): Promise<void> {
  if (!running.includes(witness)) return;
  running = running.filter((other) => other !== witness);
  await new Promise<void>((resolve) => witness.server.close(() => resolve()));
  witness.witness.close();
}

/** Appends `payees` and has the builder sign a checkpoint over them, recorded in the table (its own event receipted). */
async function checkpointAfter(ledger: Ledger, signer: EventSigner, payees: readonly string[]): Promise<SignedCheckpoint> {
  for (const payee of payees) await appendOne(store, signer, T, { payee });
  await catchUpFully(ledger.builder, knex);
  const checkpoint = await ledger.builder.checkpointNow(T);
  await catchUpFully(ledger.builder, knex);
  expect(checkpoint).toBeDefined();
  return checkpoint!;
}

/**
 * The fork of issue 23: the operator deletes T's events from the k-th on (checkpoint events
 * included), their receipts, T's checkpoints and the cosignatures stored with them, then has
 * `payees` appended and a checkpoint signed by a signer over the same key that lost its kept heads.
 */
async function forkSignedAnyway(k: number, payees: readonly string[]): Promise<{ forked: Ledger; checkpoint: SignedCheckpoint }> {
  const doomed = (await tenantEvents(store, T)).slice(k).map((e) => e.envelope.id);
  await disableAppendOnly(knex);
  await knex.raw('ALTER TABLE ledger_cosignatures DISABLE TRIGGER USER');
  await knex('events').whereIn('event_id', doomed).delete();
  await knex('ledger_receipts').where({ tenant_id: T }).andWhere('sequence', '>=', k).delete();
  await knex('ledger_checkpoints').where({ tenant_id: T }).delete();
  await knex('ledger_cosignatures').where({ tenant_id: T }).delete();
  await knex.raw('ALTER TABLE ledger_cosignatures ENABLE TRIGGER USER');
  await enableAppendOnly(knex);
  const amnesiac = KeyRegistry.open({ keyType: 'ed25519', privateKeyPem: signing.keys.active().privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() });
  const forger = { keys: amnesiac, signer: new EventSigner(amnesiac) };
  const forked = ledgerOn(knex, store, forger);
  await catchUpFully(forked.builder, knex);
  const checkpoint = await checkpointAfter(forked, forger.signer, payees);
  return { forked, checkpoint };
}

/** The head the witness keeps in its own directory for the log: never in Proofline's database. */
function keptByWitness(directory: string): { treeSize: number; rootHash: string; note: string } {
  return JSON.parse(readFileSync(join(directory, 'logs', `${originHash(ORIGIN)}.json`), 'utf8')) as { treeSize: number; rootHash: string; note: string };
}

const rootBase64 = (checkpoint: SignedCheckpoint) => Buffer.from(checkpoint.rootHash, 'hex').toString('base64');

describe('a witness cosigns a head that extends what it saw', () => {
  it('given a checkpoint, then its cosignature is stored with it, appears in its note, and verifies for a verifier requiring that witness', async () => {
    const w1 = await start(witnessDirectory('witness.example/w1'));
    const ledger = ledgerOn(knex, store, signing);
    const checkpoint = await checkpointAfter(ledger, signing.signer, ['alice', 'bob', 'carol']);

    const round = await ledger.witness(T, [w1.endpoint]);

    expect(round).toEqual({ treeSize: checkpoint.treeSize, outcomes: [{ witness: 'witness.example/w1', ok: true, message: `cosigned size ${checkpoint.treeSize} (from size 0)` }] });
    const rows = await knex('ledger_cosignatures').where({ tenant_id: T });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ witness_name: 'witness.example/w1', key_id: w1.vkey.keyId.toString('hex') });
    const served = await ledger.checkpoint(T);
    const note = parseNote(served.note!);
    expect(note.text).toBe(noteTextOf(checkpoint));
    expect(note.text).toBe(`${ORIGIN}\n${checkpoint.treeSize}\n${rootBase64(checkpoint)}\n`);
    expect(note.signatures.map((s) => s.name)).toEqual([ORIGIN, 'witness.example/w1']);
    expect(served.note).toContain(`\u2014 witness.example/w1 ${rows[0].signature}\n`);
    expect(witnessCheck(served, [w1.vkey], 1, [signing.keys.active().publicKey])).toMatchObject({ ok: true });
    // The same note under a head whose root has junk after the hex (which Buffer.from(hex) would drop) is not this head's.
    expect(witnessCheck({ ...served, rootHash: `${served.rootHash}zz` }, [w1.vkey], 1)).toMatchObject({ ok: false, cosignedBy: [] });
    expect(witnessCheck({ ...served, treeSize: checkpoint.treeSize + 1 }, [w1.vkey], 1)).toMatchObject({ ok: false });
    expect(keptByWitness(w1.witness.directory)).toMatchObject({ treeSize: checkpoint.treeSize, rootHash: rootBase64(checkpoint) });
    // The same cosignature comes with the checkpoint wherever it is served.
    expect((await ledger.checkpoints(T))[0].note).toBe(served.note);
    expect((await ledger.receiptDocument(T, 0)).checkpoint.note).toBe(served.note);
  });

  it('given a later checkpoint, then the witness cosigns it from the size it holds with a consistency proof, and the earlier cosignature stays with the earlier head', async () => {
    const w1 = await start(witnessDirectory('witness.example/w1'));
    const ledger = ledgerOn(knex, store, signing);
    const first = await checkpointAfter(ledger, signing.signer, ['alice', 'bob', 'carol']);
    await ledger.witness(T, [w1.endpoint]);
    const second = await checkpointAfter(ledger, signing.signer, ['dave', 'erin']);

    const round = await ledger.witness(T, [w1.endpoint]);

    expect(round.outcomes).toEqual([{ witness: 'witness.example/w1', ok: true, message: `cosigned size ${second.treeSize} (from size ${first.treeSize})` }]);
    const [earlier, later] = await ledger.checkpoints(T);
    expect(witnessCheck(earlier, [w1.vkey], 1).ok).toBe(true);
    expect(witnessCheck(later, [w1.vkey], 1).ok).toBe(true);
    expect(keptByWitness(w1.witness.directory)).toMatchObject({ treeSize: second.treeSize, rootHash: rootBase64(second) });
  });

  it('given a witness asked with a stale old size (the log lost its cosignature rows), then the 409 names the size it holds and the log retries from there', async () => {
    const w1 = await start(witnessDirectory('witness.example/w1'));
    const ledger = ledgerOn(knex, store, signing);
    const first = await checkpointAfter(ledger, signing.signer, ['alice', 'bob']);
    await ledger.witness(T, [w1.endpoint]);
    await knex.raw('ALTER TABLE ledger_cosignatures DISABLE TRIGGER USER');
    await knex('ledger_cosignatures').delete();
    await knex.raw('ALTER TABLE ledger_cosignatures ENABLE TRIGGER USER');
    const second = await checkpointAfter(ledger, signing.signer, ['carol']);

    const round = await ledger.witness(T, [w1.endpoint]);

    expect(round.outcomes).toEqual([{ witness: 'witness.example/w1', ok: true, message: `cosigned size ${second.treeSize} (from size ${first.treeSize})` }]);
  });
});

describe('a witness never cosigns a fork', () => {
  /** The honest history, cosigned by the witness in `directory`: size 4 and its root, the 4th payee "honest". */
  async function honestAndCosigned(w: RunningWitness): Promise<SignedCheckpoint> {
    const ledger = ledgerOn(knex, store, signing);
    const honest = await checkpointAfter(ledger, signing.signer, ['alice', 'bob', 'carol', 'honest']);
    expect(honest.treeSize).toBe(4);
    expect((await ledger.witness(T, [w.endpoint])).outcomes[0]).toMatchObject({ ok: true });
    return honest;
  }

  const forks: ReadonlyArray<readonly [string, number, readonly string[], RegExp]> = [
    ['the same size with another root ({"payee":"mallory"} at 3)', 3, ['mallory'], /already cosigned size 4 with another root: this checkpoint is a fork of what it saw, never cosigned/],
    ['a larger tree that does not extend it (mallory, dave, erin from 3)', 3, ['mallory', 'dave', 'erin'], /no valid consistency proof from size 4 .*: a fork is never cosigned/],
    ['a smaller tree (the tail deleted from 2, nothing appended)', 2, [], /already cosigned size 4, larger than this checkpoint \(2\)/],
  ];

  it.each(forks)('given a fork signed with the real key — %s — then the witness refuses it, nothing is stored and it keeps the honest head', async (_name, k, payees, why) => {
    const directory = witnessDirectory('witness.example/w1');
    const w1 = await start(directory);
    const honest = await honestAndCosigned(w1);

    const { forked, checkpoint } = await forkSignedAnyway(k, payees);
    expect(checkpoint.rootHash).not.toBe(honest.rootHash);
    const round = await forked.witness(T, [w1.endpoint]);

    expect(round.outcomes).toHaveLength(1);
    expect(round.outcomes[0]).toMatchObject({ witness: 'witness.example/w1', ok: false });
    expect(round.outcomes[0].message).toMatch(why);
    expect(await knex('ledger_cosignatures').where({ tenant_id: T })).toEqual([]);
    expect(witnessCheck(await forked.checkpoint(T), [w1.vkey], 1)).toMatchObject({ ok: false, cosignedBy: [] });
    expect(keptByWitness(directory)).toMatchObject({ treeSize: honest.treeSize, rootHash: rootBase64(honest) });
  });

  it('given the witness restarted after cosigning (a new process on its own directory), then it still holds the honest head and still refuses the fork, at any old size the log claims', async () => {
    const directory = witnessDirectory('witness.example/w1');
    const before = await start(directory);
    const honest = await honestAndCosigned(before);
    await stop(before);

    const { forked, checkpoint } = await forkSignedAnyway(3, ['mallory']);
    const after = await start(directory);
    expect(after.vkey.keyId).toEqual(before.vkey.keyId);
    expect(after.witness.cosigned(ORIGIN)).toMatchObject({ treeSize: honest.treeSize, rootHash: rootBase64(honest) });

    const round = await forked.witness(T, [after.endpoint]);
    expect(round.outcomes[0]).toMatchObject({ ok: false });
    expect(round.outcomes[0].message).toMatch(/fork of what it saw, never cosigned/);

    // Asked directly, as a hostile log would: with the old size it holds, from 0, and claiming the fork's own size.
    const note = (await forked.checkpoint(T)).note!;
    const leaves = await new LedgerRepository(knex).leafHashes(T, checkpoint.treeSize);
    const ask = (old: number, proof: readonly Buffer[] = []) => after.witness.addCheckpoint(`old ${old}\n${proof.map((h) => `${h.toString('base64')}\n`).join('')}\n${note}`);
    expect(await ask(4)).toMatchObject({ status: 409, contentType: 'text/x.tlog.size', body: '4\n' });
    expect(await ask(4, [Buffer.alloc(32)])).toMatchObject({ status: 409 });
    const honestNote = after.witness.cosigned(ORIGIN)!.note;
    expect(await after.witness.addCheckpoint(`old 4\n${Buffer.alloc(32).toString('base64')}\n\n${honestNote}`)).toMatchObject({ status: 422 });
    expect(await after.witness.addCheckpoint(`old 4\n\n${honestNote}`)).toMatchObject({ status: 200 });
    expect(await ask(0)).toMatchObject({ status: 409, body: '4\n' });
    expect(await ask(2, consistencyProof(leaves, 2, checkpoint.treeSize))).toMatchObject({ status: 409, body: '4\n' });
    expect(keptByWitness(directory)).toMatchObject({ treeSize: honest.treeSize, rootHash: rootBase64(honest) });

    // And the honest log, going on, is still cosigned by the restarted witness.
    expect(after.witness.cosigned(ORIGIN)?.note).toContain('\u2014 witness.example/w1 ');
  });

  it('given a second witness process on the same directory, then it is refused (one process owns the state)', async () => {
    const directory = witnessDirectory('witness.example/w1');
    await start(directory);
    expect(() => Witness.open(directory, [], { lock: true })).toThrow(/another witness process/);
  });

  it('given a checkpoint planted in the table by an operator without the key, then the witness refuses it: the log signature does not verify', async () => {
    const w1 = await start(witnessDirectory('witness.example/w1'));
    const honest = await honestAndCosigned(w1);
    const ledger = ledgerOn(knex, store, signing);
    const stored = await new LedgerRepository(knex).latestCheckpoint(T);
    const plantedRoot = Buffer.alloc(32, 7).toString('hex');
    await disableAppendOnly(knex);
    await knex('ledger_checkpoints').where({ tenant_id: T, tree_size: honest.treeSize }).update({ root_hash: plantedRoot });
    await enableAppendOnly(knex);
    expect(stored?.noteSignature).toBeDefined();

    const round = await ledger.witness(T, [w1.endpoint]);

    expect(round.outcomes[0]).toMatchObject({ ok: false });
    expect(round.outcomes[0].message).toMatch(/HTTP 403.*does not verify/);
    expect(keptByWitness(w1.witness.directory)).toMatchObject({ rootHash: rootBase64(honest) });
  });

  it('given a checkpoint row whose root was planted as text that is not hex (no note can be written of it), then the round is refused with LEDGER.NOT_A_NOTE and no witness is asked', async () => {
    const w1 = await start(witnessDirectory('witness.example/w1'));
    const honest = await honestAndCosigned(w1);
    const ledger = ledgerOn(knex, store, signing);
    await disableAppendOnly(knex);
    await knex('ledger_checkpoints').where({ tenant_id: T, tree_size: honest.treeSize }).update({ root_hash: 'not hex at all' });
    await enableAppendOnly(knex);

    const refused = await failureOf(ledger.witness(T, [w1.endpoint]));

    expect(refused).toMatchObject({ code: 'LEDGER.NOT_A_NOTE', status: 409 });
    expect(keptByWitness(w1.witness.directory)).toMatchObject({ rootHash: rootBase64(honest) });
  });

  it('given a witness told two keys for the log in separate --log entries (before and after a rotation), then a checkpoint signed with the second is cosigned', async () => {
    const before = KeyRegistry.open({ keyType: 'ed25519' }).active().publicKey;
    const w1 = await start(witnessDirectory('witness.example/w1'), [], [
      { origin: 'proofline-test/*', keys: [before] },
      { origin: ORIGIN, keys: [signing.keys.active().publicKey] },
    ]);
    const ledger = ledgerOn(knex, store, signing);
    await checkpointAfter(ledger, signing.signer, ['alice']);

    expect((await ledger.witness(T, [w1.endpoint])).outcomes[0]).toMatchObject({ ok: true });
  });

  it('given a witness that does not trust the log key, then it answers 403 and the round reports it', async () => {
    const w1 = await start(witnessDirectory('witness.example/w1'), [KeyRegistry.open({ keyType: 'ed25519' }).active().publicKey]);
    const ledger = ledgerOn(knex, store, signing);
    await checkpointAfter(ledger, signing.signer, ['alice']);

    const round = await ledger.witness(T, [w1.endpoint]);

    expect(round.outcomes[0]).toMatchObject({ ok: false });
    expect(round.outcomes[0].message).toMatch(/HTTP 403.*no note signature of proofline-test\/tenant-witnessed by a trusted key/);
  });
});
