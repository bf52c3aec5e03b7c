import { describe, expect, it, vi } from 'vitest';
import {
  createIssuer,
  createTrustAnchor,
  issueGatewayCertificate,
  type KeyPairPem,
  verifyChain,
} from './ca.js';
import { TEST_TRUST_DOMAIN, testPki } from './testing.js';
import { opensslCa } from './testing-openssl.js';
import {
  anchorBundleProblems,
  anchorBundleWarnings,
  anchorProblems,
  issuerProblems,
  signingKeyProblems,
} from './validate.js';

const DAY_MS = 86_400_000;
const pki = testPki();
const now = () => new Date();

/** An anchor made `ageDays` ago, valid for `validityDays`: expired when ageDays > validityDays. */
function anchorMadeAgo(ageDays: number, validityDays: number): KeyPairPem {
  vi.useFakeTimers({ toFake: ['Date'] });
  try {
    vi.setSystemTime(Date.now() - ageDays * DAY_MS);
    return createTrustAnchor({ trustDomain: TEST_TRUST_DOMAIN, keyBits: 2048, validityDays });
  } finally {
    vi.useRealTimers();
  }
}

/** East's issuer with a key of this type, made by openssl under the test anchor. */
const eastIssuerWith = (key: 'ec' | 'ed25519') =>
  opensslCa({ key, commonName: `identity.east.${TEST_TRUST_DOMAIN}`, signer: pki.anchor });

describe('an ECDSA issuer (step and cert-manager with privateKey.algorithm: ECDSA)', () => {
  const ecIssuer = eastIssuerWith('ec');

  it('is accepted: identity signs with it', () => {
    expect(issuerProblems(ecIssuer.certPem, ecIssuer.keyPem, pki.anchor.certPem, now())).toEqual([]);
    expect(signingKeyProblems(ecIssuer.certPem, 'issuer')).toEqual([]);
  });

  it('is refused with a key that is not its own', () => {
    const problems = issuerProblems(ecIssuer.certPem, pki.issuers.east.keyPem, pki.anchor.certPem, now());
    expect(problems).toEqual(['the private key does not match the certificate']);
  });
});

describe('an Ed25519 issuer (step certificate create --kty OKP)', () => {
  const edIssuer = eastIssuerWith('ed25519');

  it('is refused, naming its key type and the ones identity signs with', () => {
    const problems = issuerProblems(edIssuer.certPem, edIssuer.keyPem, pki.anchor.certPem, now());
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^the issuer key is Ed25519: Isthmus signs with RSA or ECDSA \(P-256, P-384, P-521\) keys only; make the issuer with one/,
    );
    expect(problems[0]).toContain('privateKey.algorithm: ECDSA');
  });

  it('is refused with every other problem of the pair, each said', () => {
    const problems = issuerProblems(edIssuer.certPem, pki.issuers.east.keyPem, pki.anchor.certPem, now());
    expect(problems).toEqual([
      'the private key does not match the certificate',
      expect.stringMatching(/^the issuer key is Ed25519/),
    ]);
  });
});

describe('an ECDSA trust anchor (step certificate create --profile root-ca)', () => {
  const ecAnchor = opensslCa({ key: 'ec', commonName: `root.${TEST_TRUST_DOMAIN}` });
  const rsaIssuer = opensslCa({
    key: 'rsa',
    commonName: `identity.east.${TEST_TRUST_DOMAIN}`,
    signer: ecAnchor,
  });

  it('is trusted: an RSA issuer it signed is accepted and signs leaves that chain to it', () => {
    expect(anchorBundleProblems(ecAnchor.certPem, now())).toEqual([]);
    expect(issuerProblems(rsaIssuer.certPem, rsaIssuer.keyPem, ecAnchor.certPem, now())).toEqual([]);
    const leaf = issueGatewayCertificate(rsaIssuer, { trustDomain: TEST_TRUST_DOMAIN, cluster: 'east' });
    expect(verifyChain(leaf.certPem, [rsaIssuer.certPem], [ecAnchor.certPem])).toEqual({ ok: true });
  });

  it('is a valid anchor with its key too, and isthmus certs signs with it', () => {
    expect(anchorProblems(ecAnchor.certPem, ecAnchor.keyPem, now())).toEqual([]);
    expect(signingKeyProblems(ecAnchor.certPem, 'trust anchor')).toEqual([]);
  });
});

describe('an Ed25519 trust anchor', () => {
  const edAnchor = opensslCa({ key: 'ed25519', commonName: `root.${TEST_TRUST_DOMAIN}` });

  it('is trusted, but what would sign with it (isthmus certs) is told why not', () => {
    expect(anchorProblems(edAnchor.certPem, edAnchor.keyPem, now())).toEqual([]);
    const problems = signingKeyProblems(edAnchor.certPem, 'trust anchor');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^the trust anchor key is Ed25519: Isthmus signs with RSA or ECDSA \(P-256, P-384, P-521\) keys only, so isthmus certs cannot sign/,
    );
    expect(problems[0]).toContain('isthmus certs new-anchor');
  });
});

describe('an anchor bundle whose old anchor has expired (step 3 of a rotation late)', () => {
  const oldAnchor = anchorMadeAgo(11, 10);
  const newAnchor = pki.anchor;
  const bundle = newAnchor.certPem + oldAnchor.certPem;

  it('is accepted with a warning naming the expired anchor and what to do', () => {
    expect(anchorBundleProblems(bundle, now())).toEqual([]);
    const warnings = anchorBundleWarnings(bundle, now());
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^anchor #2 of the bundle: expired at .*: ignored while another anchor/);
    expect(warnings[0]).toContain('isthmus certs new-anchor --finish');
  });

  it('still passes an issuer of the new anchor, and refuses one of the old', () => {
    const underNew = pki.issuers.east;
    expect(issuerProblems(underNew.certPem, underNew.keyPem, bundle, now())).toEqual([]);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() - 10 * DAY_MS);
    const underOld = createIssuer(oldAnchor, {
      cluster: 'east',
      trustDomain: TEST_TRUST_DOMAIN,
      validityDays: 30,
    });
    vi.useRealTimers();
    expect(issuerProblems(underOld.certPem, underOld.keyPem, bundle, now())).toEqual([
      expect.stringMatching(/^not signed by the trust anchor: trust anchor: .* expired at/),
    ]);
  });

  it.each([
    ['a lone expired anchor', () => oldAnchor.certPem, [/^expired at /]],
    [
      'a bundle of expired anchors',
      () => oldAnchor.certPem + anchorMadeAgo(12, 10).certPem,
      [/^anchor #1 of the bundle: expired at/, /^anchor #2 of the bundle: expired at/],
    ],
    [
      'a bundle with a valid anchor and one that is no CA',
      () => newAnchor.certPem + pki.issuers.east.certPem,
      [/^anchor #2 of the bundle: the trust anchor is not self-signed$/],
    ],
  ])('is still refused as %s', (_what, pem, expected) => {
    const problems = anchorBundleProblems(pem(), now());
    expect(problems).toEqual(expected.map((re) => expect.stringMatching(re)));
  });

  it('an anchor renewed with the same name and key: the issuer chains to the valid one', () => {
    // The expired copy comes first in the bundle; verifyChain alone would stop at it.
    const expired = anchorMadeAgo(11, 10);
    // The same anchor (name and key) made again today, as `step` or openssl can renew a root.
    const renewed = opensslCa({
      key: 'rsa',
      commonName: `root.${TEST_TRUST_DOMAIN}`,
      keyPem: expired.keyPem,
    });
    const issuer = createIssuer(renewed, { cluster: 'east', trustDomain: TEST_TRUST_DOMAIN });
    const pem = expired.certPem + renewed.certPem;
    expect(anchorBundleProblems(pem, now())).toEqual([]);
    expect(issuerProblems(issuer.certPem, issuer.keyPem, pem, now())).toEqual([]);
  });
});
