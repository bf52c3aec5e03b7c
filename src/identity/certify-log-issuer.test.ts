/**
 * The audit log names the issuer that signed each certificate (its serial): with it, an operator
 * who revokes by serial knows which issuer's CRL must list it, and sees whether it was one that has
 * since been replaced (`certs revoke --serial` covers every unexpired issuer either way).
 */
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createIssuer, createTrustAnchor } from './ca.js';
import { certifyEventOf } from './certify-event.js';
import { formatCertifyEvent } from './certify-log.js';
import { signCertificate } from './certify-signing.js';
import { normaliseSerial } from './crl.js';
import { gatewayIdentity } from './spiffe.js';

const TRUST_DOMAIN = 'cluster.local';
const EAST = gatewayIdentity(TRUST_DOMAIN, 'east');
const USER = 'system:serviceaccount:isthmus-system:isthmus-gateway';
const HOUR = 3600_000;

const anchor = createTrustAnchor({ trustDomain: TRUST_DOMAIN, keyBits: 2048 });
const issuer = createIssuer(anchor, { cluster: 'east', trustDomain: TRUST_DOMAIN });
const issuerSerial = normaliseSerial(new X509Certificate(issuer.certPem).serialNumber);
const publicKeyPem = generateKeyPairSync('rsa', { modulusLength: 2048 })
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();
const request = { ok: true as const, caller: { user: USER, pod: 'gw-1' }, identity: EAST, publicKeyPem };
const call = { peer: '10.42.1.17', durationMs: 3 };

describe("the issuer's serial in the audit log", () => {
  it('is on the line of every certificate issued, after its serial', () => {
    const result = signCertificate(issuer, request, Date.now(), 24 * HOUR);
    expect(result.ok).toBe(true);
    const { line } = formatCertifyEvent(certifyEventOf(result, call));
    expect(line).toMatch(
      new RegExp(
        `^identity: issued a certificate for ${EAST} serial=[0-9a-f]+ issuer=${issuerSerial} notAfter=\\S+ user=`,
      ),
    );
  });

  it('is on the refusal of an issuer outside its validity, which names it', () => {
    const afterItsEnd = new Date(new X509Certificate(issuer.certPem).validTo).getTime() + HOUR;
    const result = signCertificate(issuer, request, afterItsEnd, 24 * HOUR);
    expect(result.ok).toBe(false);
    const { line, error } = formatCertifyEvent(certifyEventOf(result, call));
    expect(error).toBe(true);
    expect(line).toMatch(
      new RegExp(`^identity: Certify unavailable: .*expired at .* issuer=${issuerSerial} user=`),
    );
  });

  it('is absent where no issuer was involved', () => {
    const { line } = formatCertifyEvent({ outcome: 'unauthenticated', reason: 'no token', durationMs: 1 });
    expect(line).toBe('identity: Certify unauthenticated: no token\n');
  });
});
