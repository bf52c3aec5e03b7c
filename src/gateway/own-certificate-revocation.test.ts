/**
 * A gateway holds its own certificate to the CRL it follows (`--crl-file`): once a load revokes the
 * certificate in use, an identity-issued gateway asks for a new one at once, without a restart and
 * without dropping an open tunnel, and the peers that refused it take its tunnels again. A revoked
 * issuer is reported once per load and nothing is minted from it; with `--cert-file` there is
 * nothing to renew, and the log says what to do. Real gateways and identity on loopback (east
 * 127.0.161.1, west 127.0.162.1), CRLs signed by `isthmus certs revoke` and swapped into each
 * gateway's file as kubelet swaps a ConfigMap mount.
 */
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Logger, pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createIssuer, type KeyPairPem } from '../identity/ca.js';
import { startIdentityServer } from '../identity/certify-service.js';
import { normaliseSerial } from '../identity/crl.js';
import { revokeCertificate } from '../identity/revoke.js';
import { presentedChain, TEST_TRUST_DOMAIN, testGatewayCertificate, testPki } from '../identity/testing.js';
import { SYSTEM_NAMESPACE } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import { type GatewayFlags, gatewayOptionsFromFlags } from './config.js';
import {
  type Cluster,
  endpointSlice,
  exportedService,
  gatewayFlags,
  namespace,
  routeMirror,
  startCluster,
  startLinkedClusters,
  tunnelClient,
  waitFor,
  writeCertsLayout,
} from './e2e/fixtures.js';
import { followOwnRevocation, ownCheckLine } from './own-certificate-revocation.js';
import { type RunningGateway, runGateway } from './run-gateway.js';
import { echo, startTcpBackend } from './test-support/backends.js';

const EAST_HOST = '127.0.161.1';
const WEST_HOST = '127.0.162.1';
const NS = 'test';
const PORT = 7000;
/** How often the gateways here look at their CRL file (10 s in a pod). */
const CRL_INTERVAL_MS = 20;
const ANCHOR = testPki().anchor.certPem;
const METRIC = 'isthmus_gateway_own_certificate_revocations_total';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** `isthmus certs` output for the test PKI (where `certs revoke` signs), in a folder of its own. */
async function certsFolder(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'isthmus-own-revocation-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await writeCertsLayout(dir);
  return dir;
}

/** The crl.pem `certs revoke` rebuilt, swapped into `mounted` as kubelet updates a ConfigMap mount. */
async function applyCrl(certs: string, mounted: string): Promise<void> {
  await copyFile(join(certs, 'crl.pem'), `${mounted}.tmp`);
  await rename(`${mounted}.tmp`, mounted);
}

/**
 * East's identity service on EAST_HOST, signing with `issuer()` (the issuer in force, as after a
 * reload); `tokens()` counts the Certify calls that reached it, each of which it signs.
 */
async function eastIdentity(issuer: () => KeyPairPem = () => testPki().issuers.east) {
  let tokens = 0;
  const server = await startIdentityServer({
    issuer,
    trustDomain: TEST_TRUST_DOMAIN,
    cluster: 'east',
    reviewer: async () => {
      tokens++;
      return { authenticated: true, username: 'system:serviceaccount:isthmus-system:isthmus-gateway' };
    },
    host: EAST_HOST,
    port: 0,
  });
  cleanups.push(() => server.close());
  return { server, address: `${EAST_HOST}:${server.port}`, tokens: () => tokens };
}

/** A gateway following `crlFile`; its log lines parsed. */
async function gateway(flags: GatewayFlags, crlFile: string) {
  const lines: Array<Record<string, unknown>> = [];
  const logger: Logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  const gw = await runGateway(gatewayOptionsFromFlags({ ...flags, crlFile }), {
    logger,
    processMetrics: false,
    crlIntervalMs: CRL_INTERVAL_MS,
  });
  cleanups.push(() => gw.stop());
  return {
    gw,
    /** The lines about its own certificate against the CRL. */
    own: () => lines.filter((l) => String(l.msg).startsWith('certificate refused by the CRL')),
    /** `isthmus_gateway_own_certificate_revocations_total` by outcome, as scraped. */
    counted: async () =>
      (await gw.metrics.render()).split('\n').filter((l) => l.startsWith(`${METRIC}{`) && !l.endsWith(' 0')),
    /** `isthmus_gateway_own_certificate_revoked` as scraped: whether the list in force refuses it now. */
    revoked: async () =>
      (await gw.metrics.render())
        .split('\n')
        .find((l) => l.startsWith('isthmus_gateway_own_certificate_revoked ')),
  };
}

/** East's gateway with certificates from `identity` (a projected token's file, as in a pod). */
function eastGateway(east: Cluster, identityAddress: string, crlFile: string) {
  const { certFile: _c, keyFile: _k, ...flags } = gatewayFlags(east, 'east', EAST_HOST);
  return gateway({ ...flags, identityAddress, tokenFile: east.kubeconfigFile }, crlFile);
}

/** What peers see of `gw`: the serial (as `certs revoke --serial` takes it) and the issuer's. */
async function presented(gw: RunningGateway): Promise<{ serial: string; issuer: string }> {
  const { leaf, issuer } = await presentedChain(`${EAST_HOST}:${gw.ingress.address.port}`, ANCHOR);
  return { serial: normaliseSerial(leaf.serialNumber), issuer: normaliseSerial(issuer!.serialNumber) };
}

const serialOf = (pem: string) => normaliseSerial(new X509Certificate(pem).serialNumber);

async function eastAlone(): Promise<Cluster> {
  const east = await startCluster('east');
  cleanups.push(
    () => east.sandbox.close(),
    () => east.kube.close(),
    () => east.certs.remove(),
  );
  await east.kube.create(R.namespaces, namespace(SYSTEM_NAMESPACE));
  return east;
}

/**
 * East alone: identity signing with the issuer in force (`setIssuer` renews it, as a reload does)
 * and the gateway, following the CRL file `mounted`; what peers see of it at first.
 */
async function eastWithIdentity() {
  const certs = await certsFolder();
  const mounted = join(certs, 'mount.pem');
  const east = await eastAlone();
  let issuer = testPki().issuers.east;
  const identity = await eastIdentity(() => issuer);
  const eastGw = await eastGateway(east, identity.address, mounted);
  const setIssuer = async (next: KeyPairPem): Promise<void> => {
    issuer = next;
    await identity.server.renewServingCertificate();
  };
  return { certs, mounted, identity, eastGw, setIssuer, old: await presented(eastGw.gw) };
}

/** Another issuer of east under the test anchor, as `isthmus certs --reuse-anchor --force` makes. */
const renewedIssuer = () =>
  createIssuer(testPki().anchor, { cluster: 'east', trustDomain: TEST_TRUST_DOMAIN });

describe('a gateway whose own certificate the CRL revokes', () => {
  it('asks identity for a new one at once: an open tunnel stays up, and the peer that loads the same CRL takes its new tunnels', async () => {
    const certs = await certsFolder();
    const mounts = { east: join(certs, 'east-mount.pem'), west: join(certs, 'west-mount.pem') };
    const { east, west } = await startLinkedClusters(EAST_HOST, NS, cleanups);
    const backend = await startTcpBackend(echo);
    cleanups.push(() => backend.close());
    await west.kube.create(R.services, exportedService(NS, 'echo', PORT));
    await west.kube.create(R.endpointSlices, endpointSlice(NS, 'echo', '127.0.0.1', backend.port));
    const westGw = await gateway(gatewayFlags(west, 'west', WEST_HOST), mounts.west);
    const identity = await eastIdentity();
    const eastGw = await eastGateway(east, identity.address, mounts.east);
    const egressPort = await routeMirror(east, eastGw.gw, westGw.gw, {
      ns: NS,
      service: 'echo',
      cluster: 'west',
      port: PORT,
    });
    const open = tunnelClient(EAST_HOST, egressPort);
    cleanups.push(() => open.destroy());
    expect(await open.roundTrip('before')).toBe('before');
    const old = await presented(eastGw.gw);
    // From the first scrape, so that increase() sees the first one.
    expect(await eastGw.gw.metrics.render()).toContain(`${METRIC}{outcome="replaced"} 0`);

    await revokeCertificate({ dir: certs, cluster: 'east', serial: old.serial, reason: 'keyCompromise' });
    await applyCrl(certs, mounts.east);
    const renewed = await waitFor('east to present a new certificate', async () => {
      const now = await presented(eastGw.gw);
      return now.serial !== old.serial ? now : undefined;
    });
    expect(renewed.issuer).toBe(old.issuer);
    expect(eastGw.own()).toEqual([
      expect.objectContaining({
        level: 30,
        msg: 'certificate refused by the CRL: replaced',
        serial: old.serial,
        renewedSerial: renewed.serial,
        reason: expect.stringMatching(/revoked by its issuer's CRL \(keyCompromise/),
      }),
    ]);
    expect(await eastGw.counted()).toEqual([`${METRIC}{outcome="replaced"} 1`]);
    // Replaced at once: the list in force refuses nothing this gateway presents now.
    expect(await eastGw.revoked()).toBe('isthmus_gateway_own_certificate_revoked 0');
    // The tunnel opened with the old certificate goes on: renewing swaps it for new handshakes only.
    expect(await open.roundTrip('after the renewal')).toBe('after the renewal');

    // West loads the same list: it cuts the session made with the revoked certificate (and the
    // tunnel on it), and takes east's next one, made with the new certificate.
    await applyCrl(certs, mounts.west);
    await open.closed;
    await waitFor('a new tunnel from east through west', async () => {
      const next = tunnelClient(EAST_HOST, egressPort);
      try {
        return (await next.roundTrip('again')) === 'again';
      } finally {
        next.destroy();
      }
    });
    expect(identity.tokens()).toBe(2);
  });

  it('reports a revoked issuer at each load, mints nothing from it, and takes a certificate of the new issuer once identity has one', async () => {
    const { certs, mounted, identity, eastGw, setIssuer, old } = await eastWithIdentity();

    await revokeCertificate({ dir: certs, issuerOf: 'east', certFile: join(certs, 'east', 'issuer.crt') });
    await applyCrl(certs, mounted);
    await waitFor('the revoked issuer reported', () => eastGw.own().length === 1);
    // Another revocation, another load: reported once more.
    await revokeCertificate({ dir: certs, cluster: 'west', serial: '4a11ce' });
    await applyCrl(certs, mounted);
    await waitFor('the second load reported', () => eastGw.own().length === 2);

    const issuerSerial = serialOf(testPki().issuers.east.certPem);
    for (const line of eastGw.own()) {
      expect(line).toMatchObject({
        level: 50,
        msg: expect.stringMatching(/^certificate refused by the CRL: its issuer is revoked/),
        serial: old.serial,
        issuerSerial,
        reason: expect.stringMatching(/revoked by the trust anchor's CRL/),
      });
    }
    expect(await eastGw.counted()).toEqual([`${METRIC}{outcome="renewal_failed"} 2`]);
    // A state, for as long as it lasts (the counter only says when loads happened).
    expect(await eastGw.revoked()).toBe('isthmus_gateway_own_certificate_revoked 1');
    // Every peer refuses this gateway now, so a probe through it would blame the remote: the admin
    // says the failure is ours before dialling anyone (the controller then blames no remote).
    const { host, port } = eastGw.gw.admin.address;
    // Not ready either: its cluster's mirrors lose their endpoints (the slices list ready gateway
    // pods), so failover moves callers to what still works rather than into refused tunnels.
    const ready = await fetch(`http://${host}:${port}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toMatch(/this gateway's certificate is revoked/);
    const probe = await fetch(`http://${host}:${port}/probe?gateway=10.9.9.9:4143&path=/ready&timeoutMs=500`);
    expect(await probe.json()).toMatchObject({
      alive: false,
      failure: 'local',
      error: expect.stringMatching(/^this gateway's certificate is revoked \(.*\): peers refuse it$/),
    });
    // Identity serves with the revoked issuer too, so the gateway refuses it before sending its
    // token: nothing was signed, and the certificate in use is the one it had.
    expect(identity.tokens()).toBe(1);
    expect((await presented(eastGw.gw)).serial).toBe(old.serial);

    // The issuer renewed (`isthmus certs --reuse-anchor --force`, then `isthmus upgrade`): identity
    // reloads it and serves from it; the gateway's retries take a certificate of it, no restart.
    const issuer = renewedIssuer();
    await setIssuer(issuer);
    const renewed = await waitFor(
      'a certificate of the new issuer',
      async () => {
        const now = await presented(eastGw.gw);
        return now.issuer === serialOf(issuer.certPem) ? now : undefined;
      },
      20_000,
    );
    expect(renewed.serial).not.toBe(old.serial);
    expect(await eastGw.revoked()).toBe('isthmus_gateway_own_certificate_revoked 0');
    expect((await fetch(`http://${host}:${port}/ready`)).status).toBe(200);
    // The report of the refused certificate is closed, and the replacement counted.
    await waitFor('the replacement reported', () => eastGw.own().length === 3);
    expect(eastGw.own()[2]).toMatchObject({
      level: 30,
      msg: 'certificate refused by the CRL: replaced by a later renewal',
      serial: old.serial,
      renewedSerial: renewed.serial,
    });
    expect(await eastGw.counted()).toEqual([
      `${METRIC}{outcome="replaced"} 1`,
      `${METRIC}{outcome="renewal_failed"} 2`,
    ]);
  });

  it('takes a certificate of the issuer identity signs with now when a retired issuer is revoked', async () => {
    const { certs, mounted, eastGw, setIssuer, old } = await eastWithIdentity();
    // East's issuer renewed first; the gateway still holds a certificate of the old one.
    const issuer = renewedIssuer();
    await setIssuer(issuer);

    await revokeCertificate({ dir: certs, issuerOf: 'east', certFile: join(certs, 'east', 'issuer.crt') });
    await applyCrl(certs, mounted);
    await waitFor('the certificate replaced', () => eastGw.own().length === 1);
    const now = await presented(eastGw.gw);
    expect(now.issuer).toBe(serialOf(issuer.certPem));
    expect(eastGw.own()[0]).toMatchObject({
      level: 30,
      msg: 'certificate refused by the CRL: replaced',
      serial: old.serial,
      renewedSerial: now.serial,
    });
    expect(await eastGw.counted()).toEqual([`${METRIC}{outcome="replaced"} 1`]);
    // Replaced at once: the list in force refuses nothing this gateway presents now.
    expect(await eastGw.revoked()).toBe('isthmus_gateway_own_certificate_revoked 0');
  });

  it('with --cert-file, renews nothing and says how to replace it, once per load', async () => {
    const certs = await certsFolder();
    const mounted = join(certs, 'mount.pem');
    const east = await eastAlone();
    const serial = serialOf(testGatewayCertificate('east').certPem);
    // Revoked by the list the gateway starts with: reported at start.
    await revokeCertificate({ dir: certs, cluster: 'east', serial });
    await applyCrl(certs, mounted);
    const eastGw = await gateway(gatewayFlags(east, 'east', EAST_HOST), mounted);
    await waitFor('reported at start', () => eastGw.own().length === 1);
    await revokeCertificate({ dir: certs, cluster: 'west', serial: '4a11ce' });
    await applyCrl(certs, mounted);
    await waitFor('reported at the reload', () => eastGw.own().length === 2);

    for (const line of eastGw.own()) {
      expect(line).toMatchObject({
        level: 50,
        msg: expect.stringMatching(
          /^certificate refused by the CRL: --cert-file is not renewed by the gateway/,
        ),
        serial,
        certFile: east.certs.certFile,
        reason: expect.stringMatching(/revoked by its issuer's CRL/),
      });
    }
    expect(await eastGw.counted()).toEqual([`${METRIC}{outcome="not_renewable"} 2`]);
    const renewals = (await eastGw.gw.metrics.render())
      .split('\n')
      .filter((l) => l.includes('renewals_total'));
    expect(renewals).toContain('isthmus_gateway_certificate_renewals_total{result="ok"} 1');
  });
});

describe('ownCheckLine', () => {
  const held = { chainPem: '', serial: '4f0a', notAfter: new Date(0) };
  it.each([
    [{ outcome: 'in-force' } as const, undefined],
    [
      { outcome: 'issuer-revoked', certificate: held, issuerSerial: '5b1c', reason: 'revoked' } as const,
      {
        level: 'error',
        outcome: 'issuer_revoked',
        fields: { serial: '4f0a', issuerSerial: '5b1c', reason: 'revoked' },
        msg: expect.stringMatching(
          /same issuer is refused too: renew the issuer .*then restart the gateways$/,
        ),
      },
    ],
  ])('%j', (check, line) => {
    expect(ownCheckLine(check)).toEqual(line);
  });
});

describe('followOwnRevocation, after a check that could not replace the certificate', () => {
  const first = testGatewayCertificate('east');
  const next = testGatewayCertificate('west');
  function follow(refusedChains: Set<string>) {
    const lines: { level: string; fields: Record<string, unknown>; msg: string }[] = [];
    const at = (level: string) => (fields: Record<string, unknown>, msg: string) =>
      void lines.push({ level, fields, msg });
    const counted: string[] = [];
    const followed = followOwnRevocation({
      check: async () => ({
        outcome: 'not-renewable',
        revoked: { chainPem: first.chainPem, serial: serialOf(first.certPem), notAfter: new Date(0) },
        reason: 'revoked',
      }),
      refused: (chainPem) => (refusedChains.has(chainPem) ? 'revoked too' : undefined),
      log: { info: at('info'), error: at('error') } as unknown as Logger,
      count: (outcome) => void counted.push(outcome),
      certFile: '/etc/isthmus/tls.crt',
    });
    return { followed, lines, counted };
  }

  it('a later renewal the list accepts closes the report, counted as replaced', async () => {
    const { followed, lines, counted } = follow(new Set());
    await followed.check();
    followed.rotated(next);
    expect(counted).toEqual(['not_renewable', 'replaced']);
    expect(lines.at(-1)).toMatchObject({
      level: 'info',
      msg: 'certificate refused by the CRL: replaced by a later renewal',
      fields: { serial: serialOf(first.certPem), renewedSerial: serialOf(next.certPem) },
    });
  });

  it('a later renewal the list refuses too replaces nothing: said, not counted, still pending', async () => {
    const { followed, lines, counted } = follow(new Set([next.chainPem]));
    await followed.check();
    followed.rotated(next);
    expect(counted).toEqual(['not_renewable']);
    expect(lines.at(-1)).toMatchObject({
      level: 'error',
      msg: 'certificate refused by the CRL: renewed, and the new certificate is refused too',
      fields: { renewedSerial: serialOf(next.certPem), reason: 'revoked too' },
    });
  });
});
