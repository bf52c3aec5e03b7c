import { X509Certificate } from 'node:crypto';
import { IsthmusError } from '../errors.js';
import { firstCertificate } from './pem.js';
import { parseSpiffeGatewayIdentity } from './spiffe.js';

/**
 * Reading certificates goes through node:crypto (OpenSSL) rather than forge: it accepts any key
 * algorithm, so certificates that users bring (`--cert/--key`, possibly ECDSA) can be inspected too.
 */
export interface CertificateInfo {
  /** One line, RDNs joined by `, ` (e.g. `CN=identity.east.cluster.local`). */
  subject: string;
  issuer: string;
  uriSans: string[];
  dnsSans: string[];
  notBefore: Date;
  notAfter: Date;
  isCa: boolean;
  /** Upper-case hex with colons, as `openssl x509 -fingerprint -sha256` and tls.getPeerCertificate(). */
  fingerprintSha256: string;
  serialNumber: string;
}

export function parseCertificate(certPem: string): X509Certificate {
  const pem = firstCertificate(certPem);
  if (pem === undefined) throw new IsthmusError('CERT_INVALID', 'no PEM CERTIFICATE block found');
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new IsthmusError('CERT_INVALID', `not a valid X.509 certificate: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

export function certificateInfo(certPem: string): CertificateInfo {
  return infoOf(parseCertificate(certPem));
}

export function infoOf(x509: X509Certificate): CertificateInfo {
  const sans = parseSubjectAltName(x509.subjectAltName ?? '');
  return {
    subject: oneLineName(x509.subject),
    issuer: oneLineName(x509.issuer),
    uriSans: sans.filter((s) => s.type === 'URI').map((s) => s.value),
    dnsSans: sans.filter((s) => s.type === 'DNS').map((s) => s.value),
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
    isCa: x509.ca,
    fingerprintSha256: x509.fingerprint256,
    serialNumber: x509.serialNumber,
  };
}

/** The gateway SPIFFE ID the certificate holds, if its only URI SAN is one. */
export function gatewayIdentityOf(certPem: string): string | undefined {
  let info: CertificateInfo;
  try {
    info = certificateInfo(certPem);
  } catch {
    return undefined;
  }
  // More than one URI SAN makes the identity ambiguous (X.509-SVID §2 allows exactly one).
  if (info.uriSans.length !== 1 || info.isCa) return undefined;
  const uri = info.uriSans[0]!;
  return parseSpiffeGatewayIdentity(uri) ? uri : undefined;
}

export function oneLineName(name: string | undefined): string {
  return (name ?? '').split('\n').filter(Boolean).join(', ');
}

/**
 * Parses Node's `subjectAltName` string: `DNS:a, URI:spiffe://x/y`. Since Node 17.3.1 (CVE-2021-44532)
 * a value holding `,`, `"` or other specials is written as a JSON string, so those are decoded, which
 * also means a comma inside a name cannot forge a second entry.
 */
export function parseSubjectAltName(text: string): Array<{ type: string; value: string }> {
  const entries: Array<{ type: string; value: string }> = [];
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon < 0) break;
    const type = text.slice(i, colon);
    let value: string;
    let next: number;
    if (text[colon + 1] === '"') {
      let j = colon + 2;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      value = JSON.parse(text.slice(colon + 1, j + 1)) as string;
      next = j + 1;
    } else {
      const comma = text.indexOf(', ', colon + 1);
      next = comma < 0 ? text.length : comma;
      value = text.slice(colon + 1, next);
    }
    entries.push({ type, value });
    i = text.startsWith(', ', next) ? next + 2 : next;
  }
  return entries;
}
