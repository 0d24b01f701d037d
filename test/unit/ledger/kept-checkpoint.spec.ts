import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { checkpointBytes, type CheckpointBody, type SignedCheckpoint } from '../../../src/ledger/checkpoint';
import { verifyExtendsKept } from '../../../src/ledger/kept-checkpoint';
import { consistencyProof, leafHash, rootFromLeafHashes } from '../../../src/ledger/merkle';
import { keyIdOf } from '../../../src/signing/signing-key';

const ORIGIN = 'proofline-test/tenant-1';
const { privateKey, publicKey } = generateKeyPairSync('ed25519');

function head(leaves: readonly Buffer[], size: number, key: KeyObject = privateKey, origin = ORIGIN): SignedCheckpoint {
  const body: CheckpointBody = { origin, treeSize: size, rootHash: rootFromLeafHashes(leaves.slice(0, size)).toString('hex'), issuedAt: '2026-12-04T18:00:00.000Z' };
  const pub = key === privateKey ? publicKey : generateKeyPairSync('ed25519').publicKey;
  return { ...body, signature: { alg: 'EdDSA', keyId: keyIdOf(pub), value: sign(null, checkpointBytes(body)!, key).toString('base64') } };
}

const leavesOf = (payees: readonly string[]) => payees.map((payee, i) => leafHash(Buffer.from(JSON.stringify({ i, payee }))));
const failed = (checks: ReturnType<typeof verifyExtendsKept>) => checks.filter((check) => !check.ok).map((check) => check.name);

describe('an auditor who kept a checkpoint: does today\'s signed head extend it?', () => {
  const honest = leavesOf(['alice', 'bob', 'carol', 'honest', 'dave', 'erin']);
  const forked = leavesOf(['alice', 'bob', 'carol', 'mallory', 'dave', 'erin']);

  it('given the same history grown, then every check holds', () => {
    const kept = head(honest, 4);
    const today = head(honest, 6);
    expect(failed(verifyExtendsKept(kept, today, consistencyProof(honest, 4, 6).map((h) => h.toString('hex')), [publicKey], ORIGIN))).toEqual([]);
  });

  it('given a history rewritten at 3 and signed again (the fork by deletion), then no proof the server can give makes it extend the kept head', () => {
    const kept = head(honest, 4);
    const today = head(forked, 6);
    expect(failed(verifyExtendsKept(kept, today, consistencyProof(forked, 4, 6).map((h) => h.toString('hex')), [publicKey]))).toEqual(['extends the kept head']);
    expect(failed(verifyExtendsKept(kept, head(forked, 4), [], [publicKey]))).toEqual(['extends the kept head']);
  });

  it('given a head smaller than the kept one (a rewind), another origin, or a head not signed by a trusted key, then it is refused', () => {
    expect(failed(verifyExtendsKept(head(honest, 6), head(honest, 4), [], [publicKey]))).toEqual(['extends the kept head']);
    expect(failed(verifyExtendsKept(head(honest, 4), head(honest, 6, privateKey, 'other/tenant-1'), consistencyProof(honest, 4, 6).map((h) => h.toString('hex')), [publicKey], ORIGIN))).toEqual(['same log', 'origin pinned']);
    const stranger = generateKeyPairSync('ed25519').privateKey;
    expect(failed(verifyExtendsKept(head(honest, 4), head(honest, 6, stranger), consistencyProof(honest, 4, 6).map((h) => h.toString('hex')), [publicKey]))).toEqual(['checkpoint of size 6 signature']);
  });
});
