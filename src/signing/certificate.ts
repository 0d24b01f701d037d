import { KeyObject, X509Certificate, createHash, randomBytes, sign } from 'node:crypto';
import * as forge from 'node-forge';

/**
 * Self-signed X.509 v3 certificate binding a signing key to the ledger's identity.
 * node-forge only builds ASN.1/DER/PEM (it has no Ed25519 certificate support and its RSA is
 * far slower); the SubjectPublicKeyInfo and the signature come from Node's crypto.
 */

export interface CertificateSubject {
  commonName: string; // e.g. "Proofline signing key <keyId>"
  organization?: string; // e.g. "Proofline"
}

export interface IssueCertificateInput {
  privateKey: KeyObject;
  publicKey: KeyObject;
  subject: CertificateSubject;
  notBefore: Date; // X.509 times have whole-second precision; milliseconds are dropped
  validityDays: number;
  serialNumberHex?: string; // default: 16 random bytes
}

const { asn1 } = forge;
type Asn1 = forge.asn1.Asn1;

interface SignatureScheme {
  oid: string;
  withNullParameters: boolean; // RFC 4055: RSA AlgorithmIdentifiers carry NULL; RFC 8410: Ed25519 has none
  digest: string | null; // argument to crypto.sign; Ed25519 hashes internally, so null
}

const SCHEMES: Record<string, SignatureScheme> = {
  rsa: { oid: '1.2.840.113549.1.1.11', withNullParameters: true, digest: 'sha256' },
  ed25519: { oid: '1.3.101.112', withNullParameters: false, digest: null },
};

const MIN_RSA_BITS = 2048;
const DAY_MS = 24 * 60 * 60 * 1000;

export function issueSelfSignedCertificate(input: IssueCertificateInput): string {
  const scheme = schemeFor(input.privateKey, input.publicKey);
  const serialHex = input.serialNumberHex ?? randomSerialHex();
  assertValidSerial(serialHex);
  const notAfter = validityEnd(input.notBefore, input.validityDays);
  const spkiDer = input.publicKey.export({ type: 'spki', format: 'der' });
  const name = distinguishedName(input.subject); // issuer === subject: self-signed
  const tbs = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [integer(asn1.integerToDer(2).getBytes())]), // v3
    integer(forge.util.hexToBytes(serialHex)),
    algorithmIdentifier(scheme),
    name,
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [time(input.notBefore), time(notAfter)]),
    name,
    asn1.fromDer(spkiDer.toString('binary')), // the key's own SPKI, so any key type forge cannot model fits
    extensions(input.publicKey),
  ]);
  const tbsDer = Buffer.from(asn1.toDer(tbs).getBytes(), 'binary');
  const signature = sign(scheme.digest, tbsDer, input.privateKey);
  const certificate = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    tbs,
    algorithmIdentifier(scheme),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, '\x00' + signature.toString('binary')),
  ]);
  // forge emits CRLF line breaks; Node and OpenSSL emit LF, and stored PEMs should compare equal.
  const pem = forge.pem.encode({ type: 'CERTIFICATE', body: asn1.toDer(certificate).getBytes() }).replace(/\r\n/g, '\n');
  assertIssued(pem, input.publicKey);
  return pem;
}

function schemeFor(privateKey: KeyObject, publicKey: KeyObject): SignatureScheme {
  if (privateKey.type !== 'private') throw new Error(`privateKey must be a private key, got a ${privateKey.type} key`);
  if (publicKey.type !== 'public') throw new Error(`publicKey must be a public key, got a ${publicKey.type} key`);
  const keyType = publicKey.asymmetricKeyType ?? 'unknown';
  if (privateKey.asymmetricKeyType !== keyType) {
    throw new Error(`Key type mismatch: private key is ${privateKey.asymmetricKeyType}, public key is ${keyType}`);
  }
  const scheme = SCHEMES[keyType];
  if (!scheme) throw new Error(`Unsupported key type for certificates: ${keyType} (supported: rsa, ed25519)`);
  const bits = publicKey.asymmetricKeyDetails?.modulusLength ?? MIN_RSA_BITS;
  if (keyType === 'rsa' && bits < MIN_RSA_BITS) throw new Error(`RSA key too small: ${bits} bits (minimum ${MIN_RSA_BITS})`);
  return scheme;
}

function validityEnd(notBefore: Date, validityDays: number): Date {
  if (Number.isNaN(notBefore.getTime())) throw new Error('notBefore is not a valid date');
  if (!(validityDays > 0) || !Number.isFinite(validityDays)) throw new Error(`validityDays must be positive, got ${validityDays}`);
  return new Date(notBefore.getTime() + validityDays * DAY_MS);
}

/** 16 random bytes; the top bit cleared keeps the INTEGER positive, the next bit set keeps it minimally encoded. */
function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] & 0x7f) | 0x40;
  return bytes.toString('hex');
}

/** RFC 5280 4.1.2.2: positive, at most 20 octets; DER also forbids a redundant leading 0x00. */
function assertValidSerial(hex: string): void {
  if (!/^(?:[0-9a-fA-F]{2}){1,20}$/.test(hex)) throw new Error(`serialNumberHex must be 1-20 bytes of hex, got "${hex}"`);
  const bytes = Buffer.from(hex, 'hex');
  const positive = bytes[0] < 0x80 && bytes.some((b) => b !== 0);
  const minimal = bytes.length === 1 || bytes[0] !== 0 || bytes[1] >= 0x80;
  if (!positive || !minimal) throw new Error(`serialNumberHex must be a positive, minimally encoded integer, got "${hex}"`);
}

function integer(bytes: string): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, bytes);
}

function algorithmIdentifier(scheme: SignatureScheme): Asn1 {
  const oid = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(scheme.oid).getBytes());
  const nul = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, '');
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, scheme.withNullParameters ? [oid, nul] : [oid]);
}

/** RFC 5280 4.1.2.5: UTCTime for 1950-2049, GeneralizedTime otherwise. */
function time(date: Date): Asn1 {
  const year = date.getUTCFullYear();
  return year >= 1950 && year < 2050
    ? asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(date))
    : asn1.create(asn1.Class.UNIVERSAL, asn1.Type.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(date));
}

/** UTF8String values (RFC 5280 4.1.2.4): a key id may hold characters PrintableString forbids. */
function distinguishedName(subject: CertificateSubject): Asn1 {
  if (!subject.commonName) throw new Error('subject.commonName is required');
  // forge reads valueTagClass as the value's universal tag; @types/node-forge mistypes it as asn1.Class.
  const utf8 = asn1.Type.UTF8 as unknown as forge.asn1.Class;
  const attributes = [{ type: forge.pki.oids.commonName, value: subject.commonName, valueTagClass: utf8 }];
  if (subject.organization) attributes.push({ type: forge.pki.oids.organizationName, value: subject.organization, valueTagClass: utf8 });
  return forge.pki.distinguishedNameToAsn1({ attributes });
}

/** forge encodes the extensions; the SKI is computed here because forge's generator is RSA-only. */
function extensions(publicKey: KeyObject): Asn1 {
  const holder = forge.pki.createCertificate(); // used only to normalise extension objects into ASN.1 values
  holder.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, nonRepudiation: true, critical: true },
    { name: 'subjectKeyIdentifier', value: asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, subjectKeyId(publicKey)) },
  ]);
  // Present in node-forge's x509 module since 0.x, missing from @types/node-forge.
  const pki = forge.pki as unknown as { certificateExtensionsToAsn1(exts: unknown[]): Asn1 };
  return pki.certificateExtensionsToAsn1(holder.extensions);
}

/** RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING contents. */
function subjectKeyId(publicKey: KeyObject): string {
  const keyBits =
    publicKey.asymmetricKeyType === 'rsa'
      ? publicKey.export({ type: 'pkcs1', format: 'der' }) // RSA: the PKCS#1 RSAPublicKey (RFC 3279)
      : Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url'); // Ed25519: the raw 32 bytes (RFC 8410)
  return createHash('sha1').update(keyBits).digest('binary');
}

/** Parse back with OpenSSL (via Node) so a malformed certificate or a mismatched key pair fails here, not at a verifier. */
function assertIssued(pem: string, publicKey: KeyObject): void {
  const cert = new X509Certificate(pem);
  if (!cert.publicKey.equals(publicKey) || !cert.verify(publicKey)) {
    throw new Error('Issued certificate does not verify with publicKey: privateKey and publicKey are not a pair');
  }
}
