/**
 * The egress's session dials are visible (review: while a remote refused this gateway's rotated
 * certificate, the egress redialled every 0.5–2 s behind the session with the previous certificate,
 * which kept every tunnel working, and nothing said so until that certificate expired hours later).
 * Every dial is counted by peer cluster and result; a refused dial while a session with the
 * previous certificate still serves is its own warning. Real TLS on loopback, waits with deadlines.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { IsthmusError } from '../errors.js';
import { waitFor as waitUntil } from '../wait-for.js';
import { CHANNELS, type SessionDialMessage } from './diagnostics.js';
import { createGatewayMetrics, type GatewayMetrics } from './metrics.js';
import { SessionPool } from './session-pool.js';
import { echo, startTcpBackend, type TcpBackend } from './test-support/backends.js';
import { CLUSTER_DOMAIN, type Harness, startHarness } from './test-support/harness.js';
import { makePki, type TestPki } from './test-support/pki.js';
import { waitFor } from './test-support/wait.js';

const ECHO = `echo.test.svc.${CLUSTER_DOMAIN}:7000`;

let pki: TestPki;
let backend: TcpBackend;
let h: Harness;
let metrics: GatewayMetrics;
const dials: SessionDialMessage[] = [];
const onDial = (m: unknown) => dials.push(m as SessionDialMessage);

beforeAll(async () => {
  pki = makePki();
  pki.foreign('east');
  backend = await startTcpBackend(echo);
  metrics = createGatewayMetrics({ processMetrics: false });
  diagnosticsChannel.subscribe(CHANNELS.sessionDial, onDial);
});
afterAll(async () => {
  diagnosticsChannel.unsubscribe(CHANNELS.sessionDial, onDial);
  metrics.close();
  await h?.close();
  await backend.close();
});

it('counts each dial, and says when the remote refuses the rotated certificate while the previous one serves', async () => {
  h = await startHarness(pki, { pool: { backoff: { baseMs: 10, maxMs: 50 } } });
  h.exportService('test', 'echo', 7000, [backend.port]);
  const remote = h.ingress.address;
  (await h.pool.openTunnel(remote, ECHO, 'west')).end();
  await waitFor(() => dials.length === 1, 'the first dial published');
  expect(dials[0]).toMatchObject({ peerCluster: 'west', ok: true, previousCertificateServes: false });

  // A rotation to a certificate the remote does not trust (another anchor): tunnels still open, on
  // the session made with the previous certificate, while each dial with the new one is refused.
  h.pool.setSecureContext(pki.foreign('east'));
  const refused = await waitUntil(
    'a refused dial behind the serving session',
    async () => {
      const t = await h.pool.openTunnel(remote, ECHO, 'west');
      t.end();
      return dials.find((d) => !d.ok);
    },
    10_000,
  );
  // TLS 1.3 gives the client no reason (the alert reads as an end of stream): not "unreachable".
  expect(refused).toMatchObject({
    peerCluster: 'west',
    ok: false,
    code: 'GATEWAY_REFUSED',
    previousCertificateServes: true,
  });
  expect(refused.reason).toMatch(/refused this cluster's gateway certificate at the TLS handshake/);
  const text = await metrics.render();
  expect(text).toContain('isthmus_tunnel_session_dials_total{peer_cluster="west",result="success"} 1');
  expect(text).toMatch(
    /isthmus_tunnel_session_dials_total\{peer_cluster="west",result="unauthorized"\} [1-9]/,
  );
  expect(h.pool.readySessionCount()).toBe(1);
}, 30_000);

it('tells a remote that sends GOAWAY before the session is established (shutting down) from a certificate refusal', async () => {
  // A stand-in for a gateway in its drain, in raw frames so the order is fixed: its SETTINGS, a
  // GOAWAY(NO_ERROR) without a reason, then the end of the connection; the PING that would
  // establish the session is never answered.
  const settings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
  const goaway = Buffer.from([0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({ ...pki.gateway('west'), ALPNProtocols: ['h2'] }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.end(Buffer.concat([settings, goaway]));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const pool = new SessionPool({ secureContext: () => pki.gateway('east') });
  try {
    const address = { host: '127.0.0.1', port: (server.address() as AddressInfo).port };
    const err = await pool.openTunnel(address, ECHO, 'west').catch((e: IsthmusError) => e);
    expect(err).toMatchObject({ code: 'GATEWAY_UNREACHABLE' });
    expect((err as Error).message).toMatch(/ended the session before it was established \(GOAWAY code 0\)/);
  } finally {
    await pool.close();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
