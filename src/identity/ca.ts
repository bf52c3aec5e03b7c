import { randomBytes } from 'node:crypto';
import forge from 'node-forge';
import { IsthmusError } from '../errors.js';
import { type CertificateInfo, certificateInfo } from './certificate-info.js';
import { type CertifiedKeyType, certifiedKeyType } from './csr.js';
import { ANCHOR_KEY_BITS, generateLeafKey, generateRsaKey, LEAF_KEY_BITS, type LeafKeyType } from './keys.js';
import { joinPem, splitPem } from './pem.js';
import { gatewayIdentity, isValidClusterName, isValidTrustDomain } from './spiffe.js';
import {
  readSignerCertificate,
  SPKI_STAND_IN,
  type SubjectPublicKey,
  signCertificate,
  subjectPublicKey,
} from './x509-signing.js';

/**
 * The certificate authority: trust anchor → per-cluster issuer → short-lived gateway leaves, the
 * same three tiers as Linkerd's identity. Pure apart from key generation; no files, no network.
 * node-forge builds the certificates (anchor and issuer keys RSA; leaf keys ECDSA P-256, or RSA)
 * with the subject's SubjectPublicKeyInfo put in verbatim; node:crypto signs them (x509-signing.ts),
 * so the anchor or issuer that signs may be RSA or ECDSA (Linkerd's step and cert-manager default).
 */
export { certificateInfo, gatewayIdentityOf } from './certificate-info.js';
export { parseSpiffeGatewayIdentity } from './spiffe.js';
export { verifyChain } from './verify-chain.js';

const { pki } = forge;

export interface KeyPairPem {
  certPem: string;
  keyPem: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_ANCHOR_VALIDITY_DAYS = 3650;
export const DEFAULT_ISSUER_VALIDITY_DAYS = 365;
/** 24 h, Linkerd's default `identity.issuer.issuanceLifetime`. */
export const DEFAULT_LEAF_LIFETIME_MS = DAY_MS;
/** notBefore is backdated by this much so a peer whose clock is behind still accepts a fresh
 * certificate (Linkerd's default `identity.issuer.clockSkewAllowance` is 20 s). */
export const CLOCK_SKEW_ALLOWANCE_MS = 20_000;
/** RFC 5280 Appendix A: ub-common-name INTEGER ::= 64. */
const MAX_COMMON_NAME = 64;

/** GeneralName tags (RFC 5280 §4.2.1.6) as forge numbers them. */
const SAN_DNS = 2;
const SAN_URI = 6;

export function createTrustAnchor(opts: {
  trustDomain: string;
  validityDays?: number;
  commonName?: string;
  /** 3072 by default; tests pass 2048 because a 3072-bit key takes ~0.7 s to generate. */
  keyBits?: 2048 | 3072;
}): KeyPairPem {
  requireTrustDomain(opts.trustDomain);
  const key = generateRsaKey(opts.keyBits ?? ANCHOR_KEY_BITS);
  const now = Date.now();
  const subject = [{ shortName: 'CN', value: opts.commonName ?? `root.${opts.trustDomain}` }];
  const certPem = sign({
    publicKey: publicKeyOf(key.publicKeyPem),
    subject,
    issuer: undefined,
    signingKeyPem: key.privateKeyPem,
    notBefore: new Date(now - CLOCK_SKEW_ALLOWANCE_MS),
    notAfter: new Date(now + (opts.validityDays ?? DEFAULT_ANCHOR_VALIDITY_DAYS) * DAY_MS),
    // pathLen 1: anchor → issuer → leaf, nothing deeper (RFC 5280 §4.2.1.9).
    extensions: caExtensions(1),
  });
  return { certPem, keyPem: key.privateKeyPem };
}

export function createIssuer(
  anchor: KeyPairPem,
  opts: { cluster: string; trustDomain: string; validityDays?: number },
): KeyPairPem {
  requireNames(opts.trustDomain, opts.cluster);
  const key = generateRsaKey(LEAF_KEY_BITS);
  const now = Date.now();
  const certPem = sign({
    publicKey: publicKeyOf(key.publicKeyPem),
    subject: [{ shortName: 'CN', value: `identity.${opts.cluster}.${opts.trustDomain}` }],
    issuer: anchor,
    notBefore: new Date(now - CLOCK_SKEW_ALLOWANCE_MS),
    notAfter: new Date(now + (opts.validityDays ?? DEFAULT_ISSUER_VALIDITY_DAYS) * DAY_MS),
    // pathLen 0: an issuer signs leaves only, never another CA.
    extensions: caExtensions(0),
  });
  return { certPem, keyPem: key.privateKeyPem };
}

export interface LeafOptions {
  uriSans: string[];
  dnsSans?: string[];
  commonName?: string;
  notBefore?: Date;
  notAfter?: Date;
  /** Certify the holder of this key (from a CSR: RSA, ECDSA P-256 or P-384), carried verbatim. */
  publicKeyPem?: string;
  /**
   * Without `publicKeyPem`, the key generated and returned: ECDSA P-256 unless asked, as the
   * gateway's and identity's own leaves are (tests, the lab's files and the bench take these).
   */
  keyType?: LeafKeyType;
  /** Only for tests that need a wrongly-issued "leaf" with the CA bit set. */
  isCa?: boolean;
}

export function issueLeaf(issuer: KeyPairPem, opts: LeafOptions): { certPem: string; keyPem?: string } {
  const key = opts.publicKeyPem === undefined ? generateLeafKey(opts.keyType ?? 'ecdsa-p256') : undefined;
  const publicKey = publicKeyOf(opts.publicKeyPem ?? key!.publicKeyPem);
  const now = Date.now();
  const altNames = [
    ...opts.uriSans.map((value) => ({ type: SAN_URI, value })),
    ...(opts.dnsSans ?? []).map((value) => ({ type: SAN_DNS, value })),
  ];
  const subject = opts.commonName === undefined ? [] : [{ shortName: 'CN', value: opts.commonName }];
  const extensions: ExtensionSpec[] = [
    { name: 'basicConstraints', cA: opts.isCa === true, critical: true },
    opts.isCa === true
      ? { name: 'keyUsage', keyCertSign: true, digitalSignature: true, critical: true }
      : leafKeyUsage(publicKey),
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
  ];
  if (altNames.length > 0) {
    // With an empty subject the SAN must be critical (RFC 5280 §4.2.1.6).
    extensions.push({ name: 'subjectAltName', altNames, critical: subject.length === 0 });
  }
  const certPem = sign({
    publicKey,
    subject,
    issuer,
    notBefore: opts.notBefore ?? new Date(now - CLOCK_SKEW_ALLOWANCE_MS),
    notAfter: opts.notAfter ?? new Date(now + DEFAULT_LEAF_LIFETIME_MS),
    extensions,
  });
  return key === undefined ? { certPem } : { certPem, keyPem: key.privateKeyPem };
}

export interface GatewayCertificate {
  certPem: string;
  keyPem: string;
  /** The leaf followed by the issuer: what a TLS peer presents as `cert`. */
  chainPem: string;
  notAfter: Date;
}

export function issueGatewayCertificate(
  issuer: KeyPairPem,
  opts: { trustDomain: string; cluster: string; lifetimeMs?: number; now?: Date; keyType?: LeafKeyType },
): GatewayCertificate {
  requireNames(opts.trustDomain, opts.cluster);
  const now = (opts.now ?? new Date()).getTime();
  const issuerNotAfter = certificateInfo(issuer.certPem).notAfter;
  const notAfter = leafNotAfter(now, opts.lifetimeMs ?? DEFAULT_LEAF_LIFETIME_MS, issuerNotAfter);
  const leaf = issueLeaf(issuer, {
    uriSans: [gatewayIdentity(opts.trustDomain, opts.cluster)],
    commonName: gatewayCommonName(opts.trustDomain, opts.cluster),
    notBefore: new Date(now - CLOCK_SKEW_ALLOWANCE_MS),
    notAfter,
    ...(opts.keyType ? { keyType: opts.keyType } : {}),
  });
  return {
    certPem: leaf.certPem,
    keyPem: leaf.keyPem!,
    chainPem: chainOf(leaf.certPem, issuer),
    notAfter,
  };
}

/**
 * X.509 times have whole seconds (RFC 5280 §4.1.2.5.1), so round up: a lifetime is a minimum. But
 * never past `issuerNotAfter`: every peer would refuse the leaf's chain from then on anyway.
 */
export function leafNotAfter(nowMs: number, lifetimeMs: number, issuerNotAfter: Date): Date {
  const wanted = Math.ceil((nowMs + lifetimeMs) / 1000) * 1000;
  return new Date(Math.min(wanted, issuerNotAfter.getTime()));
}

/**
 * Why the issuer may not sign at `nowMs`, or undefined. An expired issuer (its renewal never
 * arrived) would otherwise sign leaves whose notAfter, capped at the issuer's, is before their
 * notBefore: dead on arrival, refused by the gateway's own chain check with a puzzling reason.
 */
export function issuerWindowProblem(
  issuer: Pick<CertificateInfo, 'subject' | 'notBefore' | 'notAfter'>,
  nowMs: number,
): string | undefined {
  if (nowMs > issuer.notAfter.getTime())
    return `the issuer "${issuer.subject}" expired at ${issuer.notAfter.toISOString()}: renew it (isthmus certs, or its cert-manager Certificate)`;
  if (nowMs < issuer.notBefore.getTime())
    return `the issuer "${issuer.subject}" is not valid before ${issuer.notBefore.toISOString()} (is this clock behind?)`;
  return undefined;
}

/** `gateway.<cluster>.<td>`, like Linkerd's DNS-style identity names; omitted when too long for a CN. */
export function gatewayCommonName(trustDomain: string, cluster: string): string | undefined {
  const cn = `gateway.${cluster}.${trustDomain}`;
  return cn.length <= MAX_COMMON_NAME ? cn : undefined;
}

/** Leaf plus every certificate of the issuer's file (an issuer may carry its own intermediates). */
export function chainOf(leafPem: string, issuer: Pick<KeyPairPem, 'certPem'>): string {
  return joinPem([...splitPem(leafPem), ...splitPem(issuer.certPem)]);
}

type ExtensionSpec = { name: string; critical?: boolean } & Record<string, unknown>;

function caExtensions(pathLen: number): ExtensionSpec[] {
  return [
    { name: 'basicConstraints', cA: true, pathLenConstraint: pathLen, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
  ];
}

/**
 * A leaf's keyUsage (RFC 5280 §4.2.1.3): digitalSignature, all TLS 1.3 uses a key for; an RSA key
 * also gets keyEncipherment, for RSA key transport in TLS 1.2. Never an ECDSA key, which enciphers
 * nothing: keyEncipherment is not among the usages RFC 5480 §3 allows an id-ecPublicKey.
 */
function leafKeyUsage(publicKey: SubjectPublicKey): ExtensionSpec {
  const rsa = publicKey.key.asymmetricKeyType === 'rsa';
  return {
    name: 'keyUsage',
    digitalSignature: true,
    ...(rsa ? { keyEncipherment: true } : {}),
    critical: true,
  };
}

/**
 * The SubjectPublicKeyInfo of a `PUBLIC KEY` PEM, to be certified: RSA, or ECDSA on P-256 or P-384
 * (what checkCsr accepts); CSR_INVALID for anything else or an unreadable key. The key type is
 * decided from the DER (certifiedKeyType) before OpenSSL reads the key.
 */
export function publicKeyOf(publicKeyPem: string): SubjectPublicKey {
  const unreadable = (err: unknown) =>
    new IsthmusError('CSR_INVALID', `public key unreadable: ${(err as Error).message}`, { cause: err });
  let der: Buffer;
  let keyType: CertifiedKeyType;
  try {
    const body = /-----BEGIN PUBLIC KEY-----([\s\S]*?)-----END PUBLIC KEY-----/.exec(publicKeyPem)?.[1];
    if (body === undefined) throw new Error('no PEM PUBLIC KEY block');
    der = Buffer.from(body.replace(/\s+/g, ''), 'base64');
    keyType = certifiedKeyType(der);
  } catch (err) {
    throw unreadable(err);
  }
  if (!keyType.ok) throw new IsthmusError('CSR_INVALID', `public key refused: ${keyType.reason}`);
  try {
    return subjectPublicKey(der);
  } catch (err) {
    throw unreadable(err);
  }
}

interface SignSpec {
  /** The subject's key, carried verbatim (forge encodes RSA keys only). */
  publicKey: SubjectPublicKey;
  subject: forge.pki.CertificateField[];
  /** undefined: self-signed with `signingKeyPem`. */
  issuer: KeyPairPem | undefined;
  signingKeyPem?: string;
  notBefore: Date;
  notAfter: Date;
  extensions: ExtensionSpec[];
}

function sign(spec: SignSpec): string {
  const cert = pki.createCertificate();
  // forge encodes RSA keys only: a stand-in, replaced by the real SubjectPublicKeyInfo as it is
  // encoded (signCertificate); the key identifiers forge computes are the real key's.
  cert.publicKey = SPKI_STAND_IN;
  const keyId = forge.util.createBuffer(spec.publicKey.keyId.toString('binary'));
  cert.generateSubjectKeyIdentifier = () => keyId.copy();
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = spec.notBefore;
  cert.validity.notAfter = spec.notAfter;
  cert.setSubject(spec.subject);
  // The signer's subject goes into the issuer field as it is encoded (signCertificate), so it may
  // have any key type, attributes and string types; forge's issuer here is only the self-signed one.
  cert.setIssuer(spec.subject);
  const signer = spec.issuer === undefined ? undefined : readSignerCertificate(spec.issuer.certPem);
  // Key identifiers let OpenSSL pick the right signer when several share a name (RFC 5280 §4.2.1.1-2).
  const authorityKeyId =
    signer === undefined
      ? cert.generateSubjectKeyIdentifier().getBytes()
      : signer.subjectKeyId.toString('binary');
  cert.setExtensions([
    ...spec.extensions,
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: authorityKeyId },
  ]);
  return signCertificate(cert, spec.issuer?.keyPem ?? spec.signingKeyPem ?? '', signer, spec.publicKey);
}

/**
 * 16 random bytes as a positive DER INTEGER in minimal form (RFC 5280 §4.1.2.2, X.690 §8.3.2):
 * the first byte is 0x40–0x7f, 126 random bits. node-forge drops one redundant leading zero byte
 * but not two, so a serial starting 00 00 (and then under 0x80) was encoded non-minimally, which
 * OpenSSL refuses ("illegal padding"): one certificate in 65,536 would not parse, nor pass a TLS
 * handshake. A CI run drew one for a test trust anchor.
 */
export function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x3f) | 0x40;
  return bytes.toString('hex');
}

function requireNames(trustDomain: string, cluster: string): void {
  requireTrustDomain(trustDomain);
  if (!isValidClusterName(cluster)) {
    throw new IsthmusError('USAGE', `cluster name "${cluster}" is not a valid DNS label (RFC 1123)`, {
      terminal: true,
    });
  }
}

function requireTrustDomain(trustDomain: string): void {
  if (!isValidTrustDomain(trustDomain)) {
    throw new IsthmusError(
      'USAGE',
      `trust domain "${trustDomain}" is not valid (lower-case letters, digits, . - _)`,
      {
        terminal: true,
      },
    );
  }
}
