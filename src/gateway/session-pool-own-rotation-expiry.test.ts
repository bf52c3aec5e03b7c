/**
 * The egress retires its pooled sessions after its OWN certificate rotates (review: sessions kept
 * across the rotation all reached the old notAfter, where the remote's expiry timer ended them,
 * daily). The next tunnel after a rotation still runs on the old session while one with the new
 * certificate is dialled behind it; once that one is established the old session takes no new
 * tunnel and closes with its last one. Real TLS on loopback, waits with deadlines.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { echo, echoThrough, startTcpBackend, type TcpBackend } from './test-support/backends.js';
import { CLUSTER_DOMAIN, type Harness, startHarness } from './test-support/harness.js';
import { makePki, type TestPki } from './test-support/pki.js';
import { waitFor } from './test-support/wait.js';

const ECHO = `echo.test.svc.${CLUSTER_DOMAIN}:7000`;
const EAST = 'spiffe://cluster.local/cluster/east/gateway';

let pki: TestPki;
let backend: TcpBackend;
let h: Harness;

beforeAll(async () => {
  pki = makePki();
  backend = await startTcpBackend(echo);
});
afterAll(async () => {
  await h?.close();
  await backend.close();
});

it('moves to a session with the rotated certificate, and the old one ends with its last tunnel', async () => {
  h = await startHarness(pki);
  h.exportService('test', 'echo', 7000, [backend.port]);
  const remote = h.ingress.address;
  const old = await h.pool.openTunnel(remote, ECHO);
  old.on('error', () => {});
  expect(await echoThrough(old, 'before')).toBe('before');
  expect(h.pool.sessionCount()).toBe(1);

  h.pool.setSecureContext(pki.leaf('east', { uriSans: [EAST] }));
  // Served at once (on the old session), while a session with the new certificate is dialled.
  const next = await h.pool.openTunnel(remote, ECHO);
  next.on('error', () => {});
  expect(await echoThrough(next, 'during')).toBe('during');
  await waitFor(
    () => h.pool.sessionCount() === 2 && h.pool.readySessionCount() === 1,
    'a new session ready, the old one draining',
    10_000,
  );
  expect(h.ingress.sessions()).toBe(2);
  // The old session's tunnels go on; new ones take the new session.
  expect(await echoThrough(old, 'after')).toBe('after');
  const third = await h.pool.openTunnel(remote, ECHO);
  third.on('error', () => {});
  expect(await echoThrough(third, 'rotated')).toBe('rotated');
  old.end();
  next.end();
  await waitFor(() => h.pool.sessionCount() === 1, 'the old session gone with its last tunnel', 10_000);
  third.end();
  await waitFor(() => h.ingress.openTunnels() === 0, 'tunnels closed');
}, 30_000);
