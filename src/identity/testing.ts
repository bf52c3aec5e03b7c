import { createIssuer, createTrustAnchor, issueGatewayCertificate, type KeyPairPem } from './ca.js';
import { generateRsaKey, type RsaKeyPem } from './rsa-keys.js';

/**
 * Shared certificate fixtures for tests (this part's and other parts'). RSA keys cost 50–200 ms each,
 * so every fixture is made once per test process, on first use, with 2048-bit keys throughout.
 */
export const TEST_TRUST_DOMAIN = 'cluster.local';

export interface TestPki {
  trustDomain: string;
  anchor: KeyPairPem;
  issuers: { east: KeyPairPem; west: KeyPairPem };
}

let pki: TestPki | undefined;
let foreign: TestPki | undefined;

/** Anchor plus issuers for clusters `east` and `west`. */
export function testPki(): TestPki {
  pki ??= makePki('root.cluster.local');
  return pki;
}

/** A second, unrelated PKI with the same names: its certificates must be refused everywhere. */
export function foreignTestPki(): TestPki {
  foreign ??= makePki('root.cluster.local');
  return foreign;
}

function makePki(commonName: string): TestPki {
  const anchor = createTrustAnchor({ trustDomain: TEST_TRUST_DOMAIN, commonName, keyBits: 2048 });
  const issuer = (cluster: string) => createIssuer(anchor, { cluster, trustDomain: TEST_TRUST_DOMAIN });
  return { trustDomain: TEST_TRUST_DOMAIN, anchor, issuers: { east: issuer('east'), west: issuer('west') } };
}

const gatewayCerts = new Map<string, ReturnType<typeof issueGatewayCertificate>>();

/** A 24 h gateway certificate for `cluster` under testPki(), made once per process. */
export function testGatewayCertificate(cluster: 'east' | 'west'): ReturnType<typeof issueGatewayCertificate> {
  let cert = gatewayCerts.get(cluster);
  if (cert === undefined) {
    cert = issueGatewayCertificate(testPki().issuers[cluster], { trustDomain: TEST_TRUST_DOMAIN, cluster });
    gatewayCerts.set(cluster, cert);
  }
  return cert;
}

let leafKey: RsaKeyPem | undefined;

/**
 * One key pair to certify again and again (`issueLeaf(issuer, { publicKeyPem: testLeafKey().publicKeyPem })`)
 * where a test needs a certificate but does not care whose key it holds.
 */
export function testLeafKey(): RsaKeyPem {
  leafKey ??= generateRsaKey();
  return leafKey;
}
