/**
 * Bounds on what an admitted peer (or a loop of tunnels) can hold at the ingress, from the security
 * review: no TLS session resumption (finding 10: a ticket would admit a client without its
 * certificate), a session that never sends the HTTP/2 preface is cut (finding 8), and concurrent
 * tunnels are capped (finding 2). Real TLS on loopback, generous deadlines.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import http2, { type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../wait-for.js';
import { CHANNELS, type HandshakeRejectedMessage, PREFACE_TIMEOUT } from './diagnostics.js';
import { type Ingress, type IngressOptions, startIngress, type TunnelLimitEvent } from './ingress.js';
import { createGatewayMetrics, type GatewayMetrics } from './metrics.js';
import { resolverFor } from './resolver.js';
import { ServiceIndex } from './service-index.js';
import { echo, startTcpBackend, type TcpBackend } from './test-support/backends.js';
import { ask, type ClientTls, connectTo, h2connect } from './test-support/h2-client.js';
import { authorizeClusters, CLUSTER_DOMAIN, PROBE_PATH } from './test-support/harness.js';
import { makePki, type TestPki } from './test-support/pki.js';

const ECHO = `echo.test.svc.${CLUSTER_DOMAIN}:7000`;
const PROBE = { ':method': 'GET', ':path': PROBE_PATH } as const;

let pki: TestPki;
let east: ClientTls;
let backend: TcpBackend;
let ingress: Ingress;
const rejected: HandshakeRejectedMessage[] = [];
const onRejected = (m: unknown) => rejected.push(m as HandshakeRejectedMessage);
const cleanups: Array<() => void> = [];

beforeAll(async () => {
  pki = makePki();
  east = pki.gateway('east');
  backend = await startTcpBackend(echo);
  diagnosticsChannel.subscribe(CHANNELS.handshakeRejected, onRejected);
});
afterAll(async () => {
  diagnosticsChannel.unsubscribe(CHANNELS.handshakeRejected, onRejected);
  await backend.close();
});
beforeEach(() => {
  rejected.length = 0;
});
afterEach(async () => {
  for (const c of cleanups.splice(0)) c();
  await ingress.close();
});

async function start(
  limits: IngressOptions['limits'] = {},
  extra: Partial<IngressOptions> = {},
): Promise<void> {
  const index = new ServiceIndex();
  index.upsertService({
    namespace: 'test',
    name: 'echo',
    headless: false,
    ports: [{ name: 'tcp', port: 7000 }],
  });
  index.setSliceEndpoints('test', 'echo', 's', [
    { address: '127.0.0.1', ready: true, ports: [{ name: 'tcp', port: backend.port }] },
  ]);
  ingress = await startIngress({
    host: '127.0.0.1',
    port: 0,
    secureContext: pki.gateway('west'),
    authorizePeer: authorizeClusters(['east']),
    resolve: resolverFor(index, CLUSTER_DOMAIN),
    probe: { path: PROBE_PATH, isReady: () => true },
    limits: { handshakeTimeoutMs: 10_000, ...limits },
    ...extra,
  });
}

function client(creds: ClientTls): ClientHttp2Session {
  const s = h2connect(ingress.address, creds);
  cleanups.push(() => s.destroy());
  return s;
}

/**
 * An HTTP/2 session over a TLS socket this test holds: `reused` says whether the handshake resumed
 * a TLS session, `ticket` is the session the server handed out (to offer on the next connection).
 */
function tlsSession(options: tls.ConnectionOptions): {
  h2: ClientHttp2Session;
  reused: Promise<boolean>;
  ticket: () => Buffer | undefined;
} {
  let ticket: Buffer | undefined;
  let markReused: (reused: boolean) => void;
  const reused = new Promise<boolean>((r) => {
    markReused = r;
  });
  const { host, port } = ingress.address;
  const h2 = http2.connect(`https://${host}:${port}`, {
    createConnection: () => {
      const socket = tls.connect({
        host,
        port,
        ...options,
        ALPNProtocols: ['h2'],
        minVersion: 'TLSv1.3',
        checkServerIdentity: () => undefined,
      });
      socket.on('session', (s: Buffer) => {
        ticket = s;
      });
      socket.once('secureConnect', () => markReused(socket.isSessionReused()));
      socket.once('close', () => markReused(false));
      return socket;
    },
  });
  h2.on('error', () => {});
  cleanups.push(() => h2.destroy());
  return { h2, reused, ticket: () => ticket };
}

describe('TLS session resumption (finding 10)', () => {
  /** A first admitted session, and the TLS session (ticket) it was handed, if any. */
  async function admittedTicket(): Promise<Buffer | undefined> {
    const first = tlsSession({ ...east });
    expect(await first.reused).toBe(false);
    // The tickets of TLS 1.3 come right after the handshake, before any answer.
    expect(await ask(first.h2, PROBE)).toEqual({ status: 200, body: 'ready\n' });
    first.h2.destroy();
    return first.ticket();
  }

  it('a client offering an admitted session without a certificate is not resumed, and refused', async () => {
    await start();
    const ticket = await admittedTicket();
    // No ticket at all would be as good: nothing to resume. Node 20 hands out one even without
    // tickets (OpenSSL's stateful TLS 1.3 ticket), which the server has no cache to resume from.
    if (ticket === undefined) return;
    const second = tlsSession({ ca: east.ca, session: ticket });
    expect(await second.reused).toBe(false);
    expect(await ask(second.h2, PROBE, 5_000)).toHaveProperty('error');
    await waitFor('the refusal of a client without a certificate', () =>
      rejected.some((r) => r.reason === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE'),
    );
    await waitFor('no session left', () => ingress.sessions() === 0 && ingress.connections() === 0);
  });

  it('a client offering an admitted session with its certificate is not resumed: the certificate is verified again', async () => {
    await start();
    const ticket = await admittedTicket();
    if (ticket === undefined) return;
    const second = tlsSession({ ...east, session: ticket });
    expect(await second.reused).toBe(false);
    expect(await ask(second.h2, PROBE)).toEqual({ status: 200, body: 'ready\n' });
  });

  it('a certificate rotation (setSecureContext) keeps resumption off', async () => {
    await start();
    ingress.setSecureContext(pki.freshGateway('west'));
    const ticket = await admittedTicket();
    if (ticket === undefined) return;
    const second = tlsSession({ ca: east.ca, session: ticket });
    expect(await second.reused).toBe(false);
    expect(await ask(second.h2, PROBE, 5_000)).toHaveProperty('error');
  });
});

describe('sessions that never send the HTTP/2 preface (finding 8)', () => {
  it('cuts an admitted TLS connection that sends no preface within the preface timeout; others are kept', async () => {
    await start({ prefaceTimeoutMs: 300 });
    // A good peer, connected first: its session is older than the silent one and outlives it.
    const good = client(east);
    expect(await ask(good, PROBE)).toEqual({ status: 200, body: 'ready\n' });
    const silent = tls.connect({
      ...ingress.address,
      ...east,
      ALPNProtocols: ['h2'],
      checkServerIdentity: () => undefined,
    });
    silent.on('error', () => {});
    cleanups.push(() => silent.destroy());
    // It reads nothing either (no 'data' listener): the ingress must not wait for its FIN.
    await waitFor('the preface timeout', () => rejected.length > 0);
    await waitFor('the silent connection to be cut', () => ingress.connections() === 1);
    expect(ingress.sessions()).toBe(1);
    expect(rejected).toEqual([
      expect.objectContaining({
        reason: PREFACE_TIMEOUT,
        identity: 'spiffe://cluster.local/cluster/east/gateway',
      }),
    ]);
    // The good session still tunnels.
    expect(await ask(good, PROBE)).toEqual({ status: 200, body: 'ready\n' });
  });

  it('the preface timeout defaults to the handshake timeout', async () => {
    await start({ handshakeTimeoutMs: 10_000 });
    const s = client(east);
    expect(await ask(s, PROBE)).toEqual({ status: 200, body: 'ready\n' });
    expect(ingress.sessions()).toBe(1);
  });
});

describe('--max-tunnels (finding 2)', () => {
  let metrics: GatewayMetrics;
  beforeEach(() => {
    metrics = createGatewayMetrics({ processMetrics: false });
  });
  afterEach(() => metrics.close());

  /** Opens a tunnel and keeps it: the status, and the stream while open. */
  function open(s: ClientHttp2Session): Promise<{ status: number; stream: ClientHttp2Stream }> {
    return new Promise((resolve, reject) => {
      const stream = s.request(connectTo(ECHO), { endStream: false });
      stream.on('error', () => {});
      stream.once('response', (h) => resolve({ status: Number(h[':status']), stream }));
      stream.once('close', () => reject(new Error(`stream closed without an answer (${stream.rstCode})`)));
    });
  }

  const refusedCount = async (): Promise<number> => {
    const text = await metrics.render();
    const m =
      /isthmus_tunnel_connections_total\{direction="ingress",peer_cluster="east",result="status_503"\} (\d+)/.exec(
        text,
      );
    return m ? Number(m[1]) : 0;
  };

  it('refuses CONNECTs beyond the limit with 503, counted, told once per episode; admits again once tunnels end', async () => {
    const events: TunnelLimitEvent[] = [];
    await start({ maxTunnels: 2 }, { onTunnelLimit: (e) => events.push(e) });
    const s = client(east);
    const a = await open(s);
    const b = await open(s);
    expect([a.status, b.status]).toEqual([200, 200]);
    await waitFor('two tunnels open', () => ingress.openTunnels() === 2);

    const refused = await Promise.all([open(s), open(s), open(s)]);
    expect(refused.map((r) => r.status)).toEqual([503, 503, 503]);
    expect(events).toEqual([{ reached: true, limit: 2, refused: 1 }]);
    expect(await refusedCount()).toBe(3);
    expect(backend.accepted).toBeGreaterThanOrEqual(2);
    const acceptedBefore = backend.accepted;

    // One tunnel ends: the gateway is under the limit (at 90 % of it) again and says so once.
    a.stream.close();
    await waitFor('the end of the episode', () => events.length === 2);
    expect(events[1]).toEqual({ reached: false, limit: 2, refused: 3 });
    const c = await open(s);
    expect(c.status).toBe(200);
    await waitFor('the new tunnel to reach the backend', () => backend.accepted === acceptedBefore + 1);
    b.stream.close();
    c.stream.close();
    await waitFor('every tunnel closed', () => ingress.openTunnels() === 0);
    expect(ingress.activeTunnels()).toBe(0);
  });
});
