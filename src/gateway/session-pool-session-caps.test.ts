/**
 * An egress turned away at the remote's session cap says why (review: only INADEQUATE_SECURITY's
 * debug data was read, so ENHANCE_YOUR_CALM's "too many sessions" reached no one). Real TLS on
 * loopback: east's other sessions fill the cap, then the pool's dial is refused.
 */
import type { ClientHttp2Session } from 'node:http2';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { echo, startTcpBackend, type TcpBackend } from './test-support/backends.js';
import { ask, h2connect } from './test-support/h2-client.js';
import { CLUSTER_DOMAIN, type Harness, PROBE_PATH, startHarness } from './test-support/harness.js';
import { makePki, type TestPki } from './test-support/pki.js';
import { waitFor } from './test-support/wait.js';

const ECHO = `echo.test.svc.${CLUSTER_DOMAIN}:7000`;

let pki: TestPki;
let backend: TcpBackend;
let h: Harness;
const held: ClientHttp2Session[] = [];

beforeAll(async () => {
  pki = makePki();
  backend = await startTcpBackend(echo);
});
afterAll(async () => {
  for (const s of held) s.destroy();
  await h?.close();
  await backend.close();
});

it('reports the remote session cap as the reason a dial was refused', async () => {
  h = await startHarness(pki, {
    limits: { maxSessionsPerPeer: 1 },
    pool: { backoff: { baseMs: 10, maxMs: 50 } },
  });
  h.exportService('test', 'echo', 7000, [backend.port]);
  const other = h2connect(h.ingress.address, pki.gateway('east'));
  held.push(other);
  expect(await ask(other, { ':method': 'GET', ':path': PROBE_PATH })).toMatchObject({ status: 200 });
  await expect(h.pool.openTunnel(h.ingress.address, ECHO)).rejects.toThrow(
    /too many sessions from this cluster/,
  );
  other.destroy();
  await waitFor(() => h.ingress.sessions() === 0, 'the other session closed');
}, 30_000);
