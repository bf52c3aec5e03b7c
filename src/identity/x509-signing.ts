/**
 * Signing X.509 structures (certificates, CRLs) with every key type Isthmus supports: node-forge
 * builds the ASN.1, node:crypto (OpenSSL) signs the to-be-signed bytes. forge can only sign with
 * RSA (and writes NULL parameters for any algorithm it does not know), whereas trust anchors and
 * issuers made by `step` or cert-manager for Linkerd are ECDSA P-256 by default. Pure: no files.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import forge from 'node-forge';
import { IsthmusError } from '../errors.js';
import { derToPem, firstCertificate } from './pem.js';

const { asn1 } = forge;
const T = asn1.Type;
const U = asn1.Class.UNIVERSAL;
const CONTEXT = asn1.Class.CONTEXT_SPECIFIC;

export interface SignatureAlgorithm {
  oid: string;
  /** What `openssl x509 -text` prints. */
  name: string;
  hash: 'sha256' | 'sha384' | 'sha512';
  /** The key type (`KeyObject.asymmetricKeyType`) that makes such signatures. */
  keyType: 'rsa' | 'ec';
}

/** RFC 4055 §5 (RFC 8017 Appendix A.2.4): parameters NULL. Always SHA-256: what forge wrote. */
const SHA256_WITH_RSA: SignatureAlgorithm = {
  oid: '1.2.840.113549.1.1.11',
  name: 'sha256WithRSAEncryption',
  hash: 'sha256',
  keyType: 'rsa',
};

/**
 * ECDSA by curve (OpenSSL's names), each with the hash of its strength (RFC 5480 §4); the OIDs
 * are RFC 5758 §3.2's, whose parameters field MUST be absent.
 */
const ECDSA_BY_CURVE: Readonly<Record<string, SignatureAlgorithm>> = {
  prime256v1: { oid: '1.2.840.10045.4.3.2', name: 'ecdsa-with-SHA256', hash: 'sha256', keyType: 'ec' },
  secp384r1: { oid: '1.2.840.10045.4.3.3', name: 'ecdsa-with-SHA384', hash: 'sha384', keyType: 'ec' },
  secp521r1: { oid: '1.2.840.10045.4.3.4', name: 'ecdsa-with-SHA512', hash: 'sha512', keyType: 'ec' },
};

const BY_OID = new Map([SHA256_WITH_RSA, ...Object.values(ECDSA_BY_CURVE)].map((a) => [a.oid, a] as const));

/** What a signing key may be, for messages. */
export const SUPPORTED_SIGNING_KEYS = 'RSA or ECDSA (P-256, P-384, P-521)';

/** The algorithm `key` (private or public) signs with, or undefined for a key type Isthmus refuses. */
export function signatureAlgorithmFor(key: KeyObject): SignatureAlgorithm | undefined {
  if (key.asymmetricKeyType === 'rsa') return SHA256_WITH_RSA;
  if (key.asymmetricKeyType !== 'ec') return undefined;
  return ECDSA_BY_CURVE[key.asymmetricKeyDetails?.namedCurve ?? ''];
}

/** The signature algorithm an OID names, if Isthmus makes such signatures. */
export function signatureAlgorithmOf(oid: string): SignatureAlgorithm | undefined {
  return BY_OID.get(oid);
}

/** `ECDSA (secp256k1)`, `Ed25519`, `RSA-PSS`: a key type as a message names it. */
export function keyKind(key: KeyObject): string {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  switch (key.asymmetricKeyType) {
    case 'ec':
      return `ECDSA${curve ? ` (${curve})` : ''}`;
    case 'rsa':
      return 'RSA';
    case 'rsa-pss':
      return 'RSA-PSS';
    case 'ed25519':
      return 'Ed25519';
    case 'ed448':
      return 'Ed448';
    case 'dsa':
      return 'DSA';
    default:
      return key.asymmetricKeyType ?? 'of an unknown type';
  }
}

/** Why Isthmus cannot sign with `key` (`<kind>: … only`), or undefined when it can. */
export function unsupportedSigningKey(key: KeyObject): string | undefined {
  if (signatureAlgorithmFor(key)) return undefined;
  return `${keyKind(key)}: Isthmus signs with ${SUPPORTED_SIGNING_KEYS} keys only`;
}

export interface SigningKey {
  key: KeyObject;
  algorithm: SignatureAlgorithm;
}

/** A private key read for signing, or CERT_INVALID saying why it cannot sign. */
export function signingKey(keyPem: string): SigningKey {
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new IsthmusError('CERT_INVALID', `not a readable private key: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const algorithm = signatureAlgorithmFor(key);
  if (!algorithm) throw new IsthmusError('CERT_INVALID', `the signing key is ${unsupportedSigningKey(key)}`);
  return { key, algorithm };
}

/** AlgorithmIdentifier (RFC 5280 §4.1.1.2): NULL parameters for RSA, none for ECDSA (RFC 5758 §3.2). */
export function algorithmIdentifier(algorithm: SignatureAlgorithm): forge.asn1.Asn1 {
  return asn1.create(U, T.SEQUENCE, true, [
    asn1.create(U, T.OID, false, asn1.oidToDer(algorithm.oid).getBytes()),
    ...(algorithm.keyType === 'rsa' ? [asn1.create(U, T.NULL, false, '')] : []),
  ]);
}

/**
 * `SEQUENCE { tbs, signatureAlgorithm, signatureValue }`, the outer shape of a Certificate (RFC 5280
 * §4.1) and of a CertificateList (§5.1). `tbs` must already name `signer.algorithm`.
 */
export function signedDer(tbs: forge.asn1.Asn1, signer: SigningKey): Buffer {
  const tbsDer = Buffer.from(asn1.toDer(tbs).getBytes(), 'binary');
  // PKCS#1 v1.5 for RSA (deterministic: the bytes forge's cert.sign made), DER ECDSA-Sig-Value for EC.
  const signature = sign(signer.algorithm.hash, tbsDer, signer.key);
  const signed = asn1.create(U, T.SEQUENCE, true, [
    tbs,
    algorithmIdentifier(signer.algorithm),
    asn1.create(U, T.BITSTRING, false, `\x00${signature.toString('binary')}`),
  ]);
  return Buffer.from(asn1.toDer(signed).getBytes(), 'binary');
}

/**
 * Signs a certificate forge has built (subject, key, validity, extensions) with `keyPem`, issued by
 * `signer` (its subject copied verbatim as the issuer Name; undefined: forge's issuer, self-signed).
 * A key that is not the signer's is refused (requireSignerKey). Returns its PEM, LF line ends.
 */
export function signCertificate(
  cert: forge.pki.Certificate,
  keyPem: string,
  signer: SignerCertificate | undefined,
  subjectKey?: SubjectPublicKey,
): string {
  const key = signingKey(keyPem);
  if (signer) requireSignerKey(key, signer);
  else
    requireSignerKey(key, {
      publicKey: subjectKey?.key ?? createPublicKey(forge.pki.publicKeyToPem(cert.publicKey)),
      name: 'the self-signed certificate being made',
    });
  // forge needs an OID to build the TBS; its AlgorithmIdentifier is replaced below.
  cert.siginfo.algorithmOid = key.algorithm.oid;
  const tbs = (forge.pki as unknown as ForgeTbs).getTBSCertificate(cert);
  const fields = tbs.value as forge.asn1.Asn1[];
  // forge always writes [0] version, so: version, serialNumber, signature, issuer, validity,
  // subject, subjectPublicKeyInfo, … (RFC 5280 §4.1).
  fields[2] = algorithmIdentifier(key.algorithm);
  if (signer) fields[3] = signer.subject;
  if (subjectKey) fields[6] = subjectKey.asn1;
  return derToPem(signedDer(tbs, key), 'CERTIFICATE');
}

/** A SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) of any key type, to be carried as it is encoded. */
export interface SubjectPublicKey {
  /** Its DER, as given. */
  der: Buffer;
  /** The same, parsed (BIT STRING left as bytes), to put in a TBSCertificate or CertificationRequestInfo. */
  asn1: forge.asn1.Asn1;
  key: KeyObject;
  /** SHA-1 of its subjectPublicKey bits (RFC 5280 §4.2.1.2 method 1): forge's key id for RSA keys. */
  keyId: Buffer;
}

/**
 * A SubjectPublicKeyInfo read from its DER, which forge writes back byte for byte (else it throws):
 * what a certificate or CSR is given to carry is what it carries. Throws when node:crypto cannot
 * read the key.
 */
export function subjectPublicKey(der: Buffer): SubjectPublicKey {
  const node = parseDer(der);
  if (!Buffer.from(asn1.toDer(node).getBytes(), 'binary').equals(der))
    throw new Error('the SubjectPublicKeyInfo is not DER');
  return {
    der,
    asn1: node,
    key: createPublicKey({ key: der, format: 'der', type: 'spki' }),
    keyId: keyHash(node),
  };
}

/**
 * forge encodes a SubjectPublicKeyInfo from an RSA key only (`cert.publicKey`, `csr.publicKey`):
 * this stand-in (n = e = 1) lets it build the rest of a TBSCertificate or CertificationRequestInfo,
 * whose SubjectPublicKeyInfo is then replaced by the real one (`SubjectPublicKey.asn1`). A stand-in
 * left in place would sign for no key at all: requireSignerKey and openssl would both refuse it.
 */
export const SPKI_STAND_IN: forge.pki.rsa.PublicKey = forge.pki.setRsaPublicKey(
  new forge.jsbn.BigInteger('1'),
  new forge.jsbn.BigInteger('1'),
);

/**
 * Refuses to sign for `signer` with a key that is not the one its certificate holds: the
 * signature would verify under no certificate (RFC 5280 §6.1.3 (a)(1) for a certificate, §6.3.3
 * (g) for a CRL), so every relying party would refuse what is made, while the caller reported it
 * made. The algorithm follows the key, so a P-384 issuer with a P-256 key would also name the
 * wrong one. CERT_INVALID naming the certificate; callers that know its file say which.
 */
export function requireSignerKey(
  key: SigningKey,
  signer: Pick<SignerCertificate, 'publicKey' | 'name'>,
): void {
  const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });
  if (spki(createPublicKey(key.key)).equals(spki(signer.publicKey))) return;
  throw new IsthmusError(
    'CERT_INVALID',
    `the private key does not match the signer certificate (${signer.name}): it holds another public key, so nothing it signed would verify`,
  );
}

/** What a new certificate or CRL takes from the CA certificate that signs it. */
export interface SignerCertificate {
  /** Its subject Name as it is encoded, to be the issuer Name byte for byte (OpenSSL matches them). */
  subject: forge.asn1.Asn1;
  subjectDer: Buffer;
  /** The keyIdentifier of its subjectKeyIdentifier extension, if it has one. */
  subjectKeyIdExtension: Buffer | undefined;
  /** That, else the RFC 5280 §4.2.1.2 method (1) hash of its key, as forge computes for RSA. */
  subjectKeyId: Buffer;
  /** Its subjectPublicKeyInfo, to check that a signing key is this certificate's. */
  publicKey: KeyObject;
  /** `"<subject>", serial <hex>`, for messages. */
  name: string;
}

/** RFC 5280 §4.2.1.2. */
const OID_SUBJECT_KEY_ID = '2.5.29.14';

/**
 * Reads a CA certificate (PEM or DER, any key type) with forge's ASN.1 alone. Of a PEM bundle, the
 * first certificate as pem.ts finds it (firstCertificate), the one every validation reads: with a
 * looser match of its own, a block validation does not see would be the one that signs.
 */
export function readSignerCertificate(cert: string | Buffer): SignerCertificate {
  try {
    const tbs = childrenOf(childrenOf(parseDer(typeof cert === 'string' ? pemBody(cert) : cert))[0]);
    // [0] version is explicit and optional; then serialNumber, signature, issuer, validity, subject,
    // subjectPublicKeyInfo, then the optional [1] and [2] unique IDs and [3] extensions.
    const at = tbs[0]?.tagClass === CONTEXT ? 1 : 0;
    const subject = tbs[at + 4];
    const spki = tbs[at + 5];
    if (!subject || !spki) throw new Error('short TBSCertificate');
    const fromExtension = subjectKeyIdExtensionOf(tbs.slice(at + 6));
    const spkiDer = Buffer.from(asn1.toDer(spki).getBytes(), 'binary');
    const serial = forge.util.bytesToHex(tbs[at]!.value as string);
    return {
      subject,
      subjectDer: Buffer.from(asn1.toDer(subject).getBytes(), 'binary'),
      subjectKeyIdExtension: fromExtension,
      subjectKeyId: fromExtension ?? keyHash(spki),
      publicKey: createPublicKey({ key: spkiDer, format: 'der', type: 'spki' }),
      name: `"${nameText(subject)}", serial ${serial}`,
    };
  } catch (err) {
    if (err instanceof IsthmusError) throw err;
    throw new IsthmusError('CERT_INVALID', `signer certificate unreadable: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

function subjectKeyIdExtensionOf(optional: forge.asn1.Asn1[]): Buffer | undefined {
  const wrapper = optional.find((n) => n.tagClass === CONTEXT && n.type === 3);
  if (!wrapper) return undefined;
  for (const ext of childrenOf(childrenOf(wrapper)[0])) {
    const parts = childrenOf(ext);
    if (asn1.derToOid(forge.util.createBuffer(parts[0]!.value as string)) !== OID_SUBJECT_KEY_ID) continue;
    // extnValue is an OCTET STRING holding the KeyIdentifier, itself an OCTET STRING (RFC 5280
    // §4.2.1.2). Anything else is refused: read as a key id, a SEQUENCE's children gave 0000, an
    // AKI in what this CA signs that no relying party matches to it.
    const keyId = asn1.fromDer(forge.util.createBuffer(parts.at(-1)!.value as string));
    if (keyId.tagClass !== U || keyId.type !== T.OCTETSTRING || keyId.constructed) {
      throw new IsthmusError(
        'CERT_INVALID',
        'signer certificate unreadable: its subjectKeyIdentifier extension does not hold an OCTET STRING (RFC 5280 §4.2.1.2)',
      );
    }
    return Buffer.from(keyId.value as string, 'binary');
  }
  return undefined;
}

/** SHA-1 of the subjectPublicKey BIT STRING's bits (RFC 5280 §4.2.1.2 method 1). */
function keyHash(spki: forge.asn1.Asn1): Buffer {
  const bits = childrenOf(spki)[1]?.value;
  if (typeof bits !== 'string') throw new Error('no public key');
  return createHash('sha1')
    .update(Buffer.from(bits.slice(1), 'binary'))
    .digest();
}

/**
 * Whether `signature` over `tbsDer` verifies with `publicKey` under the algorithm `oid` names: one
 * Isthmus makes, and of the key's type (an ECDSA OID on an RSA key is refused, not tried).
 */
export function verifySigned(oid: string, tbsDer: Buffer, signature: Buffer, publicKey: KeyObject): boolean {
  const algorithm = signatureAlgorithmOf(oid);
  if (!algorithm || algorithm.keyType !== publicKey.asymmetricKeyType) return false;
  try {
    return verify(algorithm.hash, tbsDer, publicKey, signature);
  } catch {
    return false;
  }
}

/** Present in forge 1.x, missing from @types/node-forge. */
interface ForgeTbs {
  getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1;
}

/** Present in forge 1.x, missing from @types/node-forge. */
interface ForgeRdn {
  RDNAttributesAsArray(name: forge.asn1.Asn1): Array<{ shortName?: string; type: string; value: unknown }>;
}

type FromDerOptions = { strict?: boolean; decodeBitStrings?: boolean };

/**
 * DER parsed strictly, BIT STRINGs left as their bytes: forge would otherwise parse one whose bytes
 * are valid DER as ASN.1 children, and an ECDSA signature (an Ecdsa-Sig-Value, RFC 3279 §2.2.3)
 * always is, so its bytes would no longer be the node's value.
 */
export function parseDer(der: Buffer): forge.asn1.Asn1 {
  const fromDer = asn1.fromDer as unknown as (
    bytes: forge.util.ByteStringBuffer,
    o: FromDerOptions,
  ) => forge.asn1.Asn1;
  return fromDer(forge.util.createBuffer(der.toString('binary')), { strict: true, decodeBitStrings: false });
}

function pemBody(pem: string): Buffer {
  const block = firstCertificate(pem);
  if (!block) throw new IsthmusError('CERT_INVALID', 'signer certificate: no PEM CERTIFICATE block');
  return Buffer.from(block.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, ''), 'base64');
}

/** A Name as `CN=…, O=…` for messages (forge's short names; an unknown attribute by its OID). */
function nameText(name: forge.asn1.Asn1): string {
  try {
    const attrs = (forge.pki as unknown as ForgeRdn).RDNAttributesAsArray(name);
    return attrs.map((a) => `${a.shortName ?? a.type}=${String(a.value)}`).join(', ');
  } catch {
    return 'an unreadable subject';
  }
}

function childrenOf(node: forge.asn1.Asn1 | undefined): forge.asn1.Asn1[] {
  if (!node || !Array.isArray(node.value)) throw new Error('malformed certificate');
  return node.value;
}
