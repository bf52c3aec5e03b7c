/**
 * The check of a certificate whose holder does not know the issuer new ones come from (a gateway,
 * which asks identity): a revoked issuer is renewed from once, since identity may sign with another
 * by now, and never again once a renewal came back refused too. Identity's own case, which knows
 * its issuer, is in serving-revocation.test.ts.
 */
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createIssuer, type KeyPairPem } from './ca.js';
import { normaliseSerial } from './crl.js';
import { type HeldCertificate, ownRevocationCheck } from './own-revocation.js';
import { splitPem } from './pem.js';
import { RevocationList } from './revocation.js';
import { TEST_TRUST_DOMAIN, testCrlBundle, testPki, testServingCertificate } from './testing.js';

const GATEWAY = 'spiffe://cluster.local/cluster/east/gateway';
const serialOf = (pem: string) => normaliseSerial(new X509Certificate(pem).serialNumber);

function certificateOf(issuer: KeyPairPem): HeldCertificate {
  const { chainPem } = testServingCertificate(issuer, [GATEWAY]);
  return { chainPem, serial: serialOf(splitPem(chainPem)[0]!) };
}

/** The anchor's CRL revoking east's issuer (`certs revoke --issuer-of east`). */
const eastIssuerRevoked = () =>
  RevocationList.fromPem(
    testCrlBundle(testPki().anchor, [serialOf(testPki().issuers.east.certPem)]),
    testPki().anchor.certPem,
  );

/** A holder of `held` whose renewals hand out `next()` (the same certificate: a failed renewal). */
function holder(held: HeldCertificate, next: () => HeldCertificate) {
  let current = held;
  let renewals = 0;
  const check = ownRevocationCheck({
    crl: eastIssuerRevoked,
    current: () => current,
    renew: async () => {
      renewals++;
      current = next();
      return current;
    },
  });
  return { check, renewals: () => renewals };
}

describe('ownRevocationCheck, the issuer in force unknown', () => {
  it('renews from a revoked issuer once: identity signs with a new one by now', async () => {
    const old = certificateOf(testPki().issuers.east);
    const renewed = certificateOf(
      createIssuer(testPki().anchor, { cluster: 'east', trustDomain: TEST_TRUST_DOMAIN }),
    );
    const h = holder(old, () => renewed);
    expect(await h.check()).toMatchObject({ outcome: 'replaced', revoked: old, renewed });
    expect(await h.check()).toEqual({ outcome: 'in-force' });
    expect(h.renewals()).toBe(1);
  });

  it('reports a renewal from the same revoked issuer, and renews from it no more at later loads', async () => {
    const h = holder(certificateOf(testPki().issuers.east), () => certificateOf(testPki().issuers.east));
    const issuerSerial = serialOf(testPki().issuers.east.certPem);
    const first = await h.check();
    expect(first).toMatchObject({ outcome: 'issuer-revoked', issuerSerial });
    expect(await h.check()).toMatchObject({ outcome: 'issuer-revoked', issuerSerial });
    expect(h.renewals()).toBe(1);
  });

  it('says a renewal that failed was for a revoked issuer', async () => {
    const old = certificateOf(testPki().issuers.east);
    const h = holder(old, () => old);
    expect(await h.check()).toMatchObject({
      outcome: 'renewal-failed',
      revoked: old,
      issuerSerial: serialOf(testPki().issuers.east.certPem),
      reason: expect.stringMatching(/revoked by the trust anchor's CRL/),
    });
  });
});
