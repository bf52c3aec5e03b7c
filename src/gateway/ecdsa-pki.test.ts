/**
 * A Linkerd user's PKI end to end: a trust anchor and issuers made as `step certificate create
 * --profile root-ca` / `--profile intermediate-ca` make them (ECDSA P-256, the issuer's subject with
 * an O), not by `isthmus certs`. East's identity service loads its issuer from files (as from the
 * `isthmus-issuer` Secret) and serves Certify with a certificate that issuer signed; east's gateway
 * gets its certificate from it; a tunnel to west, whose gateway holds a leaf of west's ECDSA
 * issuer, carries bytes; and once `isthmus certs revoke` has listed east's certificate in a CRL the
 * ECDSA issuer signed, west refuses it, and east replaces it through Certify. Real gateways and
 * identity on loopback addresses of their own (HOST).
 */
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { issueGatewayCertificate, type KeyPairPem } from '../identity/ca.js';
import { startIdentityServer } from '../identity/certify-service.js';
import { normaliseSerial, parseCrl } from '../identity/crl.js';
import { watchIssuer } from '../identity/issuer-watch.js';
import type { LeafKeyType } from '../identity/keys.js';
import { revokeCertificate } from '../identity/revoke.js';
import { presentedChain, TEST_TRUST_DOMAIN } from '../identity/testing.js';
import { stepLikeAnchor, stepLikeIssuer, writeCaLayout } from '../identity/testing-openssl.js';
import { R } from '../kube/resources.js';
import { type GatewayFlags, gatewayOptionsFromFlags } from './config.js';
import * as e2e from './e2e/fixtures.js';
import { type RunningGateway, runGateway } from './run-gateway.js';
import { echo, startTcpBackend } from './test-support/backends.js';

/** Each cluster's gateway (and east's identity) on a loopback address of its own. */
const HOST = { east: '127.0.165.1', west: '127.0.166.1' } as const;
/** West's exported Service, an echo backend, and its mirror on east's side. */
const ECHO = { ns: 'test', service: 'echo', cluster: 'west', port: 7000 } as const;
/** RFC 5758 §3.2 ecdsa-with-SHA256. */
const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';

interface StepPki {
  /** The folder as `isthmus certs` lays it out: ca.crt/key, <cluster>/issuer.crt/key. */
  dir: string;
  anchorFile: string;
  anchor: KeyPairPem;
  issuers: { east: KeyPairPem; west: KeyPairPem };
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The anchor and east's and west's issuers as step makes them for Linkerd, in a folder. */
async function stepPki(): Promise<StepPki> {
  const anchor = stepLikeAnchor('P-256', `root.${TEST_TRUST_DOMAIN}`);
  const issuers = {
    east: stepLikeIssuer(anchor, `identity.east.${TEST_TRUST_DOMAIN}`),
    west: stepLikeIssuer(anchor, `identity.west.${TEST_TRUST_DOMAIN}`),
  };
  const dir = await mkdtemp(join(tmpdir(), 'isthmus-ecdsa-pki-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  writeCaLayout(dir, anchor, issuers);
  return { dir, anchorFile: join(dir, 'ca.crt'), anchor, issuers };
}

/**
 * East's identity service on its gateway's address, its issuer loaded and validated from the
 * folder's files as `isthmus identity` loads its Secret; `tokens()` counts the Certify calls signed.
 */
async function eastIdentity(pki: StepPki) {
  const watcher = await watchIssuer({
    anchorFile: pki.anchorFile,
    certFile: join(pki.dir, 'east', 'issuer.crt'),
    keyFile: join(pki.dir, 'east', 'issuer.key'),
    scope: { cluster: 'east', trustDomain: TEST_TRUST_DOMAIN },
    onChange: () => {},
    onError: () => {},
  });
  cleanups.push(() => watcher.stop());
  let signed = 0;
  const server = await startIdentityServer({
    issuer: watcher.current,
    trustDomain: TEST_TRUST_DOMAIN,
    cluster: 'east',
    reviewer: async () => {
      signed++;
      return { authenticated: true, username: 'system:serviceaccount:isthmus-system:isthmus-gateway' };
    },
    host: HOST.east,
    port: 0,
  });
  cleanups.push(() => server.close());
  return { address: `${HOST.east}:${server.port}`, tokens: () => signed };
}

/** A gateway of `cluster` following `crlFile` and trusting the step anchor; its log into `lines`. */
async function gateway(
  flags: GatewayFlags,
  pki: StepPki,
  crlFile: string,
  lines: string[] = [],
): Promise<RunningGateway> {
  const options = gatewayOptionsFromFlags({ ...flags, caFile: pki.anchorFile, crlFile });
  const gw = await runGateway(options, {
    logger: pino({ level: 'info' }, { write: (l: string) => void lines.push(l) }),
    processMetrics: false,
    // The CRL file is looked at every 20 ms here (10 s in a pod).
    crlIntervalMs: 20,
  });
  cleanups.push(() => gw.stop());
  return gw;
}

/**
 * The gateway of `cluster` with a leaf of its ECDSA issuer in files (`--cert-file`), whose key is
 * RSA 2048 unless `keyType` says otherwise.
 */
async function gatewayFromFiles(
  c: e2e.Cluster,
  cluster: 'east' | 'west',
  pki: StepPki,
  crlFile: string,
  { keyType = 'rsa-2048', lines = [] }: { keyType?: LeafKeyType; lines?: string[] } = {},
) {
  const leaf = issueGatewayCertificate(pki.issuers[cluster], {
    trustDomain: TEST_TRUST_DOMAIN,
    cluster,
    keyType,
  });
  const certFile = join(pki.dir, `${cluster}-tls.crt`);
  const keyFile = join(pki.dir, `${cluster}-tls.key`);
  await writeFile(certFile, leaf.chainPem);
  await writeFile(keyFile, leaf.keyPem, { mode: 0o600 });
  return gateway({ ...e2e.gatewayFlags(c, cluster, HOST[cluster]), certFile, keyFile }, pki, crlFile, lines);
}

/** What `gw` presents at its ingress: `ec <curve>` or `rsa <bits>`. */
async function presentedKey(gw: RunningGateway, pki: StepPki): Promise<string> {
  const { leaf } = await presentedChain(
    `${gw.ingress.address.host}:${gw.ingress.address.port}`,
    pki.anchor.certPem,
  );
  const key = leaf.publicKey;
  const details = key.asymmetricKeyDetails;
  return `${key.asymmetricKeyType} ${key.asymmetricKeyType === 'ec' ? details?.namedCurve : details?.modulusLength}`;
}

/** East's gateway with its certificate from `identityAddress` (a projected token's file, as in a pod). */
function eastGateway(east: e2e.Cluster, pki: StepPki, identityAddress: string, crlFile: string) {
  const { certFile: _c, keyFile: _k, ...flags } = e2e.gatewayFlags(east, 'east', HOST.east);
  return gateway({ ...flags, identityAddress, tokenFile: east.kubeconfigFile }, pki, crlFile);
}

/** West exports `echo`, an echo backend on loopback. */
async function exportEcho(west: e2e.Cluster): Promise<void> {
  const backend = await startTcpBackend(echo);
  cleanups.push(() => backend.close());
  await west.kube.create(R.services, e2e.exportedService(ECHO.ns, ECHO.service, ECHO.port));
  await west.kube.create(
    R.endpointSlices,
    e2e.endpointSlice(ECHO.ns, ECHO.service, '127.0.0.1', backend.port),
  );
}

/** `<dir>/crl.pem` as `certs revoke` rebuilt it, put in place at `mounted` in one rename (as kubelet does). */
async function mountCrl(pki: StepPki, mounted: string): Promise<void> {
  const next = `${mounted}.next`;
  await writeFile(next, await readFile(join(pki.dir, 'crl.pem')));
  await rename(next, mounted);
}

describe('an ECDSA P-256 anchor and issuers made as step makes them for Linkerd', () => {
  it('identity issues through Certify, a tunnel carries bytes, and a leaf the ECDSA issuer revoked is refused, then replaced', async () => {
    const pki = await stepPki();
    const mounts = { east: join(pki.dir, 'east-crl.pem'), west: join(pki.dir, 'west-crl.pem') };
    const { east, west } = await e2e.startLinkedClusters(HOST.east, ECHO.ns, cleanups);
    await exportEcho(west);
    const westLines: string[] = [];
    const westGw = await gatewayFromFiles(west, 'west', pki, mounts.west, { lines: westLines });
    const identity = await eastIdentity(pki);

    // Identity serves Certify with a certificate its ECDSA issuer signed, verified against the anchor.
    const eastIssuer = new X509Certificate(pki.issuers.east.certPem);
    const serving = await presentedChain(identity.address, pki.anchor.certPem);
    expect(serving.leaf.verify(eastIssuer.publicKey)).toBe(true);
    expect(serving.issuer?.serialNumber).toBe(eastIssuer.serialNumber);

    const eastGw = await eastGateway(east, pki, identity.address, mounts.east);
    expect(identity.tokens()).toBe(1);
    const presented = () => presentedChain(`${HOST.east}:${eastGw.ingress.address.port}`, pki.anchor.certPem);
    const first = await presented();
    // East's certificate: an ECDSA P-256 key (the gateway's CSR), signed by east's ECDSA issuer;
    // west's an RSA key from files: a mixed pair.
    expect(first.leaf.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(await presentedKey(westGw, pki)).toBe('rsa 2048');
    expect(first.leaf.checkIssued(eastIssuer) && first.leaf.verify(eastIssuer.publicKey)).toBe(true);
    expect(first.leaf.issuer).toBe(`O=Linkerd\nCN=identity.east.${TEST_TRUST_DOMAIN}`);

    const egressPort = await e2e.routeMirror(east, eastGw, westGw, ECHO);
    const open = e2e.tunnelClient(HOST.east, egressPort);
    cleanups.push(() => open.destroy());
    expect(await open.roundTrip('through an ECDSA PKI')).toBe('through an ECDSA PKI');

    // Revoked in east's issuer CRL, signed with the ECDSA issuer key; only west loads it at first.
    const serial = normaliseSerial(first.leaf.serialNumber);
    await revokeCertificate({ dir: pki.dir, cluster: 'east', serial, reason: 'keyCompromise' });
    const crl = parseCrl(await readFile(join(pki.dir, 'east', 'issuer.crl'), 'utf8'));
    expect(crl.signatureAlgorithm).toBe(ECDSA_WITH_SHA256);
    await mountCrl(pki, mounts.west);
    // West cuts the session made with the revoked certificate, and refuses east's new ones.
    await open.closed;
    expect(await e2e.echoRoundTrip(HOST.east, egressPort, 'refused', 5_000)).toBe(false);
    expect(westLines.join('')).toContain(
      `certificate serial ${first.leaf.serialNumber} is revoked by its issuer's CRL`,
    );

    // East loads the list too: it replaces its certificate through Certify, and west takes it.
    await mountCrl(pki, mounts.east);
    const renewed = await e2e.waitFor('east to present a new certificate', async () => {
      const now = await presented();
      return normaliseSerial(now.leaf.serialNumber) !== serial ? now : undefined;
    });
    expect(renewed.leaf.verify(eastIssuer.publicKey)).toBe(true);
    expect(identity.tokens()).toBe(2);
    await e2e.waitFor('a new tunnel from east through west', () =>
      e2e.echoRoundTrip(HOST.east, egressPort, 'again', 5_000),
    );
  });
});

describe('gateways with ECDSA P-256 leaves (identity/keys.ts)', () => {
  /**
   * West's gateway from files with an ECDSA P-256 leaf, and east's as `eastOf` starts it, linked
   * and west exporting `echo`: what each presents, and what a tunnel east → west → echo gives back.
   */
  async function pair(eastOf: (east: e2e.Cluster, pki: StepPki, crlFile: string) => Promise<RunningGateway>) {
    const pki = await stepPki();
    const crlFile = join(pki.dir, 'no-crl.pem');
    const { east, west } = await e2e.startLinkedClusters(HOST.east, ECHO.ns, cleanups);
    await exportEcho(west);
    const westGw = await gatewayFromFiles(west, 'west', pki, crlFile, { keyType: 'ecdsa-p256' });
    const eastGw = await eastOf(east, pki, crlFile);
    const keys = { east: await presentedKey(eastGw, pki), west: await presentedKey(westGw, pki) };
    const open = e2e.tunnelClient(HOST.east, await e2e.routeMirror(east, eastGw, westGw, ECHO));
    cleanups.push(() => open.destroy());
    return { keys, roundTrip: open.roundTrip };
  }

  it('a tunnel between two of them carries bytes: one leaf through Certify, one from --cert-file', async () => {
    const { keys, roundTrip } = await pair(async (east, pki, crlFile) =>
      eastGateway(east, pki, (await eastIdentity(pki)).address, crlFile),
    );
    expect(keys).toEqual({ east: 'ec prime256v1', west: 'ec prime256v1' });
    expect(await roundTrip('both ECDSA')).toBe('both ECDSA');
  });

  it('a mixed pair from files carries bytes: an RSA leaf dialling an ECDSA one', async () => {
    const { keys, roundTrip } = await pair((east, pki, crlFile) =>
      gatewayFromFiles(east, 'east', pki, crlFile, { keyType: 'rsa-2048' }),
    );
    expect(keys).toEqual({ east: 'rsa 2048', west: 'ec prime256v1' });
    expect(await roundTrip('RSA to ECDSA')).toBe('RSA to ECDSA');
  });
});
