/**
 * Bounds on what an admitted peer (or a loop of tunnels) can hold at the ingress, from the security
 * review: no TLS session resumption (finding 10: a ticket would admit a client without its
 * certificate), a session that never sends the HTTP/2 preface is cut (finding 8), concurrent
 * tunnels are capped (finding 2), and so are connections still in their TLS handshake (finding 7).
 * Bytes that are no TLS at all (a plain-HTTP health check) count as `not_tls`, which the tunnel
 * error alert leaves out. Real TLS on loopback, generous deadlines.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import http2, { type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../wait-for.js';
import { CHANNELS, HANDSHAKE_LIMIT, type HandshakeRejectedMessage, PREFACE_TIMEOUT } from './diagnostics.js';
import type { Ingress, IngressOptions, TunnelLimitEvent } from './ingress.js';
import { createGatewayMetrics, type GatewayMetrics } from './metrics.js';
import { echo, startTcpBackend, type TcpBackend } from './test-support/backends.js';
import { ask, type ClientTls, connectTo, h2connect } from './test-support/h2-client.js';
import { CLUSTER_DOMAIN, PROBE_PATH, startEchoIngress } from './test-support/harness.js';
import { makePki, type TestPki } from './test-support/pki.js';
import { within } from './test-support/wait.js';

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
  ({ ingress } = await startEchoIngress(pki, backend.port, { limits, extra }));
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

describe('bytes that are no TLS at all (a plain-HTTP health check, a scanner)', () => {
  let metrics: GatewayMetrics;
  beforeEach(() => {
    metrics = createGatewayMetrics({ processMetrics: false, trustDomain: 'cluster.local' });
  });
  afterEach(() => metrics.close());

  it.each([
    ['an HTTP/1.1 request', Buffer.from('GET /ready HTTP/1.1\r\nHost: gateway\r\n\r\n')],
    ['an HTTP proxy CONNECT', Buffer.from('CONNECT gateway:4143 HTTP/1.1\r\n\r\n')],
    ["HTTP/2's prior-knowledge preface (h2c)", Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')],
    ['noise', Buffer.from(Array.from({ length: 1024 }, (_, i) => (i * 151 + 89) & 0xff))],
    [
      'a TLS record header announcing an oversized record',
      Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff, 1, 2, 3]),
    ],
  ])('counts %s as not_tls under peer unknown, not as unauthorized', async (_what, bytes) => {
    await start();
    const raw = net.connect(ingress.address.port, '127.0.0.1');
    raw.on('error', () => {});
    // Read what comes (an alert, for some), or the FIN after it is never seen.
    raw.resume();
    cleanups.push(() => raw.destroy());
    await new Promise((r) => raw.once('connect', r));
    const closed = new Promise((r) => raw.once('close', r));
    raw.write(bytes);
    await within(closed, 10_000, 'the ingress to close the connection');
    await waitFor('the refusal to be published', () => rejected.length > 0);
    const text = await metrics.render();
    expect(text.split('\n').filter((l) => l.startsWith('isthmus_tunnel_connections_total{'))).toEqual([
      'isthmus_tunnel_connections_total{direction="ingress",peer_cluster="unknown",result="not_tls"} 1',
    ]);
  });
});

describe('connections still in their TLS handshake are bounded (finding 7)', () => {
  /** A TCP connection that sends nothing: it would hold its slot until the handshake timeout. */
  async function silent(): Promise<net.Socket> {
    const socket = net.connect(ingress.address.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.resume();
    cleanups.push(() => socket.destroy());
    await new Promise((r) => socket.once('connect', r));
    return socket;
  }

  it('closes a connection beyond limits.maxHandshakes at once, tells of the episode once, and admits again once a slot frees', async () => {
    const events: TunnelLimitEvent[] = [];
    // A handshake timeout far beyond every wait here: only the cap can close anything.
    await start(
      { maxHandshakes: 3, handshakeTimeoutMs: 120_000 },
      { onHandshakeLimit: (e) => events.push(e) },
    );
    const held = [await silent(), await silent(), await silent()];
    await waitFor('three handshakes pending', () => ingress.connections() === 3);
    const beyond = await silent();
    await within(
      new Promise((r) => beyond.once('close', r)),
      10_000,
      'the connection beyond the limit to be closed',
    );
    expect(events).toEqual([{ reached: true, limit: 3, refused: 1 }]);
    expect(ingress.connections()).toBe(3);
    // Counted (handshake_limit), but no hang-up of a client is published for it as well.
    expect(rejected.map((r) => r.reason)).toEqual([HANDSHAKE_LIMIT]);

    // An admitted session does not hold a handshake slot: once a held connection goes, a peer
    // gets in, and the episode ends.
    held[0]!.destroy();
    await waitFor('the episode to end', () => events.length === 2);
    expect(events[1]).toEqual({ reached: false, limit: 3, refused: 1 });
    const s = client(east);
    expect(await ask(s, PROBE)).toEqual({ status: 200, body: 'ready\n' });
    expect(ingress.sessions()).toBe(1);
    // Two silent connections and the session: a third silent one still fits, a fourth does not.
    const third = await silent();
    await waitFor('the third handshake pending', () => ingress.connections() === 4);
    const fourth = await silent();
    await within(new Promise((r) => fourth.once('close', r)), 10_000, 'the fourth to be closed');
    expect(third.destroyed).toBe(false);
    expect(events[2]).toEqual({ reached: true, limit: 3, refused: 1 });
  });

  it('counts a connection closed at the limit as handshake_limit', async () => {
    const metrics = createGatewayMetrics({ processMetrics: false });
    cleanups.push(() => metrics.close());
    await start({ maxHandshakes: 1, handshakeTimeoutMs: 120_000 });
    await silent();
    await waitFor('one handshake pending', () => ingress.connections() === 1);
    const beyond = await silent();
    await within(new Promise((r) => beyond.once('close', r)), 10_000, 'the connection beyond to be closed');
    await waitFor('the count', async () =>
      (await metrics.render()).includes(
        'isthmus_tunnel_connections_total{direction="ingress",peer_cluster="unknown",result="handshake_limit"} 1',
      ),
    );
  });
});
