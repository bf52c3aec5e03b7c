/**
 * `isthmus check` on ca.crt as install, upgrade and identity read it (validate.ts): during a
 * rotation, an anchor of the bundle outside its validity is a warning while another is valid (step
 * 3 late), a failure when none is; the issuer is chained to the valid anchors first.
 */
import { describe, expect, it, vi } from 'vitest';
import {
  createIssuer,
  createTrustAnchor,
  issueGatewayCertificate,
  type KeyPairPem,
} from '../../../identity/ca.js';
import { splitPem } from '../../../identity/pem.js';
import { TEST_TRUST_DOMAIN, testGatewayCertificate, testPki } from '../../../identity/testing.js';
import { opensslCa } from '../../../identity/testing-openssl.js';
import { healthyFacts } from '../test-builders.js';
import type { CheckFacts } from '../types.js';
import { checkCertificates } from './certificates.js';

const DAY_MS = 86_400_000;
const pki = testPki();

/** What `mint` makes with the clock `daysFromNow` days away (negative: in the past). */
function mintedIn<T>(daysFromNow: number, mint: () => T): T {
  vi.useFakeTimers({ toFake: ['Date'] });
  try {
    vi.setSystemTime(Date.now() + daysFromNow * DAY_MS);
    return mint();
  } finally {
    vi.useRealTimers();
  }
}

/** An anchor minted `daysFromNow` days away (negative: in the past), valid for `validityDays`. */
function anchorMintedIn(daysFromNow: number, validityDays: number): KeyPairPem {
  return mintedIn(daysFromNow, () =>
    createTrustAnchor({ trustDomain: TEST_TRUST_DOMAIN, keyBits: 2048, validityDays }),
  );
}

const expired = anchorMintedIn(-11, 10);
/** East's issuer of a year, minted under `expired` while it was valid (10.5 days ago). */
const issuerUnderExpired = () =>
  mintedIn(-10.5, () =>
    createIssuer(expired, { cluster: 'east', trustDomain: TEST_TRUST_DOMAIN, validityDays: 365 }),
  );
const expiredToo = anchorMintedIn(-12, 10);
const notYetValid = anchorMintedIn(2, 400);
/** The expired anchor made again today with the same name and key, as `step` or openssl renew a root. */
const renewed = opensslCa({ key: 'rsa', commonName: `root.${TEST_TRUST_DOMAIN}`, keyPem: expired.keyPem });
const underRenewed = createIssuer(renewed, { cluster: 'east', trustDomain: TEST_TRUST_DOMAIN });

function facts(anchors: string[], issuerPem = pki.issuers.east.certPem): CheckFacts {
  const f = healthyFacts({
    anchorPem: pki.anchor.certPem,
    issuerPem,
    westChain: splitPem(testGatewayCertificate('west').chainPem),
  });
  f.anchorPem = { ok: true, value: anchors.join('') };
  return f;
}

const FINISH = /; finish the rotation: isthmus certs new-anchor --finish, then step 3 in every cluster$/;

describe('checkCertificates on an anchor bundle', () => {
  it.each([
    [
      'an expired old anchor while the new one is valid: a warning',
      () => facts([pki.anchor.certPem, expired.certPem]),
      'warn',
      [/^the trust anchor #2 of 2 \(isthmus-system\/isthmus-trust-anchor ca\.crt\) expired at [^;]+/],
    ],
    [
      'an anchor not valid yet next to a valid one: a warning',
      () => facts([notYetValid.certPem, pki.anchor.certPem]),
      'warn',
      [/^the trust anchor #1 of 2 \(isthmus-system\/isthmus-trust-anchor ca\.crt\) not valid before [^;]+/],
    ],
    [
      'an expired anchor renewed with the same name and key, listed first: the issuer chains to the valid one',
      () => facts([expired.certPem, renewed.certPem], underRenewed.certPem),
      'warn',
      [/^the trust anchor #1 of 2 .* expired at [^;]+/],
    ],
  ])('%s', (_case, f, status, hints) => {
    const result = checkCertificates(f());
    expect(result.status, result.hints.join('\n')).toBe(status);
    expect(result.hints).toEqual(
      hints.map((h) => expect.stringMatching(new RegExp(h.source + FINISH.source))),
    );
  });

  it.each([
    ['every anchor of the bundle expired', () => facts([expired.certPem, expiredToo.certPem])],
    ['a lone expired anchor', () => facts([expired.certPem])],
  ])('fails: %s', (_case, f) => {
    const result = checkCertificates(f());
    expect(result.status).toBe('fail');
    expect(result.hints.join('\n')).toMatch(/expired at/);
    expect(result.hints.join('\n')).not.toMatch(FINISH);
  });

  it('fails an issuer that chains only to the expired anchor', () => {
    const underExpired = issuerUnderExpired();
    const result = checkCertificates(facts([pki.anchor.certPem, expired.certPem], underExpired.certPem));
    expect(result.status).toBe('fail');
    expect(result.hints.join('\n')).toMatch(/the issuer does not chain to the trust anchor/);
  });
});

describe('checkCertificates on an expired anchor still in use', () => {
  /** East's issuer of before step 2, under the expired anchor, and a gateway leaf of it issued today. */
  const oldIssuer = issuerUnderExpired();
  const oldLeaf = () =>
    splitPem(
      issueGatewayCertificate(oldIssuer, { trustDomain: TEST_TRUST_DOMAIN, cluster: 'east' }).chainPem,
    );

  it("fails while this cluster's gateway presents a leaf under it, which every peer refuses: restart, not finish", () => {
    const f = facts([pki.anchor.certPem, expired.certPem]);
    f.localGatewayChain = { ok: true, address: '10.0.0.9:4143', chainPem: oldLeaf() };
    const result = checkCertificates(f);
    expect(result.status).toBe('fail');
    expect(result.hints).toEqual([
      expect.stringMatching(
        /^the trust anchor #2 of 2 \(isthmus-system\/isthmus-trust-anchor ca\.crt\) expired at [^;]+; it is still in use by this cluster's gateway \(10\.0\.0\.9:4143\), whose certificate every peer refuses: restart every replica so each takes a certificate of the issuer in force \(kubectl -n isthmus-system rollout restart deployment\/isthmus-gateway\)$/,
      ),
    ]);
  });

  it('names the replicas under it, not the handshake that saw one of them, and restarts only those', () => {
    const f = facts([pki.anchor.certPem, expired.certPem]);
    const stale = oldLeaf();
    f.localGatewayChain = { ok: true, address: '10.0.0.9:4143', chainPem: stale };
    f.gatewayPodChains = {
      ok: true,
      value: [
        { pod: 'isthmus-gateway-a', ok: true, chainPem: stale },
        { pod: 'isthmus-gateway-b', ok: true, chainPem: oldLeaf() },
      ],
    };
    expect(checkCertificates(f).hints).toEqual([
      expect.stringMatching(
        /expired at [^;]+; it is still in use by gateway pods isthmus-gateway-a, isthmus-gateway-b, whose certificates every peer refuses: restart them so each takes a certificate of the issuer in force \(kubectl -n isthmus-system delete pod isthmus-gateway-a isthmus-gateway-b\)$/,
      ),
    ]);
  });

  it('still names an issuer under it next to the gateway it refuses', () => {
    const f = facts([pki.anchor.certPem, expired.certPem], oldIssuer.certPem);
    f.localGatewayChain = { ok: true, address: '10.0.0.9:4143', chainPem: oldLeaf() };
    const result = checkCertificates(f);
    expect(result.hints).toEqual([
      expect.stringMatching(/still in use by this cluster's gateway/),
      expect.stringMatching(/^the issuer does not chain to the trust anchor/),
    ]);
  });

  it('fails while a linked gateway presents a leaf under it, which this cluster refuses', () => {
    const f = facts([pki.anchor.certPem, expired.certPem]);
    const west = f.links.ok ? f.links.value[0]! : undefined;
    west!.gatewayChain = { ok: true, address: '10.0.0.7:4143', chainPem: oldLeaf() };
    const result = checkCertificates(f);
    expect(result.status).toBe('fail');
    expect(result.hints.join('\n')).toMatch(
      /expired at [^;]+; it is still in use by Link west's gateway \(10\.0\.0\.7:4143\), which this cluster refuses: in cluster west, issue from the new anchor \(step 2\) and restart every gateway replica/,
    );
    expect(result.hints.join('\n')).not.toMatch(FINISH);
  });
});

describe("checkCertificates by the API server's clock", () => {
  it("passes an issuer made a moment ago though this machine's clock runs a minute behind", () => {
    const anchor = createTrustAnchor({ trustDomain: TEST_TRUST_DOMAIN, keyBits: 2048 });
    const issuer = createIssuer(anchor, { cluster: 'east', trustDomain: TEST_TRUST_DOMAIN });
    const serverNow = new Date();
    const f = healthyFacts(
      {
        anchorPem: anchor.certPem,
        issuerPem: issuer.certPem,
        westChain: splitPem(testGatewayCertificate('west').chainPem),
      },
      new Date(serverNow.getTime() - 60_000),
    );
    f.apiNow = serverNow;
    expect(checkCertificates(f)).toMatchObject({ status: 'ok', hints: [] });
  });
});

/**
 * `isthmus certs` backdates the anchor and issuer only 20 s by the clock of the machine it runs on;
 * one whose clock runs ahead of the API server's makes certificates that start after that clock for
 * a while. Within minutes that is a matter of clocks: a new anchor or issuer would start as late.
 */
describe('checkCertificates and the clock of the machine that ran `isthmus certs`', () => {
  /** An anchor and east's issuer minted at `cliNow` (whole seconds: X.509 drops the rest). */
  const mintedAt = (cliNow: Date) => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(cliNow);
      const anchor = createTrustAnchor({ trustDomain: TEST_TRUST_DOMAIN, keyBits: 2048 });
      return { anchor, issuer: createIssuer(anchor, { cluster: 'east', trustDomain: TEST_TRUST_DOMAIN }) };
    } finally {
      vi.useRealTimers();
    }
  };
  const factsAt = (cliNow: Date, serverNow: Date) => {
    const { anchor, issuer } = mintedAt(cliNow);
    const f = healthyFacts(
      {
        anchorPem: anchor.certPem,
        issuerPem: issuer.certPem,
        westChain: splitPem(testGatewayCertificate('west').chainPem),
      },
      cliNow,
    );
    f.apiNow = serverNow;
    return f;
  };
  const cliNow = new Date(Math.floor(Date.now() / 1000) * 1000);

  it("warns of clocks, not of the certificates, for an anchor and issuer made a moment ago a minute ahead of the API server's clock", () => {
    const result = checkCertificates(factsAt(cliNow, new Date(cliNow.getTime() - 60_000)));
    expect(result.status).toBe('warn');
    // Backdated 20 s: 40 s past the API server's clock.
    const notBefore = new Date(cliNow.getTime() - 20_000).toISOString();
    expect(result.hints).toEqual([
      `the trust anchor (isthmus-system/isthmus-trust-anchor ca.crt) is not valid before ${notBefore}, 40s past the API server's clock: the clock it was issued by (the machine that ran \`isthmus certs\`) runs ahead, and a peer whose clock is as far behind refuses the certificates under it until then. It passes by itself; if this recurs, check the time sync (NTP) of that machine`,
      `the issuer certificate (isthmus-system/isthmus-issuer tls.crt) is not valid before ${notBefore}, 40s past the API server's clock: the clock it was issued by (the machine that ran \`isthmus certs\`, or cert-manager's controller with --external-issuer) runs ahead, and isthmus-identity issues no gateway certificate from it until then. It passes by itself; if this recurs, check the time sync (NTP) of that machine`,
    ]);
  });

  it('still fails an issuer that starts hours ahead, advising a new one: no clock is that far off', () => {
    const result = checkCertificates(factsAt(cliNow, new Date(cliNow.getTime() - 2 * 3_600_000)));
    expect(result.status).toBe('fail');
    expect(result.hints).toContainEqual(
      expect.stringMatching(/^the issuer certificate .* not valid before [^;]+; issue a new issuer/),
    );
  });
});
