/**
 * A session outlives the certificate it was admitted with (security review: an expired peer kept
 * opening tunnels on its old session). At the chain's notAfter the ingress sends GOAWAY: no new
 * stream on that session, the tunnels on it finish, and a new session is refused at the handshake.
 * Real TLS on loopback: a certificate valid for a few more seconds, waited for with a deadline.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SESSION_EXPIRED_CHANNEL, type SessionExpiredMessage } from './certificate-expiry.js';
import { CHANNELS, type HandshakeRejectedMessage } from './diagnostics.js';
import type { Ingress } from './ingress.js';
import { createGatewayMetrics, type GatewayMetrics } from './metrics.js';
import { echo, echoThrough, startTcpBackend, type TcpBackend } from './test-support/backends.js';
import { ask, connectTo, h2connect } from './test-support/h2-client.js';
import { CLUSTER_DOMAIN, PROBE_PATH, startEchoIngress } from './test-support/harness.js';
import { makePki, resigned, type TestPki, TRUST_DOMAIN, wholeSecondAfter } from './test-support/pki.js';
import { untilExpiredForOpenSsl, waitFor, within } from './test-support/wait.js';

const ECHO = `echo.test.svc.${CLUSTER_DOMAIN}:7000`;
const PROBE = { ':method': 'GET', ':path': PROBE_PATH } as const;

let pki: TestPki;
let backend: TcpBackend;
let ingress: Ingress;
const rejected: HandshakeRejectedMessage[] = [];
const onRejected = (m: unknown) => rejected.push(m as HandshakeRejectedMessage);
const expired: SessionExpiredMessage[] = [];
const onExpired = (m: unknown) => expired.push(m as SessionExpiredMessage);
let metrics: GatewayMetrics;

beforeAll(async () => {
  pki = makePki();
  // Minted now (key generation is slow on a loaded machine), not within the short validity below.
  pki.gateway('east');
  backend = await startTcpBackend(echo);
  ({ ingress } = await startEchoIngress(pki, backend.port));
  diagnosticsChannel.subscribe(CHANNELS.handshakeRejected, onRejected);
  diagnosticsChannel.subscribe(SESSION_EXPIRED_CHANNEL, onExpired);
  metrics = createGatewayMetrics({ processMetrics: false, trustDomain: TRUST_DOMAIN });
});
afterAll(async () => {
  metrics.close();
  diagnosticsChannel.unsubscribe(CHANNELS.handshakeRejected, onRejected);
  diagnosticsChannel.unsubscribe(SESSION_EXPIRED_CHANNEL, onExpired);
  await ingress.close();
  await backend.close();
});

it('sends GOAWAY at the peer certificate notAfter: no new tunnel on that session, open ones finish', async () => {
  const identity = 'spiffe://cluster.local/cluster/east/gateway';
  // Valid 4 s from when its key is made, to a whole second (what the ingress and OpenSSL see).
  const { context: shortLived, notAfter } = pki.shortLived('east', {
    uriSans: [identity],
    validForMs: 4_000,
  });
  const s = h2connect(ingress.address, shortLived);
  const goaway = new Promise<number>((resolve) => s.once('goaway', (code: number) => resolve(code)));
  expect(await ask(s, PROBE)).toMatchObject({ status: 200 });
  const tunnel = s.request(connectTo(ECHO), { endStream: false });
  tunnel.on('error', () => {});
  await within(new Promise((r) => tunnel.once('response', r)), 5_000, 'CONNECT 200');
  expect(await echoThrough(tunnel, 'before')).toBe('before');

  // The certificate expires within a few seconds of real time.
  expect(await within(goaway, 15_000, 'GOAWAY at the certificate expiry')).toBe(0);
  // A routine end of a session, not a refused peer: its own result, left out of the error alert.
  await waitFor(
    () => expired.some((m) => m.peerCluster === 'east' && m.identity === identity),
    'the expiry published as a session expired',
  );
  expect(rejected).toEqual([]);
  const text = await metrics.render();
  expect(text).toContain(
    'isthmus_tunnel_connections_total{direction="ingress",peer_cluster="east",result="session_expired"} 1',
  );
  expect(text).not.toContain('result="unauthorized"');
  const late = await ask(s, connectTo(ECHO));
  expect(late).not.toMatchObject({ status: 200 });
  // The tunnel opened before the expiry goes on until it ends (the decision: Envoy's and Linkerd's).
  expect(await echoThrough(tunnel, 'after')).toBe('after');
  expect(ingress.openTunnels()).toBe(1);

  // A new session with the same certificate fails its handshake.
  await untilExpiredForOpenSsl(notAfter, 'a handshake with the expired certificate');
  const fresh = h2connect(ingress.address, shortLived);
  expect(await ask(fresh, PROBE)).not.toMatchObject({ status: 200 });
  fresh.destroy();
  await waitFor(
    () => rejected.some((m) => m.reason === 'CERT_HAS_EXPIRED'),
    'the expired handshake published as a refusal',
  );

  tunnel.end();
  await waitFor(
    () => ingress.openTunnels() === 0 && ingress.sessions() === 0,
    'the session closed with its last tunnel',
  );
  s.destroy();
  await waitFor(() => ingress.connections() === 0, 'no connection left');

  // Good traffic still served.
  const good = h2connect(ingress.address, pki.gateway('east'));
  expect(await ask(good, connectTo(ECHO))).toMatchObject({ status: 200 });
  good.destroy();
  await waitFor(() => ingress.connections() === 0 && ingress.openTunnels() === 0, 'no connection left');
}, 30_000);

it('sends GOAWAY at the trust anchor notAfter too: the peer does not send the root, the ingress finds it', async () => {
  const shortAnchor = resigned(pki.anchor, wholeSecondAfter(4_000));
  const { ingress: strict } = await startEchoIngress(pki, backend.port, {
    extra: { secureContext: { ...pki.gateway('west'), ca: shortAnchor } },
  });
  try {
    const s = h2connect(strict.address, pki.gateway('east'));
    const goaway = new Promise<number>((resolve) => s.once('goaway', (code: number) => resolve(code)));
    expect(await ask(s, PROBE)).toMatchObject({ status: 200 });
    // The leaf and its issuer are valid for a day and more: only the anchor ends the chain's validity.
    expect(await within(goaway, 15_000, 'GOAWAY at the anchor expiry')).toBe(0);
    expect(await ask(s, connectTo(ECHO))).not.toMatchObject({ status: 200 });
    s.destroy();
    await waitFor(() => strict.connections() === 0, 'no connection left');
  } finally {
    await strict.close();
  }
}, 30_000);
