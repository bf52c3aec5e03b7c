/**
 * Test fixtures (test-only): a small DER writer and a CSR builder that signs whatever
 * CertificationRequestInfo it is given with node:crypto, so a test can hand checkCsr any structure
 * (any SubjectPublicKeyInfo, several attributes, any signature AlgorithmIdentifier) with a valid
 * self-signature, whatever forge or OpenSSL would write.
 */
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import forge from 'node-forge';
import { derToPem } from './pem.js';

export const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  prime256v1: '1.2.840.10045.3.1.7',
  secp384r1: '1.3.132.0.34',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  md5WithRsa: '1.2.840.113549.1.1.4',
  sha1WithRsa: '1.2.840.113549.1.1.5',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  sha384WithRsa: '1.2.840.113549.1.1.12',
  sha512WithRsa: '1.2.840.113549.1.1.13',
  extensionRequest: '1.2.840.113549.1.9.14',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
};

/** A DER element: `tag`, the definite length of `body` (short form when it fits), `body`. */
export function tlv(tag: number, body: Buffer): Buffer {
  let length = Buffer.from([body.length]);
  if (body.length >= 0x80) {
    const octets = Buffer.from(body.length.toString(16).padStart(body.length < 0x100 ? 2 : 4, '0'), 'hex');
    length = Buffer.concat([Buffer.from([0x80 | octets.length]), octets]);
  }
  return Buffer.concat([Buffer.from([tag]), length, body]);
}
export const seq = (...xs: Buffer[]) => tlv(0x30, Buffer.concat(xs));
export const set = (...xs: Buffer[]) => tlv(0x31, Buffer.concat(xs));
export const oid = (o: string) => tlv(0x06, Buffer.from(forge.asn1.oidToDer(o).getBytes(), 'binary'));
/** A BIT STRING of whole octets (no unused bits). */
export const bits = (b: Buffer) => tlv(0x03, Buffer.concat([Buffer.from([0]), b]));
export const NULL = tlv(0x05, Buffer.alloc(0));
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));

/** GeneralName uniformResourceIdentifier, `[6] IMPLICIT IA5String`. */
export const uriName = (s: string) => tlv(0x86, Buffer.from(s));
const extension = (id: string, value: Buffer, critical = false) =>
  seq(oid(id), ...(critical ? [bool(true)] : []), tlv(0x04, value));
export const sanExtension = (...names: Buffer[]) => extension(OID.subjectAltName, seq(...names));
export const caExtension = () => extension(OID.basicConstraints, seq(bool(true)), true);
/** An extensionRequest Attribute whose SET holds one value per list of extensions. */
export const extensionRequest = (...values: Buffer[][]) =>
  seq(oid(OID.extensionRequest), set(...values.map((exts) => seq(...exts))));

/** A SubjectPublicKeyInfo of id-ecPublicKey on the named curve `curve`, with `point` as its key bits. */
export const ecSpki = (point: Buffer, curve = OID.prime256v1) =>
  seq(seq(oid(OID.ecPublicKey), oid(curve)), bits(point));

export interface TestKey {
  privateKey: KeyObject;
  /** Its SubjectPublicKeyInfo, as node:crypto exports it. */
  spki: Buffer;
}

export function testKey(type: 'ec' | 'rsa', curve = 'prime256v1'): TestKey {
  const { privateKey, publicKey } =
    type === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: curve })
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { privateKey, spki: publicKey.export({ type: 'spki', format: 'der' }) };
}

export interface CsrSpec {
  key: TestKey;
  /** The SubjectPublicKeyInfo it holds (default: the key's). */
  spki?: Buffer;
  /** Each Attribute, put in the `[0]` as it is. */
  attributes?: Buffer[];
  /** The signatureAlgorithm (default: sha256WithRSAEncryption with NULL, or ecdsa-with-SHA256). */
  algorithm?: Buffer;
  /** The hash node:crypto signs with (default sha256). */
  hash?: string;
}

/** A PEM CSR of `spec`, its CertificationRequestInfo signed as it stands by the spec's private key. */
export function craftedCsr(spec: CsrSpec): string {
  const info = seq(
    tlv(0x02, Buffer.from([0])),
    seq(),
    spec.spki ?? spec.key.spki,
    tlv(0xa0, Buffer.concat(spec.attributes ?? [])),
  );
  const rsa = spec.key.privateKey.asymmetricKeyType === 'rsa';
  const algorithm =
    spec.algorithm ?? (rsa ? seq(oid(OID.sha256WithRsa), NULL) : seq(oid(OID.ecdsaWithSha256)));
  const signature = sign(spec.hash ?? 'sha256', info, spec.key.privateKey);
  return derToPem(seq(info, algorithm, bits(signature)), 'CERTIFICATE REQUEST');
}
