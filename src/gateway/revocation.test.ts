/**
 * Certificate revocation on the data path: a gateway whose certificate a CRL lists is refused at
 * the handshake both ways (ingress admitting a client, pool trusting a server), and a CRL update
 * cuts the sessions already open with it. Real TLS over loopback, CRLs signed by the test PKI.
 */
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { isIsthmusError } from '../errors.js';
import { createCrl } from '../identity/crl.js';
import { RevocationList } from '../identity/revocation.js';
import type { IngressOptions } from './ingress.js';
import { echo, startTcpBackend, type TcpBackend } from './test-support/backends.js';
import { authorizeClusters, type Harness, startHarness } from './test-support/harness.js';
import { dataPathLifecycle } from './test-support/lifecycle.js';
import type { TestPki } from './test-support/pki.js';
import { waitFor, within } from './test-support/wait.js';
import type { TunnelSecureContext } from './tunnel-settings.js';

const ECHO = 'echo.test.svc.cluster.local:7000';
const lifecycle = dataPathLifecycle();
const { cleanups } = lifecycle;
let pki: TestPki;
beforeAll(() => {
  pki = lifecycle.pki();
});

/** A list of `cluster`'s issuer revoking the leaves of `contexts`. */
function revoking(cluster: string, ...contexts: TunnelSecureContext[]): RevocationList {
  const issuer = pki.issuer(cluster);
  const crl = createCrl({
    issuerCertPem: issuer.certPem,
    issuerKeyPem: issuer.keyPem,
    revoked: contexts.map((c) => ({
      serial: new X509Certificate(c.cert).serialNumber,
      revokedAt: new Date(),
      reason: 'keyCompromise',
    })),
    crlNumber: 1n,
  });
  return RevocationList.fromPem(issuer.certPem + crl, pki.anchor.certPem);
}

/** An ingress that admits east's gateways unless `list.current` revokes them. */
function withRevocation(list: { current: RevocationList }): IngressOptions['authorizePeer'] {
  const byIdentity = authorizeClusters(['east']);
  return (identity, cert, issuer) => {
    const reason = cert && list.current.check(cert, issuer);
    return reason ? { ok: false, reason } : byIdentity(identity, cert, issuer);
  };
}

async function harness(opts: Parameters<typeof startHarness>[1]): Promise<{ h: Harness; port: number }> {
  const backend: TcpBackend = await startTcpBackend(echo);
  cleanups.push(() => backend.close());
  const h = await startHarness(pki, opts);
  cleanups.push(() => h.close());
  h.exportService('test', 'echo', 7000, [backend.port]);
  return { h, port: await h.route('test', 'echo', 7000) };
}

async function retryFor<T>(deadlineMs: number, attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setImmediate(r));
    }
  }
}

async function roundTrip(stream: Duplex, text: string): Promise<void> {
  const got = new Promise<string>((r) => stream.once('data', (c: Buffer) => r(c.toString())));
  stream.write(text);
  expect(await within(got, 5_000, `echo of ${text}`)).toBe(text);
}

describe('revoked gateway certificates', () => {
  it('the ingress refuses a client whose issuer revoked its certificate, and admits a fresh one', async () => {
    const list = { current: revoking('east', pki.gateway('east')) };
    const { h } = await harness({ authorizePeer: withRevocation(list) });
    const err = await h.pool.openTunnel(h.ingress.address, ECHO).catch((e) => e);
    // Refused after the handshake, with the reason in the GOAWAY: the peer learns it is revoked.
    expect(isIsthmusError(err, 'GATEWAY_REFUSED')).toBe(true);
    expect(err.message).toMatch(/refused this cluster's gateway: .*revoked/);
    await waitFor(() => h.ingress.connections() === 0, 'the refused connection closed');

    // The same cluster with a new (unrevoked) certificate still gets through.
    const fresh = pki.freshGateway('east');
    h.pool.setSecureContext(fresh);
    // The pool fails fast during its reconnect backoff: retry until it dials again.
    const tunnel = await retryFor(5_000, () => h.pool.openTunnel(h.ingress.address, ECHO));
    await roundTrip(tunnel, 'fresh certificate');
    tunnel.destroy();
  });

  it('a CRL update cuts the open session of a now-revoked peer with its tunnels (revalidate)', async () => {
    const list = { current: RevocationList.empty(pki.anchor.certPem) };
    const { h, port } = await harness({ authorizePeer: withRevocation(list) });
    const client = net.connect(port, '127.0.0.1');
    cleanups.push(() => void client.destroy());
    await new Promise<void>((r) => client.once('connect', () => r()));
    await roundTrip(client, 'before the update');
    expect(h.ingress.revalidate()).toBe(0);

    list.current = revoking('east', pki.gateway('east'));
    const errors: string[] = [];
    client.on('error', (e: NodeJS.ErrnoException) => errors.push(e.code ?? e.message));
    const closed = new Promise<void>((r) => client.once('close', () => r()));
    expect(h.ingress.revalidate()).toBe(1);
    await within(closed, 5_000, 'the tunnel of the revoked session closed');
    // Cut, not ended: the client sees a reset, as for any tunnel that breaks.
    expect(errors).toEqual(['ECONNRESET']);
    await waitFor(() => h.ingress.sessions() === 0, 'no session left');
  });

  it('the pool refuses a remote gateway whose certificate is revoked, with the reason', async () => {
    const list = { current: revoking('west', pki.gateway('west')) };
    const { h } = await harness({
      pool: { checkPeerCertificate: (leaf, issuer) => list.current.check(leaf, issuer) },
    });
    const err = await h.pool.openTunnel(h.ingress.address, ECHO).catch((e) => e);
    // Refused by this gateway's own check, not a network problem.
    expect(isIsthmusError(err, 'GATEWAY_UNTRUSTED')).toBe(true);
    expect(String(err.message)).toMatch(/is not trusted: .*revoked by its issuer's CRL \(keyCompromise/);
    expect(h.pool.sessionCount()).toBe(0);

    // Unrevoked: the pool connects; revoked again later: revalidate drops the session.
    list.current = RevocationList.empty(pki.anchor.certPem);
    // The pool fails fast during its reconnect backoff: retry until it dials again.
    const tunnel = await retryFor(5_000, () => h.pool.openTunnel(h.ingress.address, ECHO));
    await roundTrip(tunnel, 'unrevoked');
    const closed = new Promise<void>((r) => tunnel.once('close', () => r()));
    tunnel.on('error', () => {}); // the cut surfaces as a stream error too
    list.current = revoking('west', pki.gateway('west'));
    expect(h.pool.revalidate()).toBe(1);
    await within(closed, 5_000, 'the tunnel on the revoked session closed');
    await waitFor(() => h.pool.sessionCount() === 0, 'the revoked session left the pool');
    await waitFor(() => h.ingress.sessions() === 0, 'the ingress saw the session go');
  });
});
