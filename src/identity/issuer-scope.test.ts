import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createIssuer, createTrustAnchor, issueGatewayCertificate } from './ca.js';
import { issuerClusterOf, issuerScopeProblems, issuerScopeRefusal } from './issuer-scope.js';
import { TEST_TRUST_DOMAIN, testPki } from './testing.js';

describe('issuerClusterOf', () => {
  it.each([
    ['CN=identity.east.cluster.local', 'east'],
    ['O=acme\nCN=identity.west-2.cluster.local', 'west-2'],
    ['CN=identity.east.example.org', undefined],
    ['CN=identity.a.b.cluster.local', undefined],
    ['CN=my corporate issuing CA', undefined],
    ['O=identity.east.cluster.local', undefined],
  ])('%s declares %s', (subject, cluster) => {
    expect(issuerClusterOf(subject, 'cluster.local')).toBe(cluster);
  });
});

describe('issuerScopeRefusal', () => {
  const pki = testPki();
  const leaf = (issuer: typeof pki.issuers.east, cluster: string) =>
    new X509Certificate(issueGatewayCertificate(issuer, { trustDomain: TEST_TRUST_DOMAIN, cluster }).certPem);

  it("admits a cluster's gateway certified by its own issuer, or by an issuer that declares no cluster", () => {
    expect(issuerScopeRefusal(leaf(pki.issuers.east, 'east'), TEST_TRUST_DOMAIN)).toBeUndefined();
    // Another trust domain's naming declares nothing here.
    expect(issuerScopeRefusal(leaf(pki.issuers.east, 'west'), 'example.org')).toBeUndefined();
  });

  it("refuses another cluster's gateway certified by this issuer, naming both", () => {
    expect(issuerScopeRefusal(leaf(pki.issuers.east, 'west'), TEST_TRUST_DOMAIN)).toBe(
      'a gateway certificate for cluster "west" signed by the issuer of cluster "east" (CN=identity.east.cluster.local): an issuer certifies only its own cluster\'s gateways',
    );
  });
});

describe('issuerScopeProblems', () => {
  it("refuses one cluster's issuer for another, and accepts its own or an undeclared one", () => {
    const pki = testPki();
    expect(
      issuerScopeProblems(pki.issuers.east.certPem, { cluster: 'east', trustDomain: TEST_TRUST_DOMAIN }),
    ).toEqual([]);
    expect(
      issuerScopeProblems(pki.issuers.west.certPem, { cluster: 'east', trustDomain: TEST_TRUST_DOMAIN })[0],
    ).toMatch(/^the issuer of cluster "west" \(CN=identity\.west\.cluster\.local\), not of "east"/);
    const other = createIssuer(pki.anchor, { cluster: 'west', trustDomain: 'example.org' });
    expect(issuerScopeProblems(other.certPem, { cluster: 'east', trustDomain: TEST_TRUST_DOMAIN })).toEqual(
      [],
    );
  });

  it('refuses an issuer isthmus certs made for another trust domain, never a corporate naming', () => {
    // Anchor root.example.org and issuer identity.east.example.org: certs was given example.org.
    const anchor = createTrustAnchor({ trustDomain: 'example.org' });
    const made = createIssuer(anchor, { cluster: 'east', trustDomain: 'example.org' });
    expect(issuerScopeProblems(made.certPem, { cluster: 'east', trustDomain: TEST_TRUST_DOMAIN })[0]).toMatch(
      /^the issuer of east that isthmus certs made for trust domain "example\.org" .*give the --trust-domain isthmus certs was given \(example\.org\)/,
    );
    expect(issuerScopeProblems(made.certPem, { cluster: 'east', trustDomain: 'example.org' })).toEqual([]);
    // identity.prod.eu.example.com in example.com, under an anchor named otherwise: not ours to refuse.
    const corporate = createIssuer(testPki().anchor, { cluster: 'prod', trustDomain: 'eu.example.com' });
    expect(issuerScopeProblems(corporate.certPem, { cluster: 'prod', trustDomain: 'example.com' })).toEqual(
      [],
    );
  });
});
