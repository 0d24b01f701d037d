import { KeyObject, X509Certificate, createHash, generateKeyPairSync } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as forge from 'node-forge';
import { issueSelfSignedCertificate } from '../../../src/signing/certificate';

type KeyPair = { privateKey: KeyObject; publicKey: KeyObject };

const keyPairs: Record<'rsa' | 'ed25519', () => KeyPair> = {
  rsa: () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
  ed25519: () => generateKeyPairSync('ed25519'),
};
const subject = { commonName: 'Proofline signing key key_2025-01:a1b2', organization: 'Proofline' };
const notBefore = new Date('2025-01-01T00:00:00Z');
const spki = (key: KeyObject) => key.export({ type: 'spki', format: 'der' });
const issue = (pair: KeyPair, extra: Partial<Parameters<typeof issueSelfSignedCertificate>[0]> = {}) =>
  issueSelfSignedCertificate({ ...pair, subject, notBefore, validityDays: 365, ...extra });

const derToPem = (der: Buffer) =>
  `-----BEGIN CERTIFICATE-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;

/** Children of the Certificate SEQUENCE: [tbsCertificate, signatureAlgorithm, signatureValue]. */
const certificateParts = (cert: X509Certificate) =>
  forge.asn1.fromDer(Buffer.from(cert.raw).toString('binary')).value as forge.asn1.Asn1[];

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
const itWithOpenssl = hasOpenssl ? it : it.skip;

/** Runs openssl on a PEM written to a temp file; verification time is pinned inside the validity window. */
function openssl(pem: string, args: (file: string) => string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'proofline-cert-'));
  try {
    const file = join(dir, 'cert.pem');
    writeFileSync(file, pem);
    const result = spawnSync('openssl', args(file), { encoding: 'utf8' });
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const atTime = String(Math.floor(notBefore.getTime() / 1000) + 86_400);
const opensslVerify = (pem: string) =>
  openssl(pem, (f) => ['verify', '-check_ss_sig', '-attime', atTime, '-CAfile', f, f]);

describe.each(['rsa', 'ed25519'] as const)('issueSelfSignedCertificate (%s)', (keyType) => {
  let pair: KeyPair;
  let pem: string;
  let cert: X509Certificate;

  beforeAll(() => {
    pair = keyPairs[keyType]();
    pem = issue(pair);
    cert = new X509Certificate(pem);
  });

  it('produces an LF-only PEM certificate that Node parses', () => {
    expect(pem.startsWith('-----BEGIN CERTIFICATE-----\n')).toBe(true);
    expect(pem.trimEnd().endsWith('-----END CERTIFICATE-----')).toBe(true);
    expect(pem).not.toContain('\r');
  });

  it('verifies with its own public key and embeds exactly that SPKI', () => {
    expect(cert.verify(pair.publicKey)).toBe(true);
    expect(cert.publicKey.export({ type: 'spki', format: 'der' })).toEqual(spki(pair.publicKey));
    expect(cert.checkPrivateKey(pair.privateKey)).toBe(true);
  });

  it('does not verify with a different key of the same type', () => {
    const other = keyPairs[keyType]();
    expect(cert.verify(other.publicKey)).toBe(false);
    expect(cert.checkPrivateKey(other.privateKey)).toBe(false);
  });

  it('names the subject as its own issuer and carries the validity window', () => {
    expect(cert.subject).toContain(`CN=${subject.commonName}`);
    expect(cert.subject).toContain('O=Proofline');
    expect(cert.issuer).toBe(cert.subject);
    expect(new Date(cert.validFrom).getTime()).toBe(notBefore.getTime());
    expect(new Date(cert.validTo).getTime()).toBe(Date.UTC(2026, 0, 1));
    expect(cert.ca).toBe(false);
  });

  it('uses a positive random 16-byte serial by default', () => {
    expect(cert.serialNumber).toMatch(/^[0-7][0-9A-F]{31}$/);
    expect(new X509Certificate(issue(pair)).serialNumber).not.toBe(cert.serialNumber);
  });

  it('writes the same signature AlgorithmIdentifier inside and outside the TBSCertificate', () => {
    const [tbs, outerAlgorithm] = certificateParts(cert);
    const innerAlgorithm = (tbs.value as forge.asn1.Asn1[])[2];
    const expected =
      keyType === 'rsa'
        ? '300d06092a864886f70d01010b0500' // sha256WithRSAEncryption, NULL parameters
        : '300506032b6570'; // id-Ed25519, parameters absent
    for (const algorithm of [innerAlgorithm, outerAlgorithm]) {
      expect(forge.util.bytesToHex(forge.asn1.toDer(algorithm).getBytes())).toBe(expected);
    }
  });

  it('fails verification when a signature byte is flipped', () => {
    const der = Buffer.from(cert.raw);
    der[der.length - 1] ^= 0x01; // the signature BIT STRING is the last element of the DER
    expect(new X509Certificate(der).verify(pair.publicKey)).toBe(false);
  });

  it('fails verification when a signed (TBS) byte is flipped', () => {
    const der = Buffer.from(cert.raw);
    const at = der.indexOf(Buffer.from('Proofline signing key'));
    der[at] ^= 0x20; // 'P' -> 'p': still a valid UTF8String, different signed content
    expect(new X509Certificate(der).verify(pair.publicKey)).toBe(false);
  });

  itWithOpenssl('is accepted by openssl x509 and verifies as self-signed with openssl verify', () => {
    const text = openssl(pem, (f) => ['x509', '-in', f, '-noout', '-text']);
    expect(text.status).toBe(0);
    expect(text.output).toContain('Version: 3 (0x2)');
    expect(text.output).toContain(keyType === 'rsa' ? 'sha256WithRSAEncryption' : 'ED25519');
    expect(text.output).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(text.output).toMatch(/Key Usage: critical\s+Digital Signature, Non Repudiation/);
    // RFC 5280 method (1): SHA-1 over the subjectPublicKey bits, derived here independently from the SPKI DER.
    const der = spki(pair.publicKey);
    const keyBits = keyType === 'rsa' ? pair.publicKey.export({ type: 'pkcs1', format: 'der' }) : der.subarray(der.length - 32);
    const ski = createHash('sha1').update(keyBits).digest('hex').toUpperCase().match(/../g)!.join(':');
    expect(text.output).toMatch(new RegExp(`Subject Key Identifier:\\s+${ski}`));

    const verified = opensslVerify(pem);
    expect(verified.output).toContain(': OK');
    expect(verified.status).toBe(0);
  });

  itWithOpenssl('is rejected by openssl verify -check_ss_sig when the signature is tampered', () => {
    const der = Buffer.from(cert.raw);
    der[der.length - 1] ^= 0x01;
    expect(opensslVerify(derToPem(der)).status).not.toBe(0);
  });
});

describe('issueSelfSignedCertificate input handling', () => {
  const ed = keyPairs.ed25519();

  it('uses a caller-supplied serial', () => {
    const pem = issue(ed, { serialNumberHex: '7f0102' });
    expect(new X509Certificate(pem).serialNumber).toBe('7F0102');
  });

  it.each(['80', '00', '0001', 'abc', '', '01'.repeat(21)])('rejects serial %p', (serialNumberHex) => {
    expect(() => issue(ed, { serialNumberHex })).toThrow(/serialNumberHex/);
  });

  it('encodes times from 2050 on as GeneralizedTime that Node reads back', () => {
    const cert = new X509Certificate(issue(ed, { notBefore: new Date('2049-12-01T00:00:00Z'), validityDays: 365 }));
    expect(new Date(cert.validTo).getTime()).toBe(Date.UTC(2050, 11, 1));
  });

  it('rejects a non-positive validity', () => {
    expect(() => issue(ed, { validityDays: 0 })).toThrow(/validityDays/);
  });

  it('names the unsupported key type', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(() => issue(ec)).toThrow(/Unsupported key type.*\bec\b/);
    const ed448 = generateKeyPairSync('ed448');
    expect(() => issue(ed448)).toThrow(/Unsupported key type.*ed448/);
  });

  it('rejects RSA keys below 2048 bits', () => {
    expect(() => issue(generateKeyPairSync('rsa', { modulusLength: 1024 }))).toThrow(/1024 bits/);
  });

  it('rejects a private key and public key that are not a pair', () => {
    const other = keyPairs.ed25519();
    expect(() => issue({ privateKey: ed.privateKey, publicKey: other.publicKey })).toThrow(/not a pair/);
  });

  it('rejects keys passed in the wrong slots or of mixed types', () => {
    expect(() => issue({ privateKey: ed.publicKey, publicKey: ed.publicKey })).toThrow(/privateKey must be a private key/);
    const rsa = keyPairs.rsa();
    expect(() => issue({ privateKey: rsa.privateKey, publicKey: ed.publicKey })).toThrow(/mismatch/);
  });
});
