/**
 * Established sessions are capped per peer cluster and in total (security review: 3,000 admitted
 * sessions cost ~190 MiB, and a session with one stream open lives forever). A session beyond a cap
 * is turned away with GOAWAY(ENHANCE_YOUR_CALM) saying why, published and counted as
 * `session_limit`; other peers' sessions are still admitted. Real TLS on loopback.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { type ClientHttp2Session, constants as h2 } from 'node:http2';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { waitFor as waitUntil } from '../wait-for.js';
import { CHANNELS, type HandshakeRejectedMessage } from './diagnostics.js';
import type { Ingress } from './ingress.js';
import { createGatewayMetrics } from './metrics.js';
import { SESSION_LIMIT } from './session-caps.js';
import { echo, startTcpBackend, type TcpBackend } from './test-support/backends.js';
import { ask, connectTo, h2connect } from './test-support/h2-client.js';
import { authorizeClusters, CLUSTER_DOMAIN, PROBE_PATH, startEchoIngress } from './test-support/harness.js';
import { makePki, type TestPki, TRUST_DOMAIN } from './test-support/pki.js';
import { waitFor, within } from './test-support/wait.js';

const ECHO = `echo.test.svc.${CLUSTER_DOMAIN}:7000`;
const PROBE = { ':method': 'GET', ':path': PROBE_PATH } as const;

let pki: TestPki;
let backend: TcpBackend;
let ingress: Ingress;
const opened: ClientHttp2Session[] = [];
const rejected: HandshakeRejectedMessage[] = [];
const onRejected = (m: unknown) => rejected.push(m as HandshakeRejectedMessage);

beforeAll(async () => {
  pki = makePki();
  backend = await startTcpBackend(echo);
  ({ ingress } = await startEchoIngress(pki, backend.port, {
    limits: { maxSessionsPerPeer: 3, maxSessions: 5 },
    extra: { authorizePeer: authorizeClusters(['east', 'north']) },
  }));
  diagnosticsChannel.subscribe(CHANNELS.handshakeRejected, onRejected);
});
afterEach(async () => {
  for (const s of opened.splice(0)) s.destroy();
  await waitFor(() => ingress.connections() === 0 && ingress.sessions() === 0, 'no connection left');
});
afterAll(async () => {
  diagnosticsChannel.unsubscribe(CHANNELS.handshakeRejected, onRejected);
  await ingress.close();
  await backend.close();
});

/** A session of `cluster` that answered a probe (admitted), or the GOAWAY code that refused it. */
async function session(
  cluster: string,
): Promise<{ s: ClientHttp2Session; admitted: boolean; code?: number }> {
  const s = h2connect(ingress.address, pki.gateway(cluster));
  opened.push(s);
  let code: number | undefined;
  s.once('goaway', (c: number) => {
    code = c;
  });
  const answer = await ask(s, PROBE);
  return {
    s,
    admitted: 'status' in answer && answer.status === 200,
    ...(code === undefined ? {} : { code }),
  };
}

it('refuses a session beyond the per-peer cap and still admits other peers', async () => {
  const metrics = createGatewayMetrics({ processMetrics: false, trustDomain: TRUST_DOMAIN });
  try {
    for (let i = 0; i < 3; i++) expect((await session('east')).admitted).toBe(true);
    const beyond = await session('east');
    expect(beyond.admitted).toBe(false);
    expect(beyond.code).toBe(h2.NGHTTP2_ENHANCE_YOUR_CALM);
    expect(rejected).toContainEqual(
      expect.objectContaining({
        reason: SESSION_LIMIT,
        identity: 'spiffe://cluster.local/cluster/east/gateway',
      }),
    );
    await waitUntil('the refusal counted', async () =>
      (await metrics.render()).includes(
        'isthmus_tunnel_connections_total{direction="ingress",peer_cluster="east",result="session_limit"} 1',
      ),
    );
    // Another peer is still admitted, and east's admitted sessions still carry tunnels.
    const north = await session('north');
    expect(north.admitted).toBe(true);
    expect(await ask(north.s, connectTo(ECHO))).toMatchObject({ status: 200 });
    expect(await ask(opened[0]!, connectTo(ECHO))).toMatchObject({ status: 200 });
    expect(ingress.sessions()).toBe(4);
  } finally {
    metrics.close();
  }
});

it('refuses a session beyond the total cap, and admits again once a session closes', async () => {
  for (let i = 0; i < 3; i++) expect((await session('east')).admitted).toBe(true);
  for (let i = 0; i < 2; i++) expect((await session('north')).admitted).toBe(true);
  expect((await session('north')).admitted).toBe(false);
  const first = opened[0]!;
  first.destroy();
  await waitFor(() => ingress.sessions() === 4, 'one session closed');
  expect((await session('north')).admitted).toBe(true);
  // The closed session's slot is its cluster's again too (its count went down with it).
  expect(await within(ask(opened[1]!, connectTo(ECHO)), 10_000, 'a tunnel')).toMatchObject({ status: 200 });
});

/** The stream window `s`'s ingress advertised. */
function streamWindowOf(s: ClientHttp2Session): Promise<number | undefined> {
  return within(
    new Promise<number | undefined>((resolve) =>
      s.remoteSettings
        ? resolve(s.remoteSettings.initialWindowSize)
        : s.once('remoteSettings', (r: { initialWindowSize?: number }) => resolve(r.initialWindowSize)),
    ),
    10_000,
    'the ingress SETTINGS',
  );
}

it('advertises a 1 MiB stream window by default, and the configured one (--ingress-stream-window)', async () => {
  const { s } = await session('east');
  expect(await streamWindowOf(s)).toBe(1 << 20);
  const small = await startEchoIngress(pki, backend.port, { limits: { streamWindowBytes: 1 << 18 } });
  try {
    const t = h2connect(small.ingress.address, pki.gateway('east'));
    opened.push(t);
    expect(await ask(t, connectTo(ECHO))).toMatchObject({ status: 200 });
    expect(await streamWindowOf(t)).toBe(1 << 18);
    t.destroy();
  } finally {
    await small.ingress.close();
  }
});
