/**
 * The identity service under floods of connections and streams (security review: one pod could
 * make it run out of memory through either port). Real servers on loopback: the flood comes from
 * [::1], the gateway and the kubelet from 127.0.0.1, so a bound per address can be told apart.
 */
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { within } from '../kube/test-support.js';
import { waitFor } from '../wait-for.js';
import { type IdentityServer, startIdentityServer } from './certify-service.js';
import { checkHealth, ServingStatus } from './health.js';
import type { CertifyLimits, ServerLimits } from './identity-limits.js';
import { createIdentityMetrics, type IdentityMetrics } from './identity-metrics.js';
import { samplesOf, testIdentityClient } from './testing.js';
import { certifyCode, eastDeps, GATEWAY_TOKEN, reviewer } from './testing-flood.js';

const CERTIFY_PATH = '/isthmus.identity.v1.Identity/Certify';
const HEALTH_PATH = '/grpc.health.v1.Health/Check';

let server: IdentityServer | undefined;
let metrics: IdentityMetrics | undefined;
const cleanups: Array<() => void> = [];

afterEach(async () => {
  for (const c of cleanups.splice(0)) c();
  metrics?.close();
  metrics = undefined;
  await server?.close();
  server = undefined;
});

async function start(limits: { certify?: Partial<CertifyLimits>; health?: Partial<ServerLimits> } = {}) {
  metrics = createIdentityMetrics();
  server = await startIdentityServer({ ...eastDeps(), reviewer, port: 0, health: { port: 0 }, limits });
  return server;
}

/** A real renewal, as a gateway at 127.0.0.1 makes it: a channel of its own, one Certify call. */
async function gatewayCall(s: IdentityServer): Promise<number | 'issued'> {
  const client = testIdentityClient(`127.0.0.1:${s.port}`);
  try {
    return await within(certifyCode(client, GATEWAY_TOKEN), 20_000, 'a gateway Certify call');
  } finally {
    client.close();
  }
}

/** The kubelet's probe, from 127.0.0.1. */
const probe = (s: IdentityServer) => checkHealth(`127.0.0.1:${s.healthPort}`, { timeoutMs: 10_000 });

/**
 * `count` gRPC calls from [::1] that send their headers and never a message (the review's flood),
 * all submitted before the server's SETTINGS can be read: as a client that ignores
 * SETTINGS_MAX_CONCURRENT_STREAMS would.
 */
function openStreams(url: string, path: string, count: number) {
  const session = http2.connect(url, { rejectUnauthorized: false, peerMaxConcurrentStreams: count });
  session.on('error', () => {});
  cleanups.push(() => session.destroy());
  let refused = 0;
  let closed = 0;
  for (let i = 0; i < count; i++) {
    const stream = session.request(
      { ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' },
      { endStream: false },
    );
    stream.on('error', () => {});
    stream.on('close', () => {
      closed++;
      if (stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM) refused++;
    });
  }
  return { refused: () => refused, open: () => count - closed };
}

/** A TCP connection from `host` that sends nothing (no ClientHello, no HTTP/2 preface). */
function silentConnection(host: string, port: number) {
  const socket = net.connect({ host, port });
  socket.on('error', () => {});
  cleanups.push(() => socket.destroy());
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, closed };
}

function refusedSamples(text: string): Record<string, number> {
  return samplesOf(text, 'isthmus_identity_connections_refused_total');
}

describe('streams per connection', () => {
  it('refuses Certify streams beyond the limit (REFUSED_STREAM); a gateway is still certified meanwhile', async () => {
    const s = await start({ certify: { maxStreams: 4 } });
    const flood = openStreams(`https://[::1]:${s.port}`, CERTIFY_PATH, 40);
    await waitFor('the streams beyond the limit to be refused', () => flood.refused() === 36, 10_000);
    expect(flood.open()).toBe(4);
    expect(await gatewayCall(s)).toBe('issued');
    expect(flood.open()).toBe(4);
  });

  it('refuses health streams beyond the limit (REFUSED_STREAM); the kubelet still gets SERVING meanwhile', async () => {
    const s = await start({ health: { maxStreams: 2 } });
    const flood = openStreams(`http://[::1]:${s.healthPort}`, HEALTH_PATH, 20);
    await waitFor('the streams beyond the limit to be refused', () => flood.refused() === 18, 10_000);
    expect(flood.open()).toBe(2);
    expect(await probe(s)).toBe(ServingStatus.SERVING);
  });
});

describe('connection age', () => {
  it('cuts a Certify connection held with calls that never send their request once it is too old', async () => {
    const s = await start({ certify: { maxAgeMs: 300, ageGraceMs: 300, lingerMs: 300 } });
    const flood = openStreams(`https://[::1]:${s.port}`, CERTIFY_PATH, 8);
    await waitFor('the flood connected', () => s.connections().certify === 1, 10_000);
    await waitFor('the server to cut the old connection', () => s.connections().certify === 0, 10_000);
    await waitFor('every stream closed', () => flood.open() === 0, 10_000);
  });
});

describe('TLS handshakes', () => {
  it('closes a connection that never sends a ClientHello at the handshake timeout; Certify then works', async () => {
    const s = await start({ certify: { handshakeTimeoutMs: 300 } });
    const silent = silentConnection('::1', s.port);
    await waitFor('the connection to be admitted', () => s.connections().handshaking === 1, 10_000);
    await within(silent.closed, 10_000, 'the server to close the silent connection');
    await waitFor('no handshake left', () => s.connections().handshaking === 0, 10_000);
    expect(await gatewayCall(s)).toBe('issued');
  });

  it('closes at once a connection beyond the handshakes under way; Certify works once they end', async () => {
    const s = await start({ certify: { maxHandshakes: 2, handshakeTimeoutMs: 120_000 } });
    const held = [silentConnection('::1', s.port), silentConnection('::1', s.port)];
    await waitFor('both handshakes under way', () => s.connections().handshaking === 2, 10_000);
    const third = silentConnection('::1', s.port);
    await within(third.closed, 10_000, 'the server to close the connection beyond the bound');
    expect(s.connections().handshaking).toBe(2);
    for (const h of held) h.socket.destroy();
    await waitFor('the handshakes to end', () => s.connections().certify === 0, 10_000);
    expect(await gatewayCall(s)).toBe('issued');
    expect(refusedSamples(await metrics!.render())).toEqual({ '{server="certify",reason="handshakes"}': 1 });
  });
});

describe('connections', () => {
  it('closes at once a Certify connection beyond the bound per address, and one beyond the bound per port', async () => {
    const s = await start({ certify: { maxConnections: 3, maxPerAddress: 2, handshakeTimeoutMs: 120_000 } });
    const attacker = [silentConnection('::1', s.port), silentConnection('::1', s.port)];
    await waitFor('the attacker connections admitted', () => s.connections().certify === 2, 10_000);
    const third = silentConnection('::1', s.port);
    await within(third.closed, 10_000, 'the server to close the third from one address');
    // Another address still gets in.
    expect(await gatewayCall(s)).toBe('issued');
    await waitFor('the gateway connection gone', () => s.connections().certify === 2, 10_000);
    silentConnection('127.0.0.1', s.port);
    await waitFor('the port full', () => s.connections().certify === 3, 10_000);
    const beyond = silentConnection('127.0.0.1', s.port);
    await within(beyond.closed, 10_000, 'the server to close the connection beyond the port bound');
    expect(attacker.every((a) => !a.socket.destroyed)).toBe(true);
    expect(refusedSamples(await metrics!.render())).toEqual({
      '{server="certify",reason="per_address"}': 1,
      '{server="certify",reason="connections"}': 1,
    });
    for (const c of cleanups.splice(0)) c();
    await waitFor('the flood gone', () => s.connections().certify === 0, 10_000);
    expect(await gatewayCall(s)).toBe('issued');
  });

  it('closes at once a health connection beyond the bound per address; the kubelet still gets SERVING', async () => {
    const s = await start({ health: { maxPerAddress: 2 } });
    const attacker = [silentConnection('::1', s.healthPort!), silentConnection('::1', s.healthPort!)];
    await waitFor('the attacker connections admitted', () => s.connections().health === 2, 10_000);
    const third = silentConnection('::1', s.healthPort!);
    await within(third.closed, 10_000, 'the server to close the third from one address');
    expect(await probe(s)).toBe(ServingStatus.SERVING);
    expect(attacker.every((a) => !a.socket.destroyed)).toBe(true);
    expect(refusedSamples(await metrics!.render())).toEqual({ '{server="health",reason="per_address"}': 1 });
  });

  it('cuts a health connection that never speaks nor reads once it has been idle', async () => {
    const s = await start({ health: { idleMs: 300, lingerMs: 300 } });
    silentConnection('::1', s.healthPort!);
    await waitFor('the connection admitted', () => s.connections().health === 1, 10_000);
    // The client reads nothing, so only the server can tell that it cut the connection.
    await waitFor('the server to cut the idle connection', () => s.connections().health === 0, 10_000);
  });

  it('cuts a Certify connection that finishes its handshake, then never speaks nor reads, once it has been idle', async () => {
    const s = await start({ certify: { idleMs: 300, lingerMs: 300 } });
    const socket = tls.connect({
      host: '::1',
      port: s.port,
      ALPNProtocols: ['h2'],
      rejectUnauthorized: false,
    });
    socket.on('error', () => {});
    cleanups.push(() => socket.destroy());
    await within(new Promise((r) => socket.once('secureConnect', r)), 10_000, 'the handshake');
    // From now on it reads nothing: the server's GOAWAY and FIN stay unread.
    socket.pause();
    await waitFor('the server to cut the idle connection', () => s.connections().certify === 0, 10_000);
  });
});
