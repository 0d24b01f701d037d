import { generateKeyPairSync, sign } from 'node:crypto';
import { CHECKPOINT_SIGNATURE_PURPOSE, checkpointBytes, type CheckpointBody, type SignedCheckpoint } from '../../../src/ledger/checkpoint';
import { checkpointVerifiesWith, signCheckpoint, verifyCheckpoint } from '../../../src/ledger/checkpoint-signature';
import { KeyRegistry } from '../../../src/signing/key-registry';

const BODY: CheckpointBody = { origin: 'proofline/t-1', treeSize: 7, rootHash: 'ab'.repeat(32), issuedAt: '2026-12-06T10:00:00.000Z' };

describe('checkpoint signatures, version 2 (issue 23, item 5; ADR 0005): the purpose, the key and the algorithm are signed', () => {
  const keys = KeyRegistry.open({ keyType: 'ed25519' });
  const publicKey = keys.active().publicKey;

  it('given a new checkpoint, then its signature names its purpose and verifies, online and offline', () => {
    const checkpoint = signCheckpoint(keys, BODY);
    expect(checkpoint.signature).toMatchObject({ alg: 'EdDSA', keyId: keys.active().keyId, purpose: CHECKPOINT_SIGNATURE_PURPOSE });
    expect(verifyCheckpoint(keys, checkpoint, 'checkpoint')).toEqual({ valid: true });
    expect(checkpointVerifiesWith(publicKey, checkpoint)).toBe(true);
    // The signed bytes are the version 2 body, in RFC 8785 order.
    expect(checkpointBytes(checkpoint)!.toString('utf8')).toBe(
      `{"alg":"EdDSA","issuedAt":"2026-12-06T10:00:00.000Z","keyId":"${keys.active().keyId}","origin":"proofline/t-1","rootHash":"${'ab'.repeat(32)}","treeSize":7,"type":"proofline.checkpoint.v2"}`,
    );
  });

  it.each<[string, (checkpoint: SignedCheckpoint) => SignedCheckpoint]>([
    ['its purpose removed (passed off as version 1)', (c) => ({ ...c, signature: { alg: c.signature.alg, keyId: c.signature.keyId, value: c.signature.value } })],
    ['another purpose', (c) => ({ ...c, signature: { ...c.signature, purpose: 'proofline.event.v2' as typeof CHECKPOINT_SIGNATURE_PURPOSE } })],
    ['its tree size changed', (c) => ({ ...c, treeSize: c.treeSize + 1 })],
    ['its root changed', (c) => ({ ...c, rootHash: 'cd'.repeat(32) })],
  ])('given a version 2 checkpoint with %s, then it fails, online and offline', (_label, tamper) => {
    const tampered = tamper(signCheckpoint(keys, BODY));
    expect(verifyCheckpoint(keys, tampered, 'checkpoint').valid).toBe(false);
    expect(checkpointVerifiesWith(publicKey, tampered)).toBe(false);
  });

  it('given a version 1 checkpoint (issued before: the four fields signed), then it still verifies, and adding a purpose to it makes it fail', () => {
    const key = keys.active();
    const v1: SignedCheckpoint = { ...BODY, signature: { alg: key.alg, keyId: key.keyId, value: sign(null, checkpointBytes(BODY)!, key.privateKey).toString('base64') } };
    expect(verifyCheckpoint(keys, v1, 'checkpoint')).toEqual({ valid: true });
    expect(checkpointVerifiesWith(publicKey, v1)).toBe(true);
    expect(verifyCheckpoint(keys, { ...v1, signature: { ...v1.signature, purpose: CHECKPOINT_SIGNATURE_PURPOSE } }, 'checkpoint').valid).toBe(false);
  });

  it("given a version 2 checkpoint whose keyId is changed to another key's, then it fails even where that key would verify the bytes it signed", () => {
    const other = generateKeyPairSync('ed25519');
    const checkpoint = signCheckpoint(keys, BODY);
    expect(checkpointVerifiesWith(other.publicKey, checkpoint)).toBe(false);
    const unknown = verifyCheckpoint(keys, { ...checkpoint, signature: { ...checkpoint.signature, keyId: 'not-a-key' } }, 'checkpoint');
    expect(unknown).toMatchObject({ valid: false, fault: 'unknown-key' });
  });
});
