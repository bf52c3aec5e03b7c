import { createPublicKey, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { describeError } from '../errors.js';
import { childrenOf, expectTag, type Tlv, tlvAt } from './der.js';
import { derToPem } from './pem.js';
import {
  parseDer,
  SPKI_STAND_IN,
  signedDer,
  signingKey,
  subjectPublicKey,
  verifySigned,
} from './x509-signing.js';

/**
 * PKCS#10 certificate signing requests (RFC 2986). The client side builds one; the server side
 * decides whether to sign it. The server never copies anything from a CSR but its public key: the
 * identity in the certificate comes from the caller's service account, so a CSR can only lose.
 * Keys are ECDSA P-256 (what gateways make) or P-384, or RSA: forge builds the request's ASN.1,
 * node:crypto signs it (x509-signing.ts) and verifies an ECDSA one; forge verifies an RSA one.
 */
const { pki, asn1 } = forge;
/** GeneralName tags (RFC 5280 §4.2.1.6) and their openssl-style names for messages. */
const SAN_NAMES: Record<number, string> = { 1: 'email', 2: 'DNS', 6: 'URI', 7: 'IP' };
const SAN_URI = 6;
const MIN_RSA_BITS = 2048;
/** Go's crypto/tls refuses larger RSA keys in a handshake (maxRSAKeySize), so peers would too. */
const MAX_RSA_BITS = 8192;
/** Keys in use have e = 65537 (rarely 3): odd, 3 ≤ e < 2^32 keeps them and bounds verify's cost.
 * FIPS 186-5's 2^16 < e would refuse e = 3 for no gain here. */
const MAX_RSA_EXPONENT_BITS = 32;

/**
 * Curves whose keys Isthmus certifies: P-256 (what it makes, and Linkerd's proxies) and P-384, the
 * two every TLS 1.3 stack verifies. Not P-521: rustls on ring (linkerd2-proxy) and Mozilla's root
 * policy (§5.1) take P-256 and P-384 only, and signing on it costs several times P-256's, the cost
 * ECDSA leaves are there to save. Not secp256k1 or P-192: no TLS 1.3 signature scheme (RFC 8446
 * §4.2.3) names them. Each has one SubjectPublicKeyInfo, the one OpenSSL writes (RFC 5480 §2: a
 * named curve, the point uncompressed): this header, then the point's X and Y, nothing after.
 */
const CERTIFIED_CURVES: Readonly<
  Record<string, { name: 'P-256' | 'P-384'; header: Buffer; length: number }>
> = {
  prime256v1: {
    name: 'P-256',
    header: Buffer.from('3059301306072a8648ce3d020106082a8648ce3d03010703420004', 'hex'),
    length: 91,
  },
  secp384r1: {
    name: 'P-384',
    header: Buffer.from('3076301006072a8648ce3d020106052b8104002203620004', 'hex'),
    length: 120,
  },
};
/** What a certified key may be, for messages. */
export const CERTIFIED_KEYS = 'RSA (2048 to 8192 bits) or ECDSA P-256 or P-384';

/** RFC 8017 Appendix A.1. */
const OID_RSA_ENCRYPTION = '1.2.840.113549.1.1.1';
/** id-ecPublicKey (RFC 5480 §2.1.1). */
const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const NO_TLS_LEAF_KEYS =
  'neither the WebPKI nor the PKIs Linkerd installs (step, cert-manager) give such keys to TLS leaves';
/** Other key algorithms (RFC 4055, RFC 3279, RFC 8410): what messages name them, and why they are refused. */
const OTHER_KEY_ALGORITHMS: Readonly<Record<string, { name: string; why: string }>> = {
  '1.2.840.113549.1.1.10': {
    name: 'RSA-PSS',
    why: 'an id-RSASSA-PSS key restricted to PSS, which many TLS stacks refuse in a certificate; make an rsaEncryption key',
  },
  '1.2.840.10040.4.1': { name: 'DSA', why: 'TLS 1.3 has no DSA' },
  '1.3.101.110': { name: 'X25519', why: NO_TLS_LEAF_KEYS },
  '1.3.101.111': { name: 'X448', why: NO_TLS_LEAF_KEYS },
  '1.3.101.112': { name: 'Ed25519', why: NO_TLS_LEAF_KEYS },
  '1.3.101.113': { name: 'Ed448', why: NO_TLS_LEAF_KEYS },
};
/** Named curves (RFC 5480 §2.1.1.1, SEC 2), by OpenSSL's names. */
const CURVE_NAMES: Readonly<Record<string, string>> = {
  '1.2.840.10045.3.1.7': 'prime256v1',
  '1.3.132.0.34': 'secp384r1',
  '1.3.132.0.35': 'secp521r1',
  '1.3.132.0.10': 'secp256k1',
  '1.2.840.10045.3.1.1': 'prime192v1',
};
const NOT_AS_OPENSSL_WRITES =
  'the public key is not encoded as OpenSSL writes it (DER, a named curve, an uncompressed point)';

/** A key Isthmus certifies (RSA, whose size is rsaKeyProblem's; ECDSA P-256 or P-384), or why not. */
export type CertifiedKeyType =
  | { ok: true; type: 'rsa' }
  | { ok: true; type: 'ec'; curve: 'P-256' | 'P-384' }
  | { ok: false; reason: string };

/**
 * Whether Isthmus certifies the key of the SubjectPublicKeyInfo `spkiDer`, decided from its DER
 * alone: the AlgorithmIdentifier's OID and, for id-ecPublicKey, the named curve's; a P-256 or
 * P-384 key must be exactly as OpenSSL writes it. No key is handed to OpenSSL before this says
 * yes: an EC point OpenSSL reads but no certificate holds aborted Node 20 (the point at infinity,
 * whose details failed a native CHECK: SIGABRT, nothing to catch). OpenSSL still checks that an
 * accepted point is on its curve. Throws when `spkiDer` starts with no AlgorithmIdentifier.
 */
export function certifiedKeyType(spkiDer: Buffer): CertifiedKeyType {
  const outer = tlvAt(spkiDer, 0, spkiDer.length, SEQUENCE);
  const identifier = tlvAt(spkiDer, outer.body, outer.end, SEQUENCE);
  const [algorithm, parameters] = childrenOf(spkiDer, identifier);
  if (!algorithm) throw new Error('no algorithm OID');
  const oid = oidOf(spkiDer, algorithm);
  if (oid === OID_RSA_ENCRYPTION) return { ok: true, type: 'rsa' };
  if (oid !== OID_EC_PUBLIC_KEY) {
    const other = OTHER_KEY_ALGORITHMS[oid] ?? { name: `Algorithm ${oid}`, why: NO_TLS_LEAF_KEYS };
    return refusedKeyType(other.name, other.why);
  }
  // Explicit curve parameters or none (implicitlyCA): no named curve, as RFC 5480 §2.1.1 requires.
  if (parameters?.tag !== OID_TAG) return { ok: false, reason: NOT_AS_OPENSSL_WRITES };
  const curveOid = oidOf(spkiDer, parameters);
  const curve = CURVE_NAMES[curveOid] ?? `curve ${curveOid}`;
  const certified = CERTIFIED_CURVES[curve];
  if (!certified) {
    const why =
      curve === 'secp521r1'
        ? 'rustls on ring, as in Linkerd proxies, cannot verify P-521, which also costs several times P-256 to sign with'
        : 'no TLS 1.3 signature scheme uses this curve';
    return refusedKeyType(`ECDSA (${curve})`, why);
  }
  const exact =
    spkiDer.length === certified.length &&
    spkiDer.subarray(0, certified.header.length).equals(certified.header);
  if (!exact) return { ok: false, reason: NOT_AS_OPENSSL_WRITES };
  return { ok: true, type: 'ec', curve: certified.name };
}

function refusedKeyType(kind: string, why: string): CertifiedKeyType {
  return {
    ok: false,
    reason: `${kind} keys are not certified (${why}): Isthmus certifies ${CERTIFIED_KEYS} keys`,
  };
}

/** The OID `tlv` of `der` holds, dotted. Pure JS, as forge decodes it. */
function oidOf(der: Buffer, tlv: Tlv): string {
  expectTag(tlv, OID_TAG, 'an AlgorithmIdentifier (RFC 5280 §4.1.1.2)');
  if (tlv.end === tlv.body) throw new Error('an empty OID');
  return asn1.derToOid(forge.util.createBuffer(der.subarray(tlv.body, tlv.end).toString('binary')));
}

/** A CSR signed by `privateKeyPem` (ECDSA or RSA), naming `identity` as its only URI SAN when given. */
export function createCsr(privateKeyPem: string, identity?: string): string {
  const san = { name: 'subjectAltName', altNames: [{ type: SAN_URI, value: identity }] };
  return buildCsr(privateKeyPem, identity === undefined ? [] : [san]);
}

/**
 * A CSR requesting `extensions` (forge's extension specs: what createCsr asks, or anything a test
 * needs refused), its subject empty unless given, signed by `privateKeyPem` (RSA, ECDSA P-256, P-384
 * or P-521) with node:crypto. Its SubjectPublicKeyInfo is node:crypto's DER export of the key, as
 * it is; an RSA request's bytes are those forge's `csr.sign` made (PKCS#1 v1.5 is deterministic).
 */
export function buildCsr(
  privateKeyPem: string,
  extensions: object[],
  subject: forge.pki.CertificateField[] = [],
): string {
  const signer = signingKey(privateKeyPem);
  const spki = subjectPublicKey(createPublicKey(signer.key).export({ type: 'spki', format: 'der' }));
  const csr = pki.createCertificationRequest();
  // forge encodes RSA keys only: its CertificationRequestInfo is built on a stand-in key, then
  // given the real SubjectPublicKeyInfo (version, subject, subjectPKInfo, attributes; RFC 2986 §4.1).
  csr.publicKey = SPKI_STAND_IN;
  csr.setSubject(subject);
  if (extensions.length > 0) csr.setAttributes([{ name: 'extensionRequest', extensions }]);
  const info = (pki as unknown as ForgeCri).getCertificationRequestInfo(csr);
  (info.value as forge.asn1.Asn1[])[2] = spki.asn1;
  return derToPem(signedDer(info, signer), 'CERTIFICATE REQUEST');
}

export type CsrDecision =
  | { ok: true; publicKeyPem: string }
  /** invalid → gRPC INVALID_ARGUMENT; denied → PERMISSION_DENIED. */
  | { ok: false; status: 'invalid' | 'denied'; reason: string };

const invalid = (reason: string): CsrDecision => ({ ok: false, status: 'invalid', reason });

/**
 * May the holder of this CSR receive a certificate for `allowedIdentity`? A CSR may leave the
 * identity out (it is assigned) or name exactly it; any other name, extra SAN or CA request is
 * denied. Never throws: what it cannot read is `invalid`.
 */
export function checkCsr(csrPem: string, allowedIdentity: string): CsrDecision {
  let parts: CsrParts;
  let keyType: CertifiedKeyType;
  try {
    parts = csrParts(csrPem);
    keyType = certifiedKeyType(parts.spkiDer);
  } catch (err) {
    return invalid(`not a PEM PKCS#10 certificate request: ${describeError(err)}`);
  }
  if (!keyType.ok) return invalid(keyType.reason);
  try {
    return keyType.type === 'rsa'
      ? checkRsaCsr(csrPem, parts, allowedIdentity)
      : checkEcdsaCsr(parts, keyType.curve, allowedIdentity);
  } catch (err) {
    // Nothing is known to throw past the checks; were something to, the CSR is refused, not the call failed.
    return invalid(`the CSR could not be checked: ${describeError(err)}`);
  }
}

/**
 * The RSA self-signature algorithms taken (RFC 4055 §5, RFC 8017 Appendix A.2.4): SHA-2 only.
 * forge also verifies MD5 and SHA-1 ones, whose collisions can be bought.
 */
const RSA_SIGNATURES: ReadonlySet<string> = new Set([
  '1.2.840.113549.1.1.11',
  '1.2.840.113549.1.1.12',
  '1.2.840.113549.1.1.13',
]);

/** An RSA CSR, read and verified by forge as it always was, once its signature algorithm is one to take. */
function checkRsaCsr(csrPem: string, parts: CsrParts, allowedIdentity: string): CsrDecision {
  const algorithm = signatureAlgorithm(parts);
  if (typeof algorithm === 'string') return invalid(algorithm);
  const { oid, parameters } = algorithm;
  if (!RSA_SIGNATURES.has(oid)) {
    const name = (pki.oids as Record<string, string | undefined>)[oid] ?? 'unknown';
    return invalid(
      `the CSR's signature algorithm ${oid} (${name}) is refused: an RSA CSR is signed with sha256WithRSAEncryption, sha384WithRSAEncryption or sha512WithRSAEncryption`,
    );
  }
  if (parameters.length > 1 || (parameters[0] && parameters[0].type !== asn1.Type.NULL))
    return invalid(`the CSR's signature algorithm ${oid} has parameters other than NULL (RFC 4055 §5)`);
  let csr: forge.pki.CertificateSigningRequest;
  try {
    csr = pki.certificationRequestFromPem(csrPem);
  } catch (err) {
    return invalid(`not a PEM PKCS#10 RSA certificate request: ${describeError(err)}`);
  }
  const publicKey = csr.publicKey as forge.pki.rsa.PublicKey | null;
  if (!publicKey) return invalid('the CSR has no public key');
  // Before the signature: forge verifies in pure JS on the event loop, where a 16384-bit key with a
  // 16383-bit exponent (an 8.6 kB CSR) took 218 s, and the cost grows with the square of the size.
  const keyProblem = rsaKeyProblem(publicKey);
  if (keyProblem) return invalid(keyProblem);
  // The self-signature proves possession of the private key (RFC 2986 §3).
  let verified = false;
  try {
    verified = csr.verify();
  } catch {
    verified = false;
  }
  if (!verified) return INVALID_SIGNATURE;
  const publicKeyPem = pki.publicKeyToPem(publicKey).replace(/\r\n/g, '\n');
  return decide((csr as unknown as { attributes: CsrAttribute[] }).attributes, allowedIdentity, publicKeyPem);
}

const INVALID_SIGNATURE: CsrDecision = invalid('the CSR signature does not verify');

/**
 * An ECDSA CSR (P-256 or P-384, certifiedKeyType's say). The key is node:crypto's, from the
 * SubjectPublicKeyInfo as the CSR encodes it, which the certificate will carry: certifiedKeyType
 * took it as OpenSSL writes it (named curve, uncompressed point), OpenSSL checks that the point is
 * on the curve. The signature is verified over the CertificationRequestInfo's bytes as they are in
 * the CSR: a re-encoding could verify a signature made over other bytes than those sent (RFC 2986
 * §4.2 signs the DER encoding).
 */
function checkEcdsaCsr(parts: CsrParts, curve: string, allowedIdentity: string): CsrDecision {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: parts.spkiDer, format: 'der', type: 'spki' });
  } catch (err) {
    return invalid(
      `the CSR's ECDSA ${curve} key is unreadable (no point of the curve): ${describeError(err)}`,
    );
  }
  const algorithm = signatureAlgorithm(parts);
  if (typeof algorithm === 'string') return invalid(algorithm);
  if (algorithm.parameters.length > 0)
    return invalid(
      `the CSR's signature algorithm ${algorithm.oid} has parameters, which RFC 5758 §3.2 has absent for ECDSA`,
    );
  if (!verifySigned(algorithm.oid, parts.infoDer, parts.signature, key)) return INVALID_SIGNATURE;
  let attributes: CsrAttribute[] = [];
  try {
    if (parts.attributesDer !== undefined) {
      const asn1Attributes = parseDer(parts.attributesDer).value as forge.asn1.Asn1[];
      // Decoded as forge decodes an RSA CSR's.
      attributes = (pki as unknown as ForgeCri).CRIAttributesAsArray(asn1Attributes);
    }
  } catch (err) {
    return invalid(`the CSR's attributes are unreadable: ${describeError(err)}`);
  }
  return decide(attributes, allowedIdentity, derToPem(parts.spkiDer, 'PUBLIC KEY'));
}

/**
 * What a CSR with a verified signature asks for (its attributes, one per value, as forge lists
 * them), and whether `allowedIdentity` may have it. One extensionRequest at most: PKCS#9 has it
 * single-valued (RFC 2985 §5.4.2), and a check of the first would not see what a second asks.
 */
function decide(attributes: CsrAttribute[], allowedIdentity: string, publicKeyPem: string): CsrDecision {
  const denied = (reason: string): CsrDecision => ({ ok: false, status: 'denied', reason });
  const requests = attributes.filter((a) => a.name === 'extensionRequest');
  if (requests.length > 1)
    return invalid(
      `the CSR has more than one extensionRequest (${requests.length}): PKCS#9 allows one, with one value (RFC 2985 §5.4.2)`,
    );
  const requested = requests[0]?.extensions ?? [];
  for (const ext of requested) {
    if (ext.name === 'basicConstraints' && ext.cA === true)
      return denied('the CSR asks for a CA certificate');
    if (ext.name === 'keyUsage' && (ext.keyCertSign === true || ext.cRLSign === true)) {
      return denied('the CSR asks for certificate-signing key usage');
    }
  }
  const sans = requested
    .filter((e) => e.name === 'subjectAltName')
    .flatMap((e) => (e.altNames as Array<{ type: number; value?: string; ip?: string }> | undefined) ?? []);
  const others = sans.filter((s) => s.type !== SAN_URI || s.value !== allowedIdentity);
  if (others.length > 0) {
    const names = others.map((s) => `${SAN_NAMES[s.type] ?? `type${s.type}`}:${s.ip ?? s.value ?? '?'}`);
    return denied(`the CSR asks for ${names.join(', ')}; this caller may only hold ${allowedIdentity}`);
  }
  return { ok: true, publicKeyPem };
}

/** Why an RSA public key is not one to certify, or undefined. Cheap: sizes only, no arithmetic. */
export function rsaKeyProblem(key: Pick<forge.pki.rsa.PublicKey, 'n' | 'e'>): string | undefined {
  const bits = key.n.bitLength();
  if (bits < MIN_RSA_BITS) return `RSA keys must have at least ${MIN_RSA_BITS} bits`;
  if (bits > MAX_RSA_BITS) return `RSA keys may have at most ${MAX_RSA_BITS} bits (this one has ${bits})`;
  // e = 1 makes the private key equal to the public one; an even e is no RSA key.
  if (key.e.bitLength() > MAX_RSA_EXPONENT_BITS || key.e.bitLength() < 2 || !key.e.testBit(0))
    return 'the RSA public exponent must be odd, at least 3 and below 2^32';
  return undefined;
}

type RequestedExtension = { name?: string } & Record<string, unknown>;
/** One value of a CSR attribute, as forge lists them (an extensionRequest's decoded). */
type CsrAttribute = { name?: string; extensions?: RequestedExtension[] };

/** Present in forge 1.x, missing from @types/node-forge. */
interface ForgeCri {
  getCertificationRequestInfo(csr: forge.pki.CertificateSigningRequest): forge.asn1.Asn1;
  CRIAttributesAsArray(attributes: forge.asn1.Asn1[]): CsrAttribute[];
}

/** A CertificationRequest (RFC 2986 §4) cut into the bytes that are signed, the key and the signature. */
interface CsrParts {
  /** CertificationRequestInfo, its bytes as they are in the CSR. */
  infoDer: Buffer;
  /** subjectPKInfo, its bytes as they are in the CSR. */
  spkiDer: Buffer;
  /** The attributes `[0]` as they are in the CSR, when present. */
  attributesDer: Buffer | undefined;
  /** Its signatureAlgorithm, read once the key is one to verify with. */
  signatureAlgorithmDer: Buffer;
  signature: Buffer;
}

/** Reads a PEM CSR's structure by its DER lengths, re-encoding nothing. Throws saying what is wrong. */
function csrParts(csrPem: string): CsrParts {
  const msg = forge.pem.decode(csrPem)[0];
  if (!msg) throw new Error('no PEM block');
  if (msg.type !== 'CERTIFICATE REQUEST' && msg.type !== 'NEW CERTIFICATE REQUEST')
    throw new Error(`a PEM ${msg.type}, not a CERTIFICATE REQUEST`);
  const der = Buffer.from(msg.body, 'binary');
  const outer = tlvAt(der, 0, der.length, SEQUENCE);
  if (outer.end !== der.length) throw new Error('bytes after the CertificationRequest');
  const [info, algorithm, signature, ...extra] = childrenOf(der, outer);
  if (!info || !algorithm || !signature || extra.length > 0) throw new Error('not a CertificationRequest');
  expectTag(info, SEQUENCE);
  expectTag(algorithm, SEQUENCE);
  expectTag(signature, BIT_STRING);
  const [version, subject, spki, attributes, ...more] = childrenOf(der, info);
  if (!version || !subject || !spki || more.length > 0) throw new Error('not a CertificationRequestInfo');
  expectTag(version, INTEGER);
  expectTag(subject, SEQUENCE);
  expectTag(spki, SEQUENCE);
  if (attributes) expectTag(attributes, ATTRIBUTES);
  const bits = der.subarray(signature.body, signature.end);
  if (bits[0] !== 0) throw new Error('the signature BIT STRING has unused bits');
  return {
    infoDer: der.subarray(info.start, info.end),
    spkiDer: der.subarray(spki.start, spki.end),
    attributesDer: attributes && der.subarray(attributes.start, attributes.end),
    signatureAlgorithmDer: der.subarray(algorithm.start, algorithm.end),
    signature: bits.subarray(1),
  };
}

/** The CSR's signatureAlgorithm: its OID and parameters; or why it is unreadable. */
function signatureAlgorithm(parts: CsrParts): { oid: string; parameters: forge.asn1.Asn1[] } | string {
  try {
    const [oid, ...parameters] = parseDer(parts.signatureAlgorithmDer).value as forge.asn1.Asn1[];
    if (
      !oid ||
      oid.tagClass !== asn1.Class.UNIVERSAL ||
      oid.type !== asn1.Type.OID ||
      typeof oid.value !== 'string'
    )
      throw new Error('no algorithm OID');
    return { oid: asn1.derToOid(forge.util.createBuffer(oid.value)), parameters };
  } catch (err) {
    return `the CSR's signature algorithm is unreadable: ${describeError(err)}`;
  }
}

const SEQUENCE = 0x30;
const BIT_STRING = 0x03;
const INTEGER = 0x02;
const OID_TAG = 0x06;
/** `[0] IMPLICIT SET OF Attribute`, constructed. */
const ATTRIBUTES = 0xa0;
