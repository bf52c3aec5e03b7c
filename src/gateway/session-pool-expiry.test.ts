/**
 * The egress side of certificate expiry: a pooled session to a remote gateway whose certificate has
 * since expired takes no new tunnel (its open ones finish); the pool dials again, and that
 * handshake succeeds or fails on its own (here: refused until the remote rotates its certificate).
 * Real TLS on loopback; a certificate valid for a few more seconds, waited for with a deadline.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { waitFor as waitUntil } from '../wait-for.js';
import { echo, echoThrough, startTcpBackend, type TcpBackend } from './test-support/backends.js';
import { CLUSTER_DOMAIN, type Harness, startHarness } from './test-support/harness.js';
import { makePki, resigned, type TestPki, wholeSecondAfter } from './test-support/pki.js';
import { untilExpiredForOpenSsl, waitFor } from './test-support/wait.js';

const ECHO = `echo.test.svc.${CLUSTER_DOMAIN}:7000`;

let pki: TestPki;
let backend: TcpBackend;
let h: Harness;

beforeAll(async () => {
  pki = makePki();
  // Minted now (key generation is slow on a loaded machine), not within the short validity below.
  pki.gateway('east');
  pki.gateway('west');
  backend = await startTcpBackend(echo);
});
afterAll(async () => {
  await h?.close();
  await backend.close();
});

it('stops opening tunnels on a session whose remote certificate expired, and redials', async () => {
  const westIdentity = 'spiffe://cluster.local/cluster/west/gateway';
  // Valid 4 s from when its key is made, to a whole second (what the pool and OpenSSL see).
  const { context: shortLived, notAfter } = pki.shortLived('west', {
    uriSans: [westIdentity],
    validForMs: 4_000,
  });
  h = await startHarness(pki, {
    ingressContext: shortLived,
    pool: { backoff: { baseMs: 10, maxMs: 50 } },
  });
  h.exportService('test', 'echo', 7000, [backend.port]);
  const remote = h.ingress.address;
  const tunnel = await h.pool.openTunnel(remote, ECHO);
  tunnel.on('error', () => {});
  expect(await echoThrough(tunnel, 'before')).toBe('before');
  expect(h.pool.readySessionCount()).toBe(1);

  // The remote's certificate expires within a few seconds: the session takes no new tunnel.
  await waitFor(() => h.pool.readySessionCount() === 0, 'the session to the expired remote draining', 15_000);
  // Its tunnel goes on; a new one needs a new handshake, which the expired certificate fails.
  expect(await echoThrough(tunnel, 'after')).toBe('after');
  await untilExpiredForOpenSsl(notAfter, 'a handshake with the expired certificate');
  await expect(h.pool.openTunnel(remote, ECHO)).rejects.toThrow(/expired|certificate/i);

  // Rotated: the pool's next dial succeeds on its own.
  h.ingress.setSecureContext(pki.gateway('west'));
  const next = await waitUntil(
    'a tunnel on a new session',
    () => h.pool.openTunnel(remote, ECHO).catch(() => undefined),
    10_000,
  );
  next.on('error', () => {});
  expect(await echoThrough(next, 'rotated')).toBe('rotated');
  next.end();
  tunnel.end();
  await waitFor(() => h.ingress.openTunnels() === 0, 'tunnels closed');
  await waitFor(() => h.pool.sessionCount() === 1, 'the expired session gone with its last tunnel');
}, 30_000);

it('stops opening tunnels on a session at the trust anchor notAfter too (the remote does not send the root)', async () => {
  const shortAnchor = resigned(pki.anchor, wholeSecondAfter(4_000));
  const eastContext = { ...pki.gateway('east'), ca: shortAnchor };
  const pair = await startHarness(pki, { pool: { secureContext: () => eastContext } });
  try {
    pair.exportService('test', 'echo', 7000, [backend.port]);
    const tunnel = await pair.pool.openTunnel(pair.ingress.address, ECHO);
    tunnel.on('error', () => {});
    expect(pair.pool.readySessionCount()).toBe(1);
    // The remote's leaf and issuer are valid for a day and more: only the anchor ends the chain.
    await waitFor(
      () => pair.pool.readySessionCount() === 0,
      'the session draining at the anchor expiry',
      15_000,
    );
    tunnel.end();
  } finally {
    await pair.close();
  }
}, 30_000);
