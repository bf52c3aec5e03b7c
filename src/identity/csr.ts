import { createPublicKey, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { describeError } from '../errors.js';
import { childrenOf, expectTag, tlvAt } from './der.js';
import { derToPem } from './pem.js';
import {
  keyKind,
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
 * §4.2.3) names them.
 */
const CERTIFIED_CURVES: Readonly<Record<string, string>> = { prime256v1: 'P-256', secp384r1: 'P-384' };
/** What a certified key may be, for messages. */
export const CERTIFIED_KEYS = 'RSA (2048 to 8192 bits) or ECDSA P-256 or P-384';

/** Why Isthmus certifies no key of this type, or undefined: RSA (whose size is rsaKeyProblem's), P-256, P-384. */
export function keyTypeProblem(key: KeyObject): string | undefined {
  const type = key.asymmetricKeyType;
  if (type === 'rsa') return undefined;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (type === 'ec' && curve !== undefined && curve in CERTIFIED_CURVES) return undefined;
  const why =
    type === 'ec'
      ? curve === 'secp521r1'
        ? 'rustls on ring, as in Linkerd proxies, cannot verify P-521, which also costs several times P-256 to sign with'
        : 'no TLS 1.3 signature scheme uses this curve'
      : type === 'rsa-pss'
        ? 'an id-RSASSA-PSS key restricted to PSS, which many TLS stacks refuse in a certificate; make an rsaEncryption key'
        : type === 'dsa'
          ? 'TLS 1.3 has no DSA'
          : 'neither the WebPKI nor the PKIs Linkerd installs (step, cert-manager) give such keys to TLS leaves';
  return `${keyKind(key)} keys are not certified (${why}): Isthmus certifies ${CERTIFIED_KEYS} keys`;
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

/**
 * May the holder of this CSR receive a certificate for `allowedIdentity`? A CSR may leave the
 * identity out (it is assigned) or name exactly it; any other name, extra SAN or CA request is denied.
 */
export function checkCsr(csrPem: string, allowedIdentity: string): CsrDecision {
  let parts: CsrParts;
  try {
    parts = csrParts(csrPem);
  } catch (err) {
    return {
      ok: false,
      status: 'invalid',
      reason: `not a PEM PKCS#10 certificate request: ${describeError(err)}`,
    };
  }
  return parts.keyAlgorithm === OID_RSA_ENCRYPTION
    ? checkRsaCsr(csrPem, allowedIdentity)
    : checkOtherCsr(parts, allowedIdentity);
}

/** An RSA CSR, read and verified by forge as it always was. */
function checkRsaCsr(csrPem: string, allowedIdentity: string): CsrDecision {
  let csr: forge.pki.CertificateSigningRequest;
  try {
    csr = pki.certificationRequestFromPem(csrPem);
  } catch (err) {
    return {
      ok: false,
      status: 'invalid',
      reason: `not a PEM PKCS#10 RSA certificate request: ${describeError(err)}`,
    };
  }
  const publicKey = csr.publicKey as forge.pki.rsa.PublicKey | null;
  if (!publicKey) return { ok: false, status: 'invalid', reason: 'the CSR has no public key' };
  // Before the signature: forge verifies in pure JS on the event loop, where a 16384-bit key with a
  // 16383-bit exponent (an 8.6 kB CSR) took 218 s, and the cost grows with the square of the size.
  const keyProblem = rsaKeyProblem(publicKey);
  if (keyProblem) return { ok: false, status: 'invalid', reason: keyProblem };
  // The self-signature proves possession of the private key (RFC 2986 §3).
  let verified = false;
  try {
    verified = csr.verify();
  } catch {
    verified = false;
  }
  if (!verified) return INVALID_SIGNATURE;
  const publicKeyPem = pki.publicKeyToPem(publicKey).replace(/\r\n/g, '\n');
  return decide(requestedExtensions(csr), allowedIdentity, publicKeyPem);
}

const INVALID_SIGNATURE: CsrDecision = {
  ok: false,
  status: 'invalid',
  reason: 'the CSR signature does not verify',
};

/**
 * A CSR with a key forge cannot read (ECDSA, or one refused by name). The key is node:crypto's,
 * from the SubjectPublicKeyInfo as the CSR encodes it, which the certificate will carry: it must be
 * DER as OpenSSL writes it (named curve, uncompressed point). The signature is verified over the
 * CertificationRequestInfo's bytes as they are in the CSR: a re-encoding could verify a signature
 * made over other bytes than those sent (RFC 2986 §4.2 signs the DER encoding).
 */
function checkOtherCsr(parts: CsrParts, allowedIdentity: string): CsrDecision {
  const invalid = (reason: string): CsrDecision => ({ ok: false, status: 'invalid', reason });
  let key: KeyObject;
  try {
    key = createPublicKey({ key: parts.spkiDer, format: 'der', type: 'spki' });
  } catch (err) {
    return invalid(
      `the CSR's public key (algorithm ${parts.keyAlgorithm}) is unreadable: ${describeError(err)}`,
    );
  }
  const keyProblem = keyTypeProblem(key);
  if (keyProblem) return invalid(keyProblem);
  // Through JWK, node:crypto writes the point uncompressed (RFC 5480 §2.2: the one form every peer reads).
  const canonical = createPublicKey({ key: key.export({ format: 'jwk' }), format: 'jwk' });
  if (!canonical.export({ type: 'spki', format: 'der' }).equals(parts.spkiDer))
    return invalid(
      "the CSR's public key is not encoded as OpenSSL writes it (DER, a named curve, an uncompressed point)",
    );
  let signatureAlgorithm: string;
  try {
    signatureAlgorithm = algorithmOid(parts.signatureAlgorithmDer, true);
  } catch (err) {
    return invalid(`the CSR's signature algorithm is unreadable: ${describeError(err)}`);
  }
  if (!verifySigned(signatureAlgorithm, parts.infoDer, parts.signature, key)) return INVALID_SIGNATURE;
  let requested: RequestedExtension[];
  try {
    requested = extensionsOf(parts.attributesDer);
  } catch (err) {
    return invalid(`the CSR's attributes are unreadable: ${describeError(err)}`);
  }
  return decide(requested, allowedIdentity, derToPem(parts.spkiDer, 'PUBLIC KEY'));
}

/** What a CSR with a verified signature asks for, and whether `allowedIdentity` may have it. */
function decide(requested: RequestedExtension[], allowedIdentity: string, publicKeyPem: string): CsrDecision {
  const denied = (reason: string): CsrDecision => ({ ok: false, status: 'denied', reason });
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

function requestedExtensions(csr: forge.pki.CertificateSigningRequest): RequestedExtension[] {
  const attr = csr.getAttribute({ name: 'extensionRequest' }) as { extensions?: RequestedExtension[] } | null;
  return attr?.extensions ?? [];
}

/** The extensionRequest of an attributes `[0]` (its DER), decoded as forge decodes an RSA CSR's. */
function extensionsOf(attributesDer: Buffer | undefined): RequestedExtension[] {
  if (attributesDer === undefined) return [];
  const attributes = parseDer(attributesDer).value as forge.asn1.Asn1[];
  const all = (pki as unknown as ForgeCri).CRIAttributesAsArray(attributes);
  return all.find((a) => a.name === 'extensionRequest')?.extensions ?? [];
}

/** Present in forge 1.x, missing from @types/node-forge. */
interface ForgeCri {
  getCertificationRequestInfo(csr: forge.pki.CertificateSigningRequest): forge.asn1.Asn1;
  CRIAttributesAsArray(
    attributes: forge.asn1.Asn1[],
  ): Array<{ name?: string; extensions?: RequestedExtension[] }>;
}

/** RFC 8017 Appendix A.1. */
const OID_RSA_ENCRYPTION = '1.2.840.113549.1.1.1';

/** A CertificationRequest (RFC 2986 §4) cut into the bytes that are signed, the key and the signature. */
interface CsrParts {
  /** CertificationRequestInfo, its bytes as they are in the CSR. */
  infoDer: Buffer;
  /** subjectPKInfo, its bytes as they are in the CSR. */
  spkiDer: Buffer;
  /** Its AlgorithmIdentifier's OID. */
  keyAlgorithm: string;
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
  const spkiDer = der.subarray(spki.start, spki.end);
  return {
    infoDer: der.subarray(info.start, info.end),
    spkiDer,
    keyAlgorithm: algorithmOid(spkiDer),
    attributesDer: attributes && der.subarray(attributes.start, attributes.end),
    signatureAlgorithmDer: der.subarray(algorithm.start, algorithm.end),
    signature: bits.subarray(1),
  };
}

/**
 * The OID of an AlgorithmIdentifier (`signature`: that one itself) or of a SubjectPublicKeyInfo's.
 * A signature's may have no parameters but NULL (RSA): RFC 5758 §3.2 has ECDSA's absent.
 */
function algorithmOid(der: Buffer, signature = false): string {
  const node = parseDer(der).value as forge.asn1.Asn1[];
  const identifier = signature ? node : (node[0]?.value as forge.asn1.Asn1[] | undefined);
  const oid = identifier?.[0];
  if (!oid || oid.type !== asn1.Type.OID || typeof oid.value !== 'string')
    throw new Error('no algorithm OID');
  const parameters = identifier[1];
  if (signature && parameters && !(parameters.type === asn1.Type.NULL && identifier.length === 2))
    throw new Error('signature algorithm parameters other than NULL');
  return asn1.derToOid(forge.util.createBuffer(oid.value));
}

const SEQUENCE = 0x30;
const BIT_STRING = 0x03;
const INTEGER = 0x02;
/** `[0] IMPLICIT SET OF Attribute`, constructed. */
const ATTRIBUTES = 0xa0;
