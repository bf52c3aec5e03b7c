/**
 * The gateway's tunnel metrics against real sockets and TLS on loopback (127.0.131.1 is this
 * file's own): what a client that hangs up during the TLS handshake does to
 * isthmus_tunnel_connections_total (nothing; a refused peer still counts), and byte counters that
 * follow an open tunnel at each scrape instead of jumping when it closes.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../wait-for.js';
import { CHANNELS, clientHungUp, type HandshakeRejectedMessage, noClientCertificate } from './diagnostics.js';
import { createGatewayMetrics, type GatewayMetrics } from './metrics.js';
import { echo, startTcpBackend } from './test-support/backends.js';
import { connectTo, h2connect } from './test-support/h2-client.js';
import { CLUSTER_DOMAIN, type Harness, startHarness } from './test-support/harness.js';
import { dataPathLifecycle } from './test-support/lifecycle.js';
import { TRUST_DOMAIN } from './test-support/pki.js';
import { within } from './test-support/wait.js';

const HOST = '127.0.131.1';
const { pki, cleanups } = dataPathLifecycle();

let harness: Harness;
let metrics: GatewayMetrics;
const rejected: HandshakeRejectedMessage[] = [];

beforeEach(async () => {
  rejected.length = 0;
  const onRejected = (m: unknown): void => {
    rejected.push(m as HandshakeRejectedMessage);
  };
  diagnosticsChannel.subscribe(CHANNELS.handshakeRejected, onRejected);
  cleanups.push(() => {
    diagnosticsChannel.unsubscribe(CHANNELS.handshakeRejected, onRejected);
  });
  metrics = createGatewayMetrics({ trustDomain: TRUST_DOMAIN });
  cleanups.push(() => metrics.close());
  await startWith({ handshakeTimeoutMs: 10_000 });
});

/**
 * This test's harness. A generous handshake timeout for the tests with real mTLS handshakes (a
 * loaded CI machine can stall one past a second, which would count it as a timeout); only the
 * slowloris test, which is about that timeout, asks for a short one.
 */
async function startWith(limits: { handshakeTimeoutMs: number }): Promise<void> {
  const started = await startHarness(pki(), { host: HOST, limits });
  cleanups.push(() => started.close());
  harness = started;
}

/** The value of one series in the exposition, or undefined when it is absent. */
async function sample(series: string): Promise<number | undefined> {
  const line = (await metrics.render()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Every isthmus_tunnel_connections_total series of the ingress. */
async function ingressAttempts(): Promise<string[]> {
  const text = await metrics.render();
  return text.split('\n').filter((l) => l.startsWith('isthmus_tunnel_connections_total{direction="ingress"'));
}

function rawConnect(): Promise<net.Socket> {
  const socket = net.connect(harness.ingress.address.port, HOST);
  socket.on('error', () => {});
  cleanups.push(() => {
    socket.destroy();
  });
  return within(
    new Promise((resolve) => socket.once('connect', () => resolve(socket))),
    5_000,
    'TCP connect to the ingress',
  );
}

/** What a TLS client sends first, its ClientHello, taken from a client that never gets an answer. */
function clientHello(): Promise<Buffer> {
  return new Promise((resolve) => {
    const wire = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, done) {
        resolve(chunk);
        done();
      },
    });
    const client = tls.connect({
      socket: wire,
      ca: pki().anchor.certPem,
      ALPNProtocols: ['h2'],
      checkServerIdentity: () => undefined,
    });
    client.on('error', () => {});
    cleanups.push(() => {
      client.destroy();
    });
  });
}

const hangUp = (socket: net.Socket, how: 'FIN' | 'RST'): void => {
  if (how === 'FIN') socket.end();
  else socket.resetAndDestroy();
};

describe('isthmus_tunnel_connections_total at the ingress handshake', () => {
  it.each(['FIN', 'RST'] as const)(
    'a TCP connect closed with a %s before any byte (a TCP health check) is no refused tunnel',
    async (how) => {
      hangUp(await rawConnect(), how);
      await waitFor('the hang-up to be published', () => rejected.length > 0);
      // What Node reports for it, the same reason the log already takes for a hang-up.
      expect(rejected.map((r) => r.reason)).toEqual(['ECONNRESET']);
      await waitFor('the connection to close', () => harness.ingress.connections() === 0);
      expect(await ingressAttempts()).toEqual([]);
    },
  );

  it.each(['FIN', 'RST'] as const)(
    'a ClientHello, the ingress answering it, then a %s (a TLS client that gave up) is no refused tunnel',
    async (how) => {
      const hello = await within(clientHello(), 5_000, 'a ClientHello');
      const socket = await rawConnect();
      const answered = new Promise((resolve) => socket.once('data', resolve));
      socket.write(hello);
      await within(answered, 5_000, "the ingress's answer to the ClientHello");
      hangUp(socket, how);
      await waitFor('the hang-up to be published', () => rejected.length > 0);
      expect(rejected.map((r) => r.reason)).toEqual(['ECONNRESET']);
      await waitFor('the connection to close', () => harness.ingress.connections() === 0);
      expect(await ingressAttempts()).toEqual([]);
    },
  );

  /** A session with `creds` asks for a tunnel; resolves once the ingress has refused it. */
  async function refusedSession(creds: Parameters<typeof h2connect>[1]): Promise<void> {
    const session = h2connect(harness.ingress.address, creds);
    cleanups.push(() => session.destroy());
    session.request(connectTo(`echo.test.svc.${CLUSTER_DOMAIN}:7000`)).on('error', () => {});
    await waitFor('the refusal', () => rejected.length > 0);
  }

  // `openssl s_client`, a blackbox TLS probe, a load balancer's TLS health check, a scanner: no
  // peer gateway at all. As `unauthorized` under `unknown` (100 % failures) it paged after 10
  // minutes of IsthmusTunnelErrors. A certificate under another anchor still counts as refused
  // (it was taken for a hang-up, ECONNRESET, and counted nowhere).
  it.each([
    ['a client without a certificate apart', 'no_client_certificate', 'none', true],
    ['a gateway certificate under a foreign anchor', 'unauthorized', 'foreign', false],
  ] as const)('counts %s, as %s', async (_what, result, creds, noCertificate) => {
    await refusedSession(creds === 'none' ? { ca: pki().anchor.certPem } : pki().foreign('east'));
    expect(rejected.map((r) => [clientHungUp(r), noClientCertificate(r)])).toEqual([[false, noCertificate]]);
    expect(await ingressAttempts()).toEqual([
      `isthmus_tunnel_connections_total{direction="ingress",peer_cluster="unknown",result="${result}"} 1`,
    ]);
  });

  it("still counts an unlinked cluster's gateway as unauthorized, under its cluster", async () => {
    await refusedSession(pki().gateway('north'));
    expect(await ingressAttempts()).toEqual([
      'isthmus_tunnel_connections_total{direction="ingress",peer_cluster="north",result="unauthorized"} 1',
    ]);
  });

  it('counts a handshake that never finishes (slowloris) as a timeout', async () => {
    await startWith({ handshakeTimeoutMs: 300 });
    const socket = await rawConnect();
    socket.write(Buffer.from([0x16, 0x03, 0x01])); // the first bytes of a ClientHello, then nothing
    await waitFor('the handshake timeout', () => rejected.length > 0);
    expect(rejected.map((r) => r.reason)).toEqual(['ERR_TLS_HANDSHAKE_TIMEOUT']);
    expect(await ingressAttempts()).toEqual([
      'isthmus_tunnel_connections_total{direction="ingress",peer_cluster="unknown",result="timeout"} 1',
    ]);
  });
});

describe('byte counters of open tunnels', () => {
  const EGRESS = 'isthmus_tunnel_bytes_total{direction="egress"}';
  const INGRESS = 'isthmus_tunnel_bytes_total{direction="ingress"}';
  const SERVICE = 'isthmus_service_tunnel_bytes_total{direction="egress",namespace="test",service="echo"}';
  /** Polls the scrape until `series` reads `want` (or the deadline names what it read last). */
  const scraped = async (series: string, want: number): Promise<void> => {
    await waitFor(`${series} to read ${want}`, async () => {
      const got = await sample(series);
      if (got !== want) throw new Error(`it reads ${got}`);
      return true;
    });
  };

  it('grow at each scrape while a tunnel moves bytes, and end at exactly the bytes moved', async () => {
    const backend = await startTcpBackend(echo, HOST);
    cleanups.push(() => backend.close());
    harness.exportService('test', 'echo', 7000, [backend.port]);
    const port = await harness.route('test', 'echo', 7000);
    const client = net.connect({ host: HOST, port, allowHalfOpen: true });
    client.on('error', () => {});
    cleanups.push(() => {
      client.destroy();
    });
    let echoed = 0;
    client.on('data', (chunk: Buffer) => {
      echoed += chunk.length;
    });
    const ended = new Promise((resolve) => client.once('end', resolve));

    // Each byte crosses each gateway's TCP side twice: read from the client (egress) or written to
    // the backend (ingress), and back.
    client.write(Buffer.alloc(1_000, 1));
    await waitFor('the first 1,000 bytes to come back', () => echoed === 1_000);
    for (const series of [EGRESS, INGRESS, SERVICE]) await scraped(series, 2_000);
    expect(await sample('isthmus_tunnel_open{direction="egress"}')).toBe(1);
    expect(await sample('isthmus_tunnel_open{direction="ingress"}')).toBe(1);

    client.write(Buffer.alloc(30_000, 2));
    await waitFor('30,000 more bytes to come back', () => echoed === 31_000);
    for (const series of [EGRESS, INGRESS, SERVICE]) await scraped(series, 62_000);
    expect(await sample('isthmus_tunnel_open{direction="egress"}')).toBe(1);

    // The last bytes then travel with the FINs: counted when the tunnel closes, and only they.
    client.end(Buffer.alloc(500, 3));
    await within(ended, 10_000, "the backend's FIN back through the tunnel");
    await waitFor(
      'both tunnel ends to close',
      () => harness.egress.openTunnels() === 0 && harness.ingress.openTunnels() === 0,
    );
    expect(echoed).toBe(31_500);
    for (const series of [EGRESS, INGRESS, SERVICE]) expect(await sample(series)).toBe(63_000);
    expect(await sample('isthmus_tunnel_open{direction="egress"}')).toBe(0);
  });
});
