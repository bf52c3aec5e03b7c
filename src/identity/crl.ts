/**
 * X.509 certificate revocation lists (RFC 5280 §5), made and read without OpenSSL's CLI: node-forge
 * encodes the ASN.1 (it has no CRL support of its own), node:crypto signs and verifies, with an RSA
 * or ECDSA key (x509-signing.ts). An issuer revokes gateway leaves with its CRL; the trust anchor
 * revokes a cluster's issuer with its own. Pure: no files, no network.
 */
import type { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { IsthmusError } from '../errors.js';
import { firstElement } from './der.js';
import { derToPem, splitPem } from './pem.js';
import {
  algorithmIdentifier,
  parseDer,
  readSignerCertificate,
  requireSignerKey,
  SUPPORTED_SIGNING_KEYS,
  signatureAlgorithmOf,
  signedDer,
  signingKey,
  verifySigned,
} from './x509-signing.js';

const { asn1 } = forge;
const T = asn1.Type;
const U = asn1.Class.UNIVERSAL;

const OID_CRL_NUMBER = '2.5.29.20';
const OID_AUTHORITY_KEY_ID = '2.5.29.35';
const OID_REASON_CODE = '2.5.29.21';
const OID_DELTA_CRL_INDICATOR = '2.5.29.27';
const OID_ISSUING_DISTRIBUTION_POINT = '2.5.29.28';
const OID_CERTIFICATE_ISSUER = '2.5.29.29';
/** The CRL extensions Isthmus processes (RFC 5280 §5.2.1, §5.2.3): any other may not be critical. */
const KNOWN_CRL_EXTENSIONS = new Set([OID_AUTHORITY_KEY_ID, OID_CRL_NUMBER]);
/** The CRL entry extension it processes (§5.3.1). */
const KNOWN_ENTRY_EXTENSIONS = new Set([OID_REASON_CODE]);
/** What the refusal names, for the extensions a relying party most likely meets. */
const EXTENSION_NAMES: Readonly<Record<string, string>> = {
  [OID_DELTA_CRL_INDICATOR]: 'deltaCRLIndicator (a delta CRL, not a complete list: RFC 5280 §5.2.4)',
  [OID_ISSUING_DISTRIBUTION_POINT]: 'issuingDistributionPoint (a CRL of limited scope: RFC 5280 §5.2.5)',
  [OID_CERTIFICATE_ISSUER]: 'certificateIssuer (an indirect CRL: RFC 5280 §5.3.3)',
};
const PEM_LABEL = 'X509 CRL';

/** RFC 5280 §5.3.1 CRLReason, the values an operator picks from. */
export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
} as const;
export type RevocationReason = keyof typeof REVOCATION_REASONS;

export interface RevokedEntry {
  /** Serial number as hex (any case, leading zeros ignored), as `openssl x509 -serial` prints it. */
  serial: string;
  revokedAt: Date;
  reason?: RevocationReason;
}

export interface Crl {
  /** DER of the issuer Name, compared byte for byte with a certificate's issuer/subject. */
  issuerDer: Buffer;
  thisUpdate: Date;
  nextUpdate: Date | undefined;
  crlNumber: bigint | undefined;
  /** Normalised serial (lower-case hex, no leading zeros) → entry. */
  revoked: Map<string, RevokedEntry>;
  /** The signature algorithm's OID (sha256WithRSAEncryption, or ecdsa-with-SHA256/384/512). */
  signatureAlgorithm: string;
  tbsDer: Buffer;
  signature: Buffer;
  pem: string;
}

/** Lower-case hex without leading zeros: `00AB` and `ab` are the same serial. */
export function normaliseSerial(serial: string): string {
  const hex = serial.replace(/[:\s]/g, '').toLowerCase();
  if (!/^[0-9a-f]+$/.test(hex))
    throw new IsthmusError('CRL_INVALID', `"${serial}" is not a hex serial number`);
  return hex.replace(/^0+(?=.)/, '');
}

/** Signs a CRL with the issuer's key; `revoked` lists every revoked serial (CRLs are complete). */
export function createCrl(opts: {
  issuerCertPem: string;
  issuerKeyPem: string;
  revoked: readonly RevokedEntry[];
  crlNumber: bigint;
  thisUpdate?: Date;
  /** When relying parties should expect a newer list. Default thisUpdate + 7 days. */
  nextUpdate?: Date;
}): string {
  const issuer = readSignerCertificate(opts.issuerCertPem);
  const signer = signingKey(opts.issuerKeyPem);
  // A CRL its certificate's key does not verify is refused by every relying party (RFC 5280 §6.3.3
  // (g)): refused here, not written as if it revoked something.
  requireSignerKey(signer, issuer);
  const thisUpdate = opts.thisUpdate ?? new Date();
  const nextUpdate = opts.nextUpdate ?? new Date(thisUpdate.getTime() + 7 * 24 * 3600 * 1000);
  const entries = opts.revoked.map((entry) =>
    asn1.create(U, T.SEQUENCE, true, [
      integer(normaliseSerial(entry.serial)),
      time(entry.revokedAt),
      ...(entry.reason === undefined
        ? []
        : [
            asn1.create(U, T.SEQUENCE, true, [
              extension(
                OID_REASON_CODE,
                asn1.create(U, T.ENUMERATED, false, String.fromCharCode(REVOCATION_REASONS[entry.reason])),
              ),
            ]),
          ]),
    ]),
  );
  // Only an SKI the issuer states: a CRL's AKI must match it (RFC 5280 §5.2.1).
  const keyId = issuer.subjectKeyIdExtension;
  const extensions = [
    ...(keyId
      ? [
          extension(
            OID_AUTHORITY_KEY_ID,
            asn1.create(U, T.SEQUENCE, true, [
              asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, keyId.toString('binary')),
            ]),
          ),
        ]
      : []),
    extension(OID_CRL_NUMBER, integer(opts.crlNumber.toString(16))),
  ];
  const tbs = asn1.create(U, T.SEQUENCE, true, [
    asn1.create(U, T.INTEGER, false, '\x01'), // v2: required by extensions (RFC 5280 §5.1.2.1)
    algorithmIdentifier(signer.algorithm),
    // Byte for byte the issuer's subject: relying parties match the two (RFC 5280 §5.1.2.3).
    issuer.subject,
    time(thisUpdate),
    time(nextUpdate),
    ...(entries.length > 0 ? [asn1.create(U, T.SEQUENCE, true, entries)] : []),
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [asn1.create(U, T.SEQUENCE, true, extensions)]),
  ]);
  return derToPem(signedDer(tbs, signer), PEM_LABEL);
}

/** Every CRL of a PEM bundle; a clear error naming the block that is not one. */
export function parseCrlBundle(text: string): Crl[] {
  const blocks = splitPem(text, PEM_LABEL);
  if (blocks.length === 0 && text.trim() !== '') {
    throw new IsthmusError('CRL_INVALID', `no "-----BEGIN ${PEM_LABEL}-----" block in the CRL file`);
  }
  return blocks.map((pem, i) => {
    try {
      return parseCrl(pem);
    } catch (err) {
      throw new IsthmusError('CRL_INVALID', `CRL #${i + 1} of the bundle: ${(err as Error).message}`, {
        cause: err,
      });
    }
  });
}

export function parseCrl(pem: string): Crl {
  const body = pem.replace(/-----(BEGIN|END) X509 CRL-----/g, '').replace(/\s+/g, '');
  const der = Buffer.from(body, 'base64');
  const list = parseDer(der);
  // DER only (RFC 5280 §5.1: the CRL and the tbsCertList its signature covers are DER): one value
  // has one encoding, so no two byte strings read as the same list. What forge reads in another
  // encoding (a long-form length where the short one is required, more length octets than needed)
  // re-encodes to other bytes (so does an INTEGER with more octets than it needs); a BOOLEAN, which
  // forge keeps as it came, is checked on its own.
  // Not checked: a SET's order inside a Name (compared byte for byte with the CA's own anyway), and
  // what extension values hold; the signature covers those bytes exactly, below.
  const notDer = !derOf(list).equals(der)
    ? 'its bytes differ from the DER of what they hold: a length or tag in another form, or bytes after it'
    : nonDerBoolean(list);
  if (notDer) throw new Error(`the CRL is not DER-encoded (${notDer}); RFC 5280 §5.1 requires DER`);
  // SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue } and nothing after (RFC 5280 §5.1).
  const [tbs, algorithm, signatureBits, ...extra] = children(list, 'CertificateList', 3);
  if (extra.length > 0)
    throw new Error(`the CertificateList has ${3 + extra.length} elements, not 3 (RFC 5280 §5.1)`);
  const bits = signatureBitsOf(signatureBits!);
  const signatureAlgorithm = oidOf(children(algorithm!, 'signatureAlgorithm', 1)[0]!);
  if (!signatureAlgorithmOf(signatureAlgorithm)) {
    throw new Error(
      `signature algorithm ${signatureAlgorithm} is not supported (CRLs are signed with ${SUPPORTED_SIGNING_KEYS} keys)`,
    );
  }
  const fields = children(tbs!, 'TBSCertList', 4);
  let i = 0;
  if (fields[i]!.type === T.INTEGER && fields[i]!.tagClass === U) i++; // version
  // The same algorithm inside the signed part as outside (RFC 5280 §5.1.1.2).
  if (!derOf(fields[i++]!).equals(derOf(algorithm!))) {
    throw new Error('the signature algorithm inside the CRL differs from the one outside');
  }
  const issuer = fields[i++]!;
  const thisUpdate = dateOf(fields[i++]!);
  let nextUpdate: Date | undefined;
  if (fields[i] && isTime(fields[i]!)) nextUpdate = dateOf(fields[i++]!);
  const revoked = new Map<string, RevokedEntry>();
  if (fields[i] && fields[i]!.tagClass === U && fields[i]!.type === T.SEQUENCE) {
    for (const entry of children(fields[i++]!, 'revokedCertificates', 0)) {
      const [serial, date, exts] = children(entry, 'revoked entry', 2);
      const hex = normaliseSerial(forge.util.bytesToHex(serial!.value as string) || '0');
      if (exts) refuseUnknownCritical(exts, KNOWN_ENTRY_EXTENSIONS, `the entry for serial ${hex}`);
      const reasonCode = exts ? reasonOf(exts) : undefined;
      revoked.set(hex, {
        serial: hex,
        revokedAt: dateOf(date!),
        ...(reasonCode ? { reason: reasonCode } : {}),
      });
    }
  }
  let crlNumber: bigint | undefined;
  if (fields[i] && fields[i]!.tagClass === asn1.Class.CONTEXT_SPECIFIC) {
    const [exts] = children(fields[i]!, 'crlExtensions', 1);
    refuseUnknownCritical(exts!, KNOWN_CRL_EXTENSIONS, 'the CRL');
    for (const ext of children(exts!, 'Extensions', 0)) {
      const parts = children(ext, 'Extension', 2);
      if (oidOf(parts[0]!) !== OID_CRL_NUMBER) continue;
      const value = asn1.fromDer(forge.util.createBuffer(parts.at(-1)!.value as string));
      crlNumber = BigInt(`0x${forge.util.bytesToHex(value.value as string) || '0'}`);
    }
  }
  return {
    issuerDer: derOf(issuer),
    thisUpdate,
    nextUpdate,
    crlNumber,
    revoked,
    signatureAlgorithm,
    // The bytes the signature covers, as they stand in the CRL, never a re-encoding of what was read.
    tbsDer: firstElement(der),
    signature: Buffer.from(bits.slice(1), 'binary'),
    pem: derToPem(der, PEM_LABEL),
  };
}

/** The signatureValue's octets: a primitive BIT STRING of whole octets (its first, unused bits, 0). */
function signatureBitsOf(node: forge.asn1.Asn1): string {
  if (node.tagClass !== U || node.type !== T.BITSTRING || node.constructed || typeof node.value !== 'string')
    throw new Error('the signatureValue is not a primitive BIT STRING (RFC 5280 §5.1.1.3)');
  if (node.value === '') throw new Error('the signatureValue BIT STRING is empty');
  const unused = node.value.charCodeAt(0);
  if (unused !== 0) throw new Error(`the signatureValue BIT STRING has ${unused} unused bits`);
  return node.value;
}

/** Whether `crl` was issued by `ca`: the same Name and a signature its key verifies. */
export function isIssuedBy(crl: Crl, ca: X509Certificate): boolean {
  if (!sameName(crl, ca)) return false;
  return verifySigned(crl.signatureAlgorithm, crl.tbsDer, crl.signature, ca.publicKey);
}

/** Whether `ca`'s subject is, byte for byte, the issuer Name of `crl` (RFC 5280 §5.1.2.3). */
export function sameName(crl: Crl, ca: X509Certificate): boolean {
  try {
    return crl.issuerDer.equals(readSignerCertificate(ca.raw).subjectDer);
  } catch {
    return false;
  }
}

/**
 * RFC 5280 §5.2 and §5.3: a relying party that meets a critical CRL (or CRL entry) extension it
 * does not process must not use the CRL to decide revocation. A delta CRL or one of limited scope
 * read as complete would admit every certificate it does not list, so it is refused, the reason
 * naming the extension; a non-critical one is ignored, as the RFC allows.
 */
function refuseUnknownCritical(exts: forge.asn1.Asn1, known: ReadonlySet<string>, where: string): void {
  for (const ext of children(exts, 'Extensions', 0)) {
    const parts = children(ext, 'Extension', 2);
    const oid = oidOf(parts[0]!);
    // critical BOOLEAN DEFAULT FALSE sits between extnID and extnValue when present.
    const flag = parts.length === 3 ? parts[1]! : undefined;
    const critical =
      flag !== undefined && flag.tagClass === U && flag.type === T.BOOLEAN && flag.value !== '\x00';
    if (!critical || known.has(oid)) continue;
    throw new Error(
      `${where} has a critical extension Isthmus does not process, ${EXTENSION_NAMES[oid] ?? oid}: a relying party must not use such a CRL (RFC 5280 §5.2, §5.3)`,
    );
  }
}

/**
 * A DER rule a BOOLEAN of `node` breaks (X.690 §11.1: TRUE is FF), or undefined: forge re-encodes
 * a BOOLEAN's octet as it came (an INTEGER it trims to the fewest octets, so that shows as bytes
 * that differ).
 */
function nonDerBoolean(node: forge.asn1.Asn1): string | undefined {
  if (Array.isArray(node.value)) {
    for (const child of node.value) {
      const found = nonDerBoolean(child);
      if (found) return found;
    }
    return undefined;
  }
  if (node.tagClass !== U || typeof node.value !== 'string') return undefined;
  const a = node.value.charCodeAt(0);
  if (node.type === T.BOOLEAN && (node.value.length !== 1 || (a !== 0 && a !== 0xff)))
    return 'a BOOLEAN other than 00 or FF';
  return undefined;
}

function derOf(node: forge.asn1.Asn1): Buffer {
  return Buffer.from(asn1.toDer(node).getBytes(), 'binary');
}

/** A positive INTEGER from hex (a leading 00 when the high bit is set, DER's two's complement). */
function integer(hex: string): forge.asn1.Asn1 {
  const even = hex.length % 2 ? `0${hex}` : hex;
  const bytes = forge.util.hexToBytes(/^[89a-f]/i.test(even) ? `00${even}` : even);
  return asn1.create(U, T.INTEGER, false, bytes);
}

/** UTCTime until 2049, GeneralizedTime after (RFC 5280 §5.1.2.4). */
function time(date: Date): forge.asn1.Asn1 {
  return date.getUTCFullYear() < 2050
    ? asn1.create(U, T.UTCTIME, false, asn1.dateToUtcTime(date))
    : asn1.create(U, T.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(date));
}

function extension(oid: string, value: forge.asn1.Asn1): forge.asn1.Asn1 {
  return asn1.create(U, T.SEQUENCE, true, [
    asn1.create(U, T.OID, false, asn1.oidToDer(oid).getBytes()),
    asn1.create(U, T.OCTETSTRING, false, asn1.toDer(value).getBytes()),
  ]);
}

function children(node: forge.asn1.Asn1, what: string, atLeast: number): forge.asn1.Asn1[] {
  if (!Array.isArray(node.value) || node.value.length < atLeast) throw new Error(`malformed ${what}`);
  return node.value;
}

function oidOf(node: forge.asn1.Asn1): string {
  return asn1.derToOid(forge.util.createBuffer(node.value as string));
}

function isTime(node: forge.asn1.Asn1): boolean {
  return node.tagClass === U && (node.type === T.UTCTIME || node.type === T.GENERALIZEDTIME);
}

function dateOf(node: forge.asn1.Asn1): Date {
  if (!isTime(node)) throw new Error('malformed time');
  return node.type === T.UTCTIME
    ? asn1.utcTimeToDate(node.value as string)
    : asn1.generalizedTimeToDate(node.value as string);
}

function reasonOf(exts: forge.asn1.Asn1): RevocationReason | undefined {
  for (const ext of children(exts, 'crlEntryExtensions', 0)) {
    const parts = children(ext, 'Extension', 2);
    if (oidOf(parts[0]!) !== OID_REASON_CODE) continue;
    const code = (
      asn1.fromDer(forge.util.createBuffer(parts.at(-1)!.value as string)).value as string
    ).charCodeAt(0);
    return (Object.keys(REVOCATION_REASONS) as RevocationReason[]).find(
      (r) => REVOCATION_REASONS[r] === code,
    );
  }
  return undefined;
}
