/**
 * The trust-anchor check during an anchor rotation, with this cluster's own gateway in view: after
 * step 2 the issuer Secret holds the new issuer at once, but a gateway replica keeps its leaf of the
 * old issuer until it renews (~17 h) unless it was restarted after identity took the new issuer.
 * Finishing then drops the anchor that leaf chains to, and every peer refuses it.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { createIssuer, createTrustAnchor, issueGatewayCertificate } from '../../../identity/ca.js';
import { splitPem } from '../../../identity/pem.js';
import { TEST_TRUST_DOMAIN, testGatewayCertificate, testPki } from '../../../identity/testing.js';
import { healthyFacts } from '../test-builders.js';
import type { CheckFacts } from '../types.js';
import { checkTrustAnchor } from './trust-anchor.js';

const HOUR = 3600_000;
const TRUST_DOMAIN = 'cluster.local';

/** An anchor with east's issuer and a gateway chain of east and of west, minted as if at `at`. */
function pkiMintedAt(at: Date) {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(at);
  try {
    const anchor = createTrustAnchor({ trustDomain: TRUST_DOMAIN, keyBits: 2048 });
    const chainOf = (cluster: string) => {
      const issuer = createIssuer(anchor, { cluster, trustDomain: TRUST_DOMAIN });
      const leaf = issueGatewayCertificate(issuer, { trustDomain: TRUST_DOMAIN, cluster, now: at });
      return { issuerPem: issuer.certPem, chain: splitPem(leaf.chainPem) };
    };
    const east = chainOf('east');
    return {
      anchorPem: anchor.certPem,
      eastIssuerPem: east.issuerPem,
      eastChain: east.chain,
      westChain: chainOf('west').chain,
    };
  } finally {
    vi.useRealTimers();
  }
}

let old: ReturnType<typeof pkiMintedAt>;
let next: ReturnType<typeof pkiMintedAt>;
// RSA keys take a while: minted once, before the cases.
beforeAll(() => {
  old = pkiMintedAt(new Date(Date.now() - 2 * HOUR));
  next = pkiMintedAt(new Date(Date.now() - HOUR));
});

/** East after step 2: both anchors trusted, the new issuer in the Secret, west's gateway on the new one. */
function afterStep2(local: CheckFacts['localGatewayChain']): CheckFacts {
  const f = healthyFacts({
    anchorPem: next.anchorPem + old.anchorPem,
    issuerPem: next.eastIssuerPem,
    westChain: next.westChain,
  });
  f.localCluster = 'east';
  if (local) f.localGatewayChain = local;
  return f;
}

const text = (f: CheckFacts) => JSON.stringify(checkTrustAnchor(f));

describe('checkTrustAnchor during an anchor rotation, after step 2', () => {
  it("does not advise finishing while this cluster's own gateway presents a leaf under the old anchor, and says to restart it", () => {
    const f = afterStep2({ ok: true, address: '10.0.0.9:4143', chainPem: old.eastChain });
    expect(text(f)).not.toMatch(/--finish/);
    expect(checkTrustAnchor(f).hints).toContainEqual(
      expect.stringMatching(
        /^this cluster's gateway \(10\.0\.0\.9:4143\) presents a certificate under anchor #2 of the 2 in ca\.crt, the old one, but its issuer is under the new one: .*kubectl -n isthmus-system rollout restart deployment\/isthmus-gateway.* before finishing the rotation/,
      ),
    );
  });

  it('advises finishing once it presents a leaf of the new issuer, naming the one replica it saw', () => {
    const f = afterStep2({ ok: true, address: '10.0.0.9:4143', chainPem: next.eastChain });
    expect(text(f)).toMatch(/the old one .*--finish/);
    expect(text(f)).toMatch(
      /saw the certificate of one replica of this cluster's gateway \(10\.0\.0\.9:4143\)/,
    );
  });

  it("hedges the advice when this cluster's gateway could not be read", () => {
    const f = afterStep2({ ok: false, address: ':4143', error: 'no LoadBalancer address to dial' });
    expect(text(f)).toMatch(
      /--finish.*could not read the certificate of this cluster's gateway \(no LoadBalancer address to dial\)/,
    );
  });
});

/** An anchor that expired a day ago and an issuer under it still valid, as a rotation's step 3 late leaves them. */
function expiredRotation() {
  vi.useFakeTimers({ toFake: ['Date'] });
  try {
    vi.setSystemTime(Date.now() - 11 * 24 * HOUR);
    const anchor = createTrustAnchor({ trustDomain: TEST_TRUST_DOMAIN, keyBits: 2048, validityDays: 10 });
    vi.setSystemTime(Date.now() + 12 * HOUR);
    const issuer = createIssuer(anchor, {
      cluster: 'east',
      trustDomain: TEST_TRUST_DOMAIN,
      validityDays: 365,
    });
    return { anchor, issuer };
  } finally {
    vi.useRealTimers();
  }
}

describe('checkTrustAnchor once the old anchor expired (step 3 late)', () => {
  const pki = testPki();
  const { anchor: expired, issuer: oldIssuer } = expiredRotation();
  const oldLeaf = () =>
    splitPem(
      issueGatewayCertificate(oldIssuer, { trustDomain: TEST_TRUST_DOMAIN, cluster: 'east' }).chainPem,
    );
  const bundle = (f: CheckFacts) => {
    f.anchorPem = { ok: true, value: pki.anchor.certPem + expired.certPem };
    f.localCluster = 'east';
    return f;
  };
  const facts = (issuerPem = pki.issuers.east.certPem) =>
    bundle(
      healthyFacts({
        anchorPem: pki.anchor.certPem,
        issuerPem,
        westChain: splitPem(testGatewayCertificate('west').chainPem),
      }),
    );

  it("fails while this cluster's gateway presents a leaf under the expired anchor, every peer refusing it, and says to restart it, not to finish", () => {
    const f = facts();
    f.links = { ok: true, value: [] };
    f.localGatewayChain = { ok: true, address: '10.0.0.9:4143', chainPem: oldLeaf() };
    const result = checkTrustAnchor(f);
    expect(result.status).toBe('fail');
    expect(text(f)).not.toMatch(/--finish|finish the rotation/);
    expect(result.hints).toContainEqual(
      expect.stringMatching(
        /^anchor #2 of the 2 in ca\.crt expired at [^ ]+ but is still in use by this cluster's gateway \(10\.0\.0\.9:4143\): every peer refuses the certificate it presents \(.*expired.*\)\. Restart every replica so each takes a certificate of the issuer in force: kubectl -n isthmus-system rollout restart deployment\/isthmus-gateway$/,
      ),
    );
  });

  it('names each replica under the expired anchor once, with the handshake that saw one of them, and restarts only those', () => {
    const f = facts();
    f.links = { ok: true, value: [] };
    const stale = oldLeaf();
    f.localGatewayChain = { ok: true, address: '10.0.0.9:4143', chainPem: stale };
    f.gatewayPodChains = {
      ok: true,
      value: [
        { pod: 'isthmus-gateway-a', ok: true, chainPem: splitPem(testGatewayCertificate('east').chainPem) },
        { pod: 'isthmus-gateway-b', ok: true, chainPem: stale },
        { pod: 'isthmus-gateway-c', ok: true, chainPem: oldLeaf() },
      ],
    };
    const result = checkTrustAnchor(f);
    expect(result.status).toBe('fail');
    expect(result.hints).toEqual([
      expect.stringMatching(
        /^anchor #2 of the 2 in ca\.crt expired at [^ ]+ but is still in use by gateway pods isthmus-gateway-b, isthmus-gateway-c: every peer refuses the certificate each presents \(.*\)\. Restart them so each takes a certificate of the issuer in force: kubectl -n isthmus-system delete pod isthmus-gateway-b isthmus-gateway-c$/,
      ),
    ]);
  });

  it("falls back to the handshake when the replicas' /certificate cannot be read, and says which were not", () => {
    const f = facts();
    f.links = { ok: true, value: [] };
    f.localGatewayChain = { ok: true, address: '10.0.0.9:4143', chainPem: oldLeaf() };
    const unread = {
      ok: false as const,
      error: 'no /certificate endpoint, answered 404: a gateway version before it',
    };
    f.gatewayPodChains = { ok: true, value: [{ pod: 'isthmus-gateway-a', ...unread }] };
    expect(checkTrustAnchor(f).hints).toEqual([
      expect.stringMatching(
        /^anchor #2 of the 2 in ca\.crt expired at [^ ]+ but is still in use by this cluster's gateway \(10\.0\.0\.9:4143\): .*rollout restart deployment\/isthmus-gateway\. Check could not read the certificate of gateway pod isthmus-gateway-a \(no \/certificate endpoint, answered 404: a gateway version before it\)$/,
      ),
    ]);
    // Unread replicas alone fail nothing: the handshake's chain is valid, as before the endpoint.
    f.localGatewayChain = {
      ok: true,
      address: '10.0.0.9:4143',
      chainPem: splitPem(testGatewayCertificate('east').chainPem),
    };
    expect(checkTrustAnchor(f).status).not.toBe('fail');
  });

  it('fails a linked gateway under the expired anchor, saying it is still in use there rather than to install the same ca.crt', () => {
    const f = facts();
    const west = f.links.ok ? f.links.value[0]! : undefined;
    west!.gatewayChain = { ok: true, address: '10.0.0.7:4143', chainPem: oldLeaf() };
    const result = checkTrustAnchor(f);
    expect(result.status).toBe('fail');
    expect(result.hints).toContainEqual(
      expect.stringMatching(
        /^Link west: gateway 10\.0\.0\.7:4143 presents a certificate under anchor #2 of the 2 in ca\.crt, which expired at [^ ]+ but is still in use there: this cluster refuses it\. In cluster west, issue from the new anchor \(step 2\) and restart every gateway replica: kubectl -n isthmus-system rollout restart deployment\/isthmus-gateway$/,
      ),
    );
  });

  it("says the expired anchor is still in use by this cluster's issuer rather than advising to finish", () => {
    const f = facts(oldIssuer.certPem);
    expect(text(f)).not.toMatch(/--finish|finish the rotation/);
    expect(checkTrustAnchor(f).hints).toContainEqual(
      expect.stringMatching(
        /^anchor #2 of the 2 in ca\.crt expired at [^ ]+ but is still in use by this cluster's issuer: .*Issue from the new anchor \(step 2\).*--issuer-cert DIR\/east\/issuer\.crt/,
      ),
    );
  });
});

/**
 * Chains are judged by the API server's clock (facts.apiNow), as peers in the cluster judge them:
 * a gateway leaf is backdated only 20 s (CLOCK_SKEW_ALLOWANCE_MS), so a CLI machine whose clock runs
 * a minute behind would otherwise see every replica restarted a moment ago as not valid yet. A
 * certificate that starts within minutes of that clock is a matter of clocks, not of certificates.
 */
describe('checkTrustAnchor and clocks', () => {
  const pki = testPki();
  const MINUTE = 60_000;
  /** east's gateway leaf as an identity whose clock read `aheadMs` past the real time issued it. */
  const eastLeaf = (aheadMs: number) =>
    splitPem(
      issueGatewayCertificate(pki.issuers.east, {
        trustDomain: TEST_TRUST_DOMAIN,
        cluster: 'east',
        now: new Date(Date.now() + aheadMs),
      }).chainPem,
    );
  const facts = (leaf: string[], cliBehindMs = 0): CheckFacts => {
    const serverNow = new Date();
    const f = healthyFacts(
      {
        anchorPem: pki.anchor.certPem,
        issuerPem: pki.issuers.east.certPem,
        westChain: splitPem(testGatewayCertificate('west').chainPem),
      },
      new Date(serverNow.getTime() - cliBehindMs),
    );
    f.apiNow = serverNow;
    f.gatewayPodChains = {
      ok: true,
      value: [{ pod: 'isthmus-gateway-7d9f-new01', ok: true, chainPem: leaf }],
    };
    return f;
  };

  it("passes a replica restarted a moment ago though this machine's clock runs a minute behind the API server's", () => {
    const result = checkTrustAnchor(facts(eastLeaf(0), MINUTE));
    expect(result).toMatchObject({ status: 'ok', hints: [] });
  });

  it("warns of clocks, not of the certificate, for a replica's leaf that starts within minutes of the API server's clock", () => {
    const result = checkTrustAnchor(facts(eastLeaf(MINUTE)));
    expect(result.status).toBe('warn');
    expect(result.hints).toEqual([
      expect.stringMatching(
        /^gateway pod isthmus-gateway-7d9f-new01 presents a certificate not valid before [^ ]+, \d+s past the API server's clock: the clock it was issued by \(isthmus-identity's node\) runs ahead, and a peer whose clock is as far behind refuses it until then\. It passes by itself; if this recurs, check the time sync \(NTP\) of the nodes$/,
      ),
    ]);
    // A minute ahead, less the 20 s a leaf is backdated; less again the time the key took to make
    // (seconds on a loaded machine) and the second X.509 drops.
    const ahead = Number(/, (\d+)s past/.exec(result.hints[0] ?? '')?.[1]);
    expect(ahead).toBeGreaterThan(20);
    expect(ahead).toBeLessThanOrEqual(40);
    expect(JSON.stringify(result)).not.toMatch(/restart|delete pod/);
  });

  it("says which clock it went by when the API server's was not read", () => {
    const f = facts(eastLeaf(MINUTE));
    delete f.apiNow;
    expect(checkTrustAnchor(f).hints[0]).toContain(
      "past this machine's clock (the API server's was not read)",
    );
  });

  it("warns of clocks for a linked gateway's leaf that starts within minutes", () => {
    const f = facts(eastLeaf(0));
    const west = splitPem(
      issueGatewayCertificate(pki.issuers.west, {
        trustDomain: TEST_TRUST_DOMAIN,
        cluster: 'west',
        now: new Date(Date.now() + MINUTE),
      }).chainPem,
    );
    if (f.links.ok) f.links.value[0]!.gatewayChain = { ok: true, address: '10.0.0.7:4143', chainPem: west };
    const result = checkTrustAnchor(f);
    expect(result.status).toBe('warn');
    expect(result.hints[0]).toMatch(
      /^Link west: gateway 10\.0\.0\.7:4143 presents a certificate not valid before [^ ]+, \d+s past the API server's clock: /,
    );
  });

  it("blames the clock that made the issuer, not identity's node, when the issuer is what starts within minutes", () => {
    // `isthmus certs` on a machine a minute ahead mints the issuer; identity, at the cluster's time, a leaf under it.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + MINUTE);
    const issuer = createIssuer(pki.anchor, { cluster: 'east', trustDomain: TEST_TRUST_DOMAIN });
    vi.useRealTimers();
    const leaf = issueGatewayCertificate(issuer, {
      trustDomain: TEST_TRUST_DOMAIN,
      cluster: 'east',
      now: new Date(),
    });
    const f = facts(splitPem(leaf.chainPem));
    f.issuerPem = { ok: true, value: issuer.certPem };
    const result = checkTrustAnchor(f);
    expect(result.status).toBe('warn');
    expect(result.hints).toEqual([
      expect.stringMatching(
        /^gateway pod isthmus-gateway-7d9f-new01 presents a certificate whose issuer is not valid before [^ ]+, \d+s past the API server's clock: the clock it was issued by \(the machine that ran `isthmus certs`, or cert-manager's controller with --external-issuer\) runs ahead, and a peer whose clock is as far behind refuses it until then\. It passes by itself; if this recurs, check the time sync \(NTP\) of that machine$/,
      ),
    ]);
  });

  it("blames the clock that made a linked cluster's issuer, there", () => {
    const f = facts(eastLeaf(0));
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + MINUTE);
    const issuer = createIssuer(pki.anchor, { cluster: 'west', trustDomain: TEST_TRUST_DOMAIN });
    vi.useRealTimers();
    const west = issueGatewayCertificate(issuer, {
      trustDomain: TEST_TRUST_DOMAIN,
      cluster: 'west',
      now: new Date(),
    });
    if (f.links.ok)
      f.links.value[0]!.gatewayChain = {
        ok: true,
        address: '10.0.0.7:4143',
        chainPem: splitPem(west.chainPem),
      };
    expect(checkTrustAnchor(f).hints[0]).toMatch(
      /^Link west: gateway 10\.0\.0\.7:4143 presents a certificate whose issuer is not valid before [^ ]+, \d+s past the API server's clock: the clock it was issued by \(the machine that ran `isthmus certs` for cluster west, or cert-manager's controller there with --external-issuer\) runs ahead/,
    );
  });

  it('still fails a leaf that starts hours ahead: no clock is that far off', () => {
    const result = checkTrustAnchor(facts(eastLeaf(2 * HOUR)));
    expect(result.status).toBe('fail');
    expect(result.hints).toContainEqual(
      expect.stringMatching(/does not chain to ca\.crt \(.*not valid before/),
    );
  });
});
