import { generateKeyPairSync } from 'node:crypto';
import {
  checkpointText,
  cosign,
  cosignedMessage,
  formatNote,
  formatVerifierKey,
  NoteFormatError,
  parseCheckpointText,
  parseNote,
  parseVerifierKey,
  SIGNATURE_TYPE,
  signNoteEd25519,
  verifyCosignature,
  verifyNoteEd25519,
} from '../../../src/ledger/note/signed-note';
import { logKeyId, logSignatureOf, signLogNote } from '../../../src/ledger/note/log-note';

/** Known answers from the C2SP specifications themselves (c2sp.org/signed-note, /tlog-checkpoint, /tlog-cosignature). */
describe('C2SP signed notes: known answers from the specifications', () => {
  it('given the example of c2sp.org/signed-note, then its verifier key parses (key ID recomputed) and its Ed25519 signature verifies', () => {
    const vkey = parseVerifierKey('example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k');
    const note = parseNote('This is an example message.\n\n\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n');

    expect(vkey).toMatchObject({ name: 'example.com/foo', type: SIGNATURE_TYPE.ed25519 });
    expect(note.text).toBe('This is an example message.\n');
    expect(note.signatures[0].keyId.toString('hex')).toBe('530d903a');
    expect(verifyNoteEd25519(note.text, note.signatures[0], vkey)).toBe(true);
    expect(verifyNoteEd25519('This is an example message!\n', note.signatures[0], vkey)).toBe(false);
    // and the same key re-encodes to the same vkey
    expect(formatVerifierKey('example.com/foo', SIGNATURE_TYPE.ed25519, vkey.publicKey)).toBe('example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k');
  });

  it('given the cosigned checkpoint of c2sp.org/tlog-cosignature, then it parses as origin, size, root, and the witness line holds key ID, the timestamp 1679315147 and 64 signature bytes', () => {
    const note = parseNote(
      'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n' +
        '\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n' +
        '\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n',
    );
    const checkpoint = parseCheckpointText(note.text);

    expect(checkpoint).toMatchObject({ origin: 'example.com/behind-the-sofa', treeSize: 20852163, extensions: [] });
    expect(checkpoint.rootHash.toString('base64')).toBe('CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=');
    const witness = note.signatures[1];
    expect(witness.name).toBe('witness.example.com/w1');
    expect(witness.signature.length).toBe(72);
    expect(witness.signature.readBigUInt64BE(0)).toBe(1679315147n);
    // the signed message of the specification's example, byte for byte
    expect(cosignedMessage(note.text, 1679315147n).toString('utf8')).toBe('cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n');
  });

  it('given a Proofline checkpoint, then its note text is origin, decimal size and base64 root, and it round-trips', () => {
    const root = Buffer.from('5f1c'.padEnd(64, 'a'), 'hex');
    const text = checkpointText('proofline/tenant-1', 12, root);
    expect(text).toBe(`proofline/tenant-1\n12\n${root.toString('base64')}\n`);
    expect(parseCheckpointText(text)).toMatchObject({ origin: 'proofline/tenant-1', treeSize: 12, rootHash: root });
  });
});

describe('signed notes: round trips and refusals', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const text = checkpointText('proofline/t', 3, Buffer.alloc(32, 7));

  it('given a note signed with Ed25519 (type 0x01), then it parses back and verifies with the vkey it prints', () => {
    const note = parseNote(formatNote(text, [signNoteEd25519(text, 'proofline/t', privateKey, publicKey)]));
    const vkey = parseVerifierKey(formatVerifierKey('proofline/t', SIGNATURE_TYPE.ed25519, publicKey));
    expect(note.text).toBe(text);
    expect(verifyNoteEd25519(note.text, note.signatures[0], vkey)).toBe(true);
  });

  it('given a cosignature/v1, then it verifies with the witness vkey, not over another head, not with another key, not with its timestamp changed', () => {
    const line = cosign(text, 'witness.test/w1', privateKey, publicKey, 1_700_000_000n);
    const vkey = parseVerifierKey(formatVerifierKey('witness.test/w1', SIGNATURE_TYPE.cosignatureV1, publicKey));
    const [parsed] = parseNote(formatNote(text, [line])).signatures;
    expect(verifyCosignature(text, parsed, vkey)).toEqual({ valid: true, timestamp: 1_700_000_000n });
    expect(verifyCosignature(checkpointText('proofline/t', 3, Buffer.alloc(32, 8)), parsed, vkey).valid).toBe(false);
    const other = generateKeyPairSync('ed25519').publicKey;
    expect(verifyCosignature(text, parsed, parseVerifierKey(formatVerifierKey('witness.test/w1', SIGNATURE_TYPE.cosignatureV1, other))).valid).toBe(false);
    const shifted = Buffer.from(parsed.signature);
    shifted.writeBigUInt64BE(1_700_000_001n);
    expect(verifyCosignature(text, { ...parsed, signature: shifted }, vkey).valid).toBe(false);
  });

  it.each(['rsa', 'ed25519'] as const)('given the log signing with a %s key, then its note signature verifies with that key and not with another', (type) => {
    const keys = type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519');
    const value = signLogNote(text, 'proofline/t', keys.privateKey, keys.publicKey);
    const note = parseNote(formatNote(text, [`\u2014 proofline/t ${value}\n`]));
    expect(note.signatures[0].keyId.equals(logKeyId('proofline/t', keys.publicKey))).toBe(true);
    expect(logSignatureOf(note.text, note.signatures, 'proofline/t', [keys.publicKey]).ok).toBe(true);
    const stranger = (type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519')).publicKey;
    expect(logSignatureOf(note.text, note.signatures, 'proofline/t', [stranger]).ok).toBe(false);
  });

  it.each([
    ['no blank line', 'a\nb\n'],
    ['no signature line', 'a\n\n'],
    ['a tab', 'a\tb\n\n\u2014 k AAAAAAA=\n'],
    ['a hyphen instead of an em dash', 'a\n\n- k AAAAAAAA\n'],
    ['base64url', 'a\n\n\u2014 k AAAA_-AA\n'],
    ['a key name with a plus', 'a\n\n\u2014 k+1 AAAAAAAA\n'],
    ['no final newline', 'a\n\n\u2014 k AAAAAAAA'],
  ])('given a note with %s, then it is refused', (_case, note) => {
    expect(() => parseNote(note)).toThrow(NoteFormatError);
  });

  it.each([
    ['a size with a leading zero', 'o\n012\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n'],
    ['a short root', 'o\n12\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2=\n'],
    ['an empty extension line', 'o\n12\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n'],
    ['two lines', 'o\n12\n'],
  ])('given a checkpoint with %s, then it is refused', (_case, text) => {
    expect(() => parseCheckpointText(text)).toThrow(NoteFormatError);
  });

  it('given a vkey whose key ID is not the recommended hash, then it is refused', () => {
    expect(() => parseVerifierKey('example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k')).toThrow(/ID 530d903b is not/);
  });
});
