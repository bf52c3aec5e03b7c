import { mkdirSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/**
 * A Secret volume as kubelet writes it: the files are symlinks through `..data`, which points at a
 * timestamped directory; an update writes a new directory and renames one symlink over `..data`.
 */
export class SecretVolume {
  readonly dir = mkdtempSync(join(tmpdir(), 'isthmus-issuer-'));
  private generation = 0;

  constructor(files: Record<string, string>) {
    this.publish(files);
    for (const name of Object.keys(files)) symlinkSync(join('..data', name), join(this.dir, name));
  }

  publish(files: Record<string, string>): void {
    const version = `..${++this.generation}`;
    mkdirSync(join(this.dir, version));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(this.dir, version, name), text);
    symlinkSync(version, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
  }
}
