/**
 * The session pool against a real ingress (and a few hand-made servers): reuse, extra sessions at
 * the peer's stream limit, failing fast, identity checks, GOAWAY and certificate rotation.
 */

import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import http2, { type ClientHttp2Stream, type ServerHttp2Session } from 'node:http2';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { isIsthmusError } from '../errors.js';
import { gatewayIdentity } from '../kube/keys.js';
import { VERSION } from '../version.js';
import { type IngressOptions, startIngress } from './ingress.js';
import { resolverFor } from './resolver.js';
import { ServiceIndex } from './service-index.js';
import { SESSION_LIVENESS_CHANNEL, type SessionLivenessMessage } from './session-liveness.js';
import { SessionPool } from './session-pool.js';
import type { TcpBackend } from './test-support/backends.js';
import { authorizeClusters, CLUSTER_DOMAIN, PROBE_PATH } from './test-support/harness.js';
import { dataPathLifecycle } from './test-support/lifecycle.js';
import { type TestPki, TRUST_DOMAIN } from './test-support/pki.js';
import { type Relay, startRelay } from './test-support/relay.js';
import { startStandInGateway } from './test-support/stand-in-gateway.js';
import { waitFor, within } from './test-support/wait.js';
import type { TunnelSecureContext } from './tunnel-settings.js';

const ECHO = `echo.test.svc.${CLUSTER_DOMAIN}:7000`;

let pki: TestPki;
const { cleanups, echoBackend } = dataPathLifecycle((made) => {
  pki = made;
});

/** A real ingress exporting echo.test:7000; records the certificate of every admitted peer. */
async function ingressFor(
  backend: Pick<TcpBackend, 'port'>,
  maxConcurrentStreams = 1000,
  limits: IngressOptions['limits'] = {},
) {
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
  const peerCerts: Array<X509Certificate | undefined> = [];
  const authorize = authorizeClusters(['east']);
  const ready = { value: true };
  const ingress = await startIngress({
    host: '127.0.0.1',
    port: 0,
    secureContext: pki.gateway('west'),
    authorizePeer: (identity, cert, issuer) => {
      peerCerts.push(cert);
      return authorize(identity, cert, issuer);
    },
    resolve: resolverFor(index, CLUSTER_DOMAIN),
    probe: { path: PROBE_PATH, isReady: () => ready.value },
    limits: { maxConcurrentStreams, ...limits },
  });
  cleanups.push(async () => {
    await ingress.close();
  });
  return { ingress, peerCerts, ready };
}

/**
 * A pool presenting `ctx`. Its connect timeout (TCP + TLS + SETTINGS to an in-process ingress) is a
 * generous 10 s, so a loaded machine's stall is no failed dial; tests about it set their own.
 */
function pool(ctx: TunnelSecureContext = pki.gateway('east'), extra = {}): SessionPool {
  const p = new SessionPool({ secureContext: () => ctx, connectTimeoutMs: 10_000, ...extra });
  cleanups.push(() => p.close());
  return p;
}

async function roundTrip(stream: Duplex, text: string): Promise<void> {
  const got = new Promise<string>((r) => stream.once('data', (c: Buffer) => r(c.toString())));
  stream.write(text);
  expect(await within(got, 5_000, `echo of ${text}`)).toBe(text);
}

function closeTunnel(stream: Duplex): Promise<void> {
  stream.resume();
  const closed = new Promise<void>((r) => stream.once('close', () => r()));
  stream.end();
  return within(closed, 5_000, 'tunnel close');
}

async function relayTo(port: number, held = false): Promise<Relay> {
  const relay = await startRelay(port, held);
  cleanups.push(() => relay.close());
  return relay;
}

/** The pool's session-liveness events (suspected, cleared, hung) from now until the test's end. */
function livenessEvents(): SessionLivenessMessage[] {
  const events: SessionLivenessMessage[] = [];
  const onEvent = (m: unknown): void => {
    events.push(m as SessionLivenessMessage);
  };
  diagnosticsChannel.subscribe(SESSION_LIVENESS_CHANNEL, onEvent);
  cleanups.push(() => {
    diagnosticsChannel.unsubscribe(SESSION_LIVENESS_CHANNEL, onEvent);
  });
  return events;
}

const ECHO_SERVER = `const s = require('node:net').createServer((c) => { c.on('error', () => {}); c.pipe(c); });
s.listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => console.log(s.address().port));`;

/**
 * An echo backend in a child process, stopped (SIGSTOP) with its accept queue full, so a dial to it
 * waits in SYN retransmits (1 s, 3 s, …) until `resume()`: a backend that accepts slowly.
 */
async function stoppedBackend(): Promise<{ port: number; resume(): void }> {
  const child = spawn(process.execPath, ['-e', ECHO_SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const pid = child.pid!;
  cleanups.push(() => {
    child.kill('SIGKILL');
  });
  const port = await within(
    new Promise<number>((resolve) =>
      child.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim()))),
    ),
    10_000,
    "the backend's port",
  );
  process.kill(pid, 'SIGSTOP');
  const state = (): string => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.charAt(0);
  await waitFor(() => state() === 'T', 'the backend to stop');
  // Linux queues backlog + 1 connections nobody accepted: after these two, SYNs are dropped.
  const fillers = [0, 1].map(() => net.connect(port, '127.0.0.1').on('error', () => {}));
  cleanups.push(() => {
    for (const f of fillers) f.destroy();
  });
  await within(
    Promise.all(fillers.map((f) => new Promise((r) => f.once('connect', r)))),
    5_000,
    "the backend's accept queue to fill",
  );
  return { port, resume: () => process.kill(pid, 'SIGCONT') };
}

/** Writes `text` and ends; resolves with everything echoed back until the remote's end. */
function echoed(stream: Duplex, text: string): Promise<string> {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise<string>((r) => stream.once('end', () => r(Buffer.concat(chunks).toString())));
  stream.end(text);
  return ended;
}

/** The error a tunnel through `gateway` fails with, within `ms` (a tunnel opened is an error too). */
function tunnelError(p: SessionPool, gateway: { host: string; port: number }, ms: number, what: string) {
  return within(
    p.openTunnel(gateway, ECHO).then(
      () => new Error(`a tunnel opened: ${what}`),
      (err: Error) => err,
    ),
    ms,
    what,
  );
}

/** A port with nothing listening. */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('SessionPool', () => {
  it('reuses one session for sequential and concurrent tunnels', async () => {
    const { ingress } = await ingressFor(await echoBackend());
    const p = pool();
    const tunnels = await Promise.all([1, 2, 3].map(() => p.openTunnel(ingress.address, ECHO)));
    for (const [i, t] of tunnels.entries()) await roundTrip(t, `t${i}`);
    expect(p.sessionCount()).toBe(1);
    expect(ingress.sessions()).toBe(1);
    await Promise.all(tunnels.map(closeTunnel));
    await roundTrip(await p.openTunnel(ingress.address, ECHO), 'again');
    expect(ingress.sessions()).toBe(1);
  });

  it("opens another session when the peer's SETTINGS_MAX_CONCURRENT_STREAMS is reached", async () => {
    const { ingress } = await ingressFor(await echoBackend(), 4);
    const p = pool();
    const tunnels = await within(
      Promise.all(Array.from({ length: 10 }, () => p.openTunnel(ingress.address, ECHO))),
      10_000,
      '10 tunnels with a limit of 4 streams per session',
    );
    expect(p.sessionCount()).toBe(3);
    for (const [i, t] of tunnels.entries()) await roundTrip(t, `t${i}`);
    await Promise.all(tunnels.map(closeTunnel));
    await waitFor(() => ingress.openTunnels() === 0, 'tunnels to close');
  });

  it('rejects with TUNNEL_REFUSED and the status for a service the remote does not export', async () => {
    const { ingress } = await ingressFor(await echoBackend());
    const p = pool();
    const err = await p.openTunnel(ingress.address, `nope.test.svc.${CLUSTER_DOMAIN}:7000`).catch((e) => e);
    expect(isIsthmusError(err, 'TUNNEL_REFUSED')).toBe(true);
    expect(err.cause).toEqual({ status: 403 });
    // The refusal ended the stream cleanly: the session is still the one in use.
    await roundTrip(await p.openTunnel(ingress.address, ECHO), 'after refusal');
    expect(ingress.sessions()).toBe(1);
  });

  it('fails fast with GATEWAY_UNREACHABLE when nothing listens, and keeps failing fast during backoff', async () => {
    // A connect timeout far beyond the deadlines below: failing fast means on the refusal itself,
    // not at a timeout.
    const p = pool(undefined, { backoff: { baseMs: 60_000, maxMs: 60_000 }, connectTimeoutMs: 60_000 });
    const port = await deadPort();
    const gateway = { host: '127.0.0.1', port };
    const first = await within(
      p.openTunnel(gateway, ECHO).catch((e) => e),
      10_000,
      'the refused dial to be reported',
    );
    expect(isIsthmusError(first, 'GATEWAY_UNREACHABLE')).toBe(true);
    expect(first.message).toMatch(/ECONNREFUSED/);
    // During the backoff no new dial is made: the next caller gets the same error, not a new one.
    const second = await within(
      p.openTunnel(gateway, ECHO).catch((e) => e),
      10_000,
      'the failure in backoff',
    );
    expect(second).toBe(first);
    expect(p.sessionCount()).toBe(0);
  });

  it('reconnects after the backoff once the remote is back', async () => {
    const backend = await echoBackend();
    const p = pool(undefined, { backoff: { baseMs: 50, maxMs: 50 } });
    const port = await deadPort();
    expect(await p.openTunnel({ host: '127.0.0.1', port }, ECHO).catch((e) => e.code)).toBe(
      'GATEWAY_UNREACHABLE',
    );
    const { ingress } = await ingressFor(backend);
    // A later attempt (past the 50 ms backoff) reaches the live ingress.
    let tunnel: Duplex | undefined;
    const until = Date.now() + 5_000;
    while (!tunnel && Date.now() < until) {
      tunnel = await p.openTunnel(ingress.address, ECHO).catch(() => undefined);
    }
    expect(tunnel).toBeDefined();
    await roundTrip(tunnel!, 'back');
  });

  it('times out with GATEWAY_CONNECT_TIMEOUT when the remote accepts TCP but never speaks TLS', async () => {
    const silent = net.createServer(() => {});
    const held = new Set<net.Socket>();
    silent.on('connection', (s) => {
      held.add(s);
      s.on('error', () => {});
      s.resume(); // reads the ClientHello (and so sees the FIN after it), never answers
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          for (const s of held) s.destroy();
          silent.close(() => r());
        }),
    );
    const p = pool(undefined, { connectTimeoutMs: 300 });
    const err = await within(
      p
        .openTunnel({ host: '127.0.0.1', port: (silent.address() as net.AddressInfo).port }, ECHO)
        .catch((e) => e),
      10_000,
      'the connect timeout to be reported',
    );
    expect(err.code).toBe('GATEWAY_CONNECT_TIMEOUT');
    // The pool gave up on the connection too: the silent server sees it closed, none left open.
    expect(held.size).toBe(1);
    await waitFor(() => [...held].every((s) => s.destroyed), 'the timed-out connection to be closed');
  });

  it('refuses a remote whose identity is not the expected gateway', async () => {
    const { ingress } = await ingressFor(await echoBackend());
    const p = pool(undefined, {
      expectPeer: (id: string | undefined) => id === gatewayIdentity(TRUST_DOMAIN, 'south'),
    });
    const err = await p.openTunnel(ingress.address, ECHO).catch((e) => e);
    // Refused by this gateway's own check: no network problem.
    expect(err.code).toBe('GATEWAY_UNTRUSTED');
    expect(err.message).toMatch(/^gateway 127\.0\.0\.1:\d+ is not trusted: unexpected gateway identity/);
    const ok = pool(undefined, {
      expectPeer: (id: string | undefined) => id === gatewayIdentity(TRUST_DOMAIN, 'west'),
    });
    await roundTrip(await ok.openTunnel(ingress.address, ECHO), 'expected peer');
  });

  /** An h2 server presenting `ctx` (a misfit certificate), which answers any stream 200. */
  async function impostor(ctx: TunnelSecureContext): Promise<{ host: string; port: number }> {
    const server = http2.createSecureServer({ ...ctx, allowHTTP1: false });
    server.on('stream', (s) => s.respond({ ':status': 200 }));
    const sessions = new Set<ServerHttp2Session>();
    server.on('session', (s) => sessions.add(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          for (const s of sessions) s.destroy();
          server.close(() => r());
        }),
    );
    return { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port };
  }

  // This gateway's own trust checks turned the remote away: reported as such (counted
  // `unauthorized`), not as GATEWAY_UNREACHABLE, which sent operators to look at the network.
  it('refuses a remote whose certificate does not chain to the anchor, as untrusted', async () => {
    const err = await pool()
      .openTunnel(await impostor(pki.foreign('west')), ECHO)
      .catch((e) => e);
    expect(err.code).toBe('GATEWAY_UNTRUSTED');
    expect(err.message).toMatch(/^gateway 127\.0\.0\.1:\d+ is not trusted: .+/);
    expect(err.message).not.toMatch(/unreachable/);
  });

  it('refuses a remote whose certificate has expired, as untrusted', async () => {
    const now = Date.now();
    const expired = pki.leaf('west', {
      uriSans: [gatewayIdentity(TRUST_DOMAIN, 'west')],
      notBefore: new Date(now - 2 * 3_600_000),
      notAfter: new Date(now - 3_600_000),
    });
    const err = await pool()
      .openTunnel(await impostor(expired), ECHO)
      .catch((e) => e);
    expect(err.code).toBe('GATEWAY_UNTRUSTED');
    expect(err.message).toMatch(/is not trusted: certificate has expired/);
  });

  it('cuts the sessions, tunnels and all, to gateways of clusters no longer linked (an unlink)', async () => {
    const { ingress } = await ingressFor(await echoBackend());
    const p = pool();
    const tunnel = await p.openTunnel(ingress.address, ECHO);
    await roundTrip(tunnel, 'before the unlink');
    // Still linked: nothing happens.
    expect(p.cutUnlinked(new Set(['west']))).toBe(0);
    await roundTrip(tunnel, 'while west is linked');
    const closed = new Promise<void>((r) => tunnel.once('close', () => r()));
    tunnel.on('error', () => {});
    expect(p.cutUnlinked(new Set(['north']))).toBe(1);
    await within(closed, 5_000, 'the tunnel to west cut');
    await waitFor(() => ingress.connections() === 0, 'the session to west closed');
  });

  it('rejects (never hangs) when the remote ingress does not admit our cluster', async () => {
    const { ingress } = await ingressFor(await echoBackend());
    const p = pool(pki.gateway('north'));
    const err = await within(
      p.openTunnel(ingress.address, ECHO).catch((e) => e),
      5_000,
      'refusal',
    );
    // The ingress says why in its GOAWAY: the probe and the egress name the remote's reason, not
    // "connection closed during setup", which sent operators to look at the network.
    expect(err.code).toBe('GATEWAY_REFUSED');
    expect(err.message).toMatch(/refused this cluster's gateway: cluster north not linked/);
    await waitFor(() => ingress.connections() === 0, 'refused session to close');
  });

  it('GOAWAY mid-tunnel keeps the tunnel; new tunnels open a new session', async () => {
    const backend = await echoBackend();
    // A stand-in ingress whose sessions the test can send GOAWAY on.
    const west = await startStandInGateway(pki.gateway('west'), backend.port);
    cleanups.push(() => west.close());
    const p = pool();
    const old = await p.openTunnel(west.address, ECHO);
    await roundTrip(old, 'before');
    const [first] = west.sessions;
    first!.goaway(http2.constants.NGHTTP2_NO_ERROR, 1);
    // Sent at once, this CONNECT usually crosses the GOAWAY and is refused unprocessed: it is retried.
    const fresh = await within(p.openTunnel(west.address, ECHO), 5_000, 'tunnel after GOAWAY');
    expect(west.sessions).toHaveLength(2);
    await roundTrip(fresh, 'new session');
    await roundTrip(old, 'old tunnel still works');
  });

  it('drops a session whose peer stopped answering (no FIN) once a keepalive PING goes unanswered', async () => {
    const { ingress } = await ingressFor(await echoBackend());
    const relay = await relayTo(ingress.address.port);
    // 1 s, not less: the answer to a PING sent just before a stall of the event loop is read only
    // after the next tick of the keepalive timer, so a shorter period drops healthy sessions under load.
    const p = pool(undefined, { keepaliveMs: 1_000 });
    await roundTrip(await p.openTunnel(relay.address, ECHO), 'through the relay');
    expect(p.sessionCount()).toBe(1);
    relay.freeze();
    // Dropped at the second tick after the freeze at the latest (2 s), well within the deadline. The
    // pool may redial at once (new connections through the relay still pass), so a new session
    // can be there before the count is read at 0: a second dial also proves the first was dropped.
    await waitFor(
      () => p.sessionCount() === 0 || relay.accepted() > 1,
      'the silent session to be dropped',
      10_000,
    );
  });

  it('fails tunnels fast while the session to a hung gateway is being re-established', async () => {
    const { ingress } = await ingressFor(await echoBackend());
    const relay = await relayTo(ingress.address.port);
    // A tunnel that waited on a dial to the hung peer would blow every deadline below; no backoff,
    // so the first tunnel after the hang is the one that starts the reconnect.
    const p = pool(undefined, { connectTimeoutMs: 60_000, backoff: { baseMs: 0, maxMs: 0 } });
    await roundTrip(await p.openTunnel(relay.address, ECHO), 'before the hang');
    relay.hang();
    const failure = (): Promise<Error> =>
      p.openTunnel(relay.address, ECHO).then(
        () => new Error('a tunnel through a hung gateway'),
        (err: Error) => err,
      );
    const hung = await within(failure(), 10_000, 'the CONNECT on the hung session to fail');
    expect(hung).toMatchObject({
      code: 'GATEWAY_UNREACHABLE',
      message: expect.stringContaining('no PING answer'),
    });
    // Each later tunnel fails at once with why; the first one also starts the reconnect in the background.
    for (let i = 0; i < 3; i++) {
      const err = await within(failure(), 5_000, 'a tunnel while the session is re-established');
      expect(err).toMatchObject({
        code: 'GATEWAY_UNREACHABLE',
        message: expect.stringContaining('no PING answer'),
      });
    }
    await waitFor(() => relay.accepted() === 2, 'one reconnect dial');
    relay.release();
    // The hung session stays with its established tunnel; the new one takes the tunnels.
    await waitFor(
      () => p.readySessionCount() === 1,
      'the new session once the gateway answers again',
      10_000,
    );
    await roundTrip(await within(p.openTunnel(relay.address, ECHO), 5_000, 'a tunnel after'), 'after');
  });

  it("keeps a stalled gateway's established tunnels, failing only the CONNECT it swallowed", async () => {
    const { ingress } = await ingressFor(await echoBackend());
    const relay = await relayTo(ingress.address.port);
    const events = livenessEvents();
    const p = pool();
    const long = await p.openTunnel(relay.address, ECHO);
    await roundTrip(long, 'before the stall');
    // A healthy remote that stalls (GC, CPU starvation) past the verdict on the CONNECT below
    // (1 s + 2 s), then answers again. It answers again once the verdict is in, not on a timer of
    // its own: one at 3.3 s raced the verdict's two timers (measured 3.00-3.05 s after the freeze),
    // and a loaded machine delaying those by 300 ms thawed the remote first.
    relay.freeze();
    const swallowed = await tunnelError(
      p,
      relay.address,
      10_000,
      'the CONNECT swallowed by the stall to fail',
    );
    relay.release();
    expect(swallowed).toMatchObject({
      code: 'GATEWAY_UNREACHABLE',
      message: expect.stringContaining('stopped answering'),
    });
    // The tunnel that was established before the stall survived it.
    await roundTrip(long, 'after the stall');
    // A new session (the stalled one takes no new tunnels), and the next client gets it at once.
    await waitFor(() => p.readySessionCount() === 1, 'a new session to the recovered gateway', 10_000);
    const fresh = await within(p.openTunnel(relay.address, ECHO), 5_000, 'a tunnel after the stall');
    await roundTrip(fresh, 'new session');
    expect(events.filter((e) => e.event === 'hung')).toHaveLength(1);
    // The stalled session drains away with its last tunnel.
    await closeTunnel(long);
    await waitFor(() => p.sessionCount() === 1, 'the stalled session to drain away');
  });

  it('redials a hung gateway by itself, so the first client after its recovery gets a session', async () => {
    const { ingress } = await ingressFor(await echoBackend());
    const relay = await relayTo(ingress.address.port);
    // A connect timeout shorter than the hang: the redial in the background is re-armed after one.
    const p = pool(undefined, { connectTimeoutMs: 1_000, backoff: { baseMs: 100, maxMs: 100 } });
    await roundTrip(await p.openTunnel(relay.address, ECHO), 'before the hang');
    relay.hang();
    const first = await tunnelError(p, relay.address, 10_000, 'the CONNECT on the hung session to fail');
    expect(first).toMatchObject({
      code: 'GATEWAY_UNREACHABLE',
      message: expect.stringContaining('stopped answering'),
    });
    // A dial that runs into the connect timeout while the gateway still hangs (or more than one).
    await waitFor(() => relay.accepted() >= 3, 'a redial to time out and another to start', 10_000);
    relay.release();
    // No client meanwhile: the pool redials on its own.
    await waitFor(() => p.readySessionCount() === 1, 'a new session with no client asking', 10_000);
    const t = await within(p.openTunnel(relay.address, ECHO), 5_000, 'the first client after the recovery');
    await roundTrip(t, 'after');
  });

  it('still drops, at the keepalive, a session found hung whose peer stays silent, with its tunnels', async () => {
    const { ingress } = await ingressFor(await echoBackend());
    const relay = await relayTo(ingress.address.port);
    const p = pool(undefined, { keepaliveMs: 1_000 });
    const long = await p.openTunnel(relay.address, ECHO);
    await roundTrip(long, 'before the freeze');
    const closed = new Promise<void>((r) => long.once('close', () => r()));
    long.on('error', () => {});
    relay.freeze();
    const swallowed = await tunnelError(p, relay.address, 10_000, 'the swallowed CONNECT to fail');
    expect(swallowed).toMatchObject({ code: 'GATEWAY_UNREACHABLE' });
    await within(closed, 10_000, 'the established tunnel to be reset by the keepalive verdict');
    // Gone from the pool: only sessions that take tunnels are left (a redial may have made one).
    await waitFor(() => p.sessionCount() === p.readySessionCount(), 'the silent session to be dropped');
  });

  it('keeps the session of a gateway that answers PINGs while it dials a slow backend', async () => {
    const backend = await stoppedBackend();
    // The dial completes at a SYN retransmit (1 s or 3 s); past the ingress's default 5 s it would be 502.
    const { ingress } = await ingressFor(backend, 1000, { connectTimeoutMs: 10_000 });
    const events = livenessEvents();
    const p = pool(undefined, { suspectAfterMs: 100, pingTimeoutMs: 500 });
    const started = performance.now();
    const tunnel = p.openTunnel(ingress.address, ECHO);
    await waitFor(() => events.some((e) => e.event === 'cleared'), 'a PING answer to clear the suspicion');
    backend.resume();
    const t = await within(tunnel, 10_000, 'the tunnel through the slow dial');
    // The scenario, not a speed: the CONNECT outlived suspicion plus the PING deadline (600 ms).
    expect(performance.now() - started).toBeGreaterThan(600);
    await roundTrip(t, 'slow but alive');
    expect(events.filter((e) => e.event !== 'suspected' && e.event !== 'cleared')).toEqual([]);
    expect(p.sessionCount()).toBe(1);
    expect(ingress.sessions()).toBe(1);
  });

  it('keeps the session of a gateway that answers PINGs under a load of tunnels', async () => {
    const { ingress } = await ingressFor(await echoBackend());
    const events = livenessEvents();
    // Nearly every CONNECT under this load outlasts 1 ms: hundreds of suspicions, each cleared by
    // a PING answer or by frames arriving ahead of it.
    const p = pool(undefined, { suspectAfterMs: 1, pingTimeoutMs: 500 });
    const payload = 'x'.repeat(64 * 1024);
    for (let round = 0; round < 3; round++) {
      const tunnels = await within(
        Promise.all(Array.from({ length: 200 }, () => p.openTunnel(ingress.address, ECHO))),
        20_000,
        `round ${round}'s tunnels`,
      );
      const answers = await within(
        Promise.all(tunnels.map((t) => echoed(t, payload))),
        20_000,
        `round ${round}'s echoes`,
      );
      expect(answers.every((a) => a === payload)).toBe(true);
    }
    expect(events.some((e) => e.event === 'suspected')).toBe(true);
    expect(events.filter((e) => e.event === 'hung')).toEqual([]);
    expect(p.sessionCount()).toBe(1);
    expect(ingress.sessions()).toBe(1);
  });

  it('moves to a new session once a session has used up its stream IDs', async () => {
    const { ingress } = await ingressFor(await echoBackend());
    const p = pool();
    const first = (await p.openTunnel(ingress.address, ECHO)) as ClientHttp2Stream;
    // 2^31 − 1 is the last client stream ID (RFC 9113 §5.1.1): one more tunnel fits, then Node
    // fails every request() on that session with ERR_HTTP2_OUT_OF_STREAMS.
    // setNextStreamID (Node ≥ 18.8) is missing from @types/node.
    (first.session as unknown as { setNextStreamID(id: number): void }).setNextStreamID(2 ** 31 - 1);
    await closeTunnel(first);
    const last = await p.openTunnel(ingress.address, ECHO);
    await roundTrip(last, 'the last stream ID');
    const fresh = await within(p.openTunnel(ingress.address, ECHO), 5_000, 'a tunnel after the IDs ran out');
    await roundTrip(fresh, 'on a new session');
    // The spent session took no more streams, and closes once its last tunnel ends.
    expect(ingress.sessions()).toBe(2);
    await closeTunnel(last);
    await waitFor(() => ingress.sessions() === 1 && p.sessionCount() === 1, 'the spent session to close');
    await roundTrip(fresh, 'still on the new session');
  });

  it('close() also ends a session still being set up, so none outlives the pool', async () => {
    const { ingress } = await ingressFor(await echoBackend());
    const relay = await relayTo(ingress.address.port, true);
    const p = pool(undefined, { connectTimeoutMs: 30_000 });
    const answer = new Promise<string>((resolve) =>
      p.tunnel(relay.address, ECHO, (err, stream) => {
        stream?.destroy();
        resolve(err?.message ?? 'a tunnel');
      }),
    );
    await waitFor(() => relay.accepted() === 1, 'the dial to reach the relay');
    await within(p.close(), 5_000, 'pool.close()');
    expect(await within(answer, 5_000, 'the waiting tunnel')).toBe('session pool closed');
    // Had the handshake been left running, it would complete now and keep its session alive.
    relay.release();
    await waitFor(() => relay.open() === 0, 'the half-made session to be closed', 10_000);
    expect(ingress.sessions()).toBe(0);
  });

  it('probes over the tunnel path: alive on 200, not alive on 503 or when unreachable', async () => {
    const { ingress, ready } = await ingressFor(await echoBackend());
    const p = pool();
    const alive = await p.probe(ingress.address, PROBE_PATH, 10_000);
    // The peer says what it runs, for `isthmus gateways` on this side.
    expect(alive).toMatchObject({ alive: true, version: VERSION });
    expect(alive.latencyMs).toBeGreaterThan(0);
    ready.value = false;
    expect(await p.probe(ingress.address, PROBE_PATH, 10_000)).toMatchObject({
      alive: false,
      error: 'status 503',
    });
    expect(await p.probe({ host: '127.0.0.1', port: await deadPort() }, PROBE_PATH, 10_000)).toMatchObject({
      alive: false,
    });
    // A peer that does not trust us is not alive either, even though its port is open.
    const stranger = pool(pki.gateway('north'));
    ready.value = true;
    expect(await stranger.probe(ingress.address, PROBE_PATH, 10_000)).toMatchObject({ alive: false });
  });

  it("a probe the pool's close() ends is this gateway's failure, not the remote's", async () => {
    const { ingress } = await ingressFor(await echoBackend());
    const p = pool(undefined, { connectTimeoutMs: 30_000 });
    // One probe waiting on a session still being dialled, one on a session whose peer went silent.
    const dialling = await relayTo(ingress.address.port, true);
    const silent = await relayTo(ingress.address.port);
    cleanups.push(
      () => dialling.close(),
      () => silent.close(),
    );
    expect(await p.probe(silent.address, PROBE_PATH, 10_000)).toMatchObject({ alive: true });
    silent.freeze();
    const probes = [
      p.probe(dialling.address, PROBE_PATH, 30_000),
      p.probe(silent.address, PROBE_PATH, 30_000),
    ];
    await waitFor(() => dialling.accepted() === 1, 'the dial to reach the relay');
    await within(p.close(), 5_000, 'pool.close()');
    for (const answer of await within(Promise.all(probes), 5_000, 'the probes in flight')) {
      expect(answer).toMatchObject({
        alive: false,
        failure: 'local',
        error: expect.stringContaining('stopping'),
      });
    }
  });

  it("is not alive, nor opens a tunnel, for a cluster whose gateway identity the address's gateway lacks", async () => {
    const { ingress } = await ingressFor(await echoBackend()); // west's gateway
    const p = pool();
    expect(await p.probe(ingress.address, PROBE_PATH, 10_000, 'west')).toMatchObject({ alive: true });
    expect(await p.probe(ingress.address, PROBE_PATH, 10_000, 'north')).toMatchObject({
      alive: false,
      error: expect.stringContaining('holds the gateway identity of cluster west, not of cluster north'),
    });
    await expect(p.openTunnel(ingress.address, ECHO, 'north')).rejects.toMatchObject({
      code: 'GATEWAY_IDENTITY_MISMATCH',
    });
    const tunnel = await p.openTunnel(ingress.address, ECHO, 'west');
    tunnel.destroy();
  });
});

describe('remote state', () => {
  it('forgets addresses that failed long ago, so probes of ever new addresses cannot grow it without bound', async () => {
    const p = pool(undefined, { backoff: { baseMs: 10, maxMs: 10 } });
    const port = await deadPort();
    // Each probe names another address, as any caller of the admin port's /probe may.
    for (let i = 1; i <= 40; i++) {
      expect(await p.probe({ host: `127.0.0.${i}`, port }, PROBE_PATH, 10_000)).toMatchObject({
        alive: false,
      });
    }
    // Long after every backoff ended, one more address: the failed ones are forgotten, this one kept.
    const now = Date.now();
    const clock = vi.spyOn(Date, 'now').mockReturnValue(now + 3_600_000);
    cleanups.push(() => clock.mockRestore());
    expect(await p.probe({ host: '127.0.0.41', port }, PROBE_PATH, 10_000)).toMatchObject({ alive: false });
    expect(p.remoteCount()).toBe(1);
  });

  it('keeps one remote per address whatever its spelling (host-name case, IPv6 forms), as the admin /probe admits each', async () => {
    const p = pool(undefined, { backoff: { baseMs: 10, maxMs: 10 } });
    const port = await deadPort();
    for (const host of ['::1', '0::1', '0:0::1', '0000:0000::0001', '0:0:0:0:0:0:0:1']) {
      expect(await p.probe({ host, port }, PROBE_PATH, 10_000)).toMatchObject({ alive: false });
    }
    expect(p.remoteCount()).toBe(1);
    for (const host of ['gw.example.invalid', 'GW.example.invalid', 'Gw.Example.Invalid']) {
      expect(await p.probe({ host, port }, PROBE_PATH, 10_000)).toMatchObject({ alive: false });
    }
    expect(p.remoteCount()).toBe(2);
  });

  it('keeps the backoff of a remote that failed within the backoff period', async () => {
    const p = pool(undefined, { backoff: { baseMs: 60_000, maxMs: 60_000 } });
    const port = await deadPort();
    const first = await p.openTunnel({ host: '127.0.0.1', port }, ECHO).catch((e) => e);
    expect(await p.probe({ host: '127.0.0.2', port }, PROBE_PATH, 10_000)).toMatchObject({ alive: false });
    // Still failing fast with the same error: the new address did not sweep the one in backoff.
    expect(await p.openTunnel({ host: '127.0.0.1', port }, ECHO).catch((e) => e)).toBe(first);
    expect(p.remoteCount()).toBe(2);
  });
});

describe('certificate rotation', () => {
  it('setSecureContext: a long-lived tunnel survives and a new session presents the new certificate', async () => {
    const { ingress, peerCerts } = await ingressFor(await echoBackend(), 1);
    const before = pki.gateway('east');
    const p = pool(before);
    const longLived = await p.openTunnel(ingress.address, ECHO);
    await roundTrip(longLived, 'before rotation');
    const rotated = pki.freshGateway('east');
    p.setSecureContext(rotated);
    // One stream per session: the next tunnel needs a new session, which must use the new cert.
    const next = await p.openTunnel(ingress.address, ECHO);
    await roundTrip(next, 'after rotation');
    await roundTrip(longLived, 'long-lived after rotation');
    const serial = (pem: string) => new X509Certificate(pem).serialNumber;
    expect(peerCerts.map((c) => c?.serialNumber)).toEqual([serial(before.cert), serial(rotated.cert)]);
  });

  it('Ingress.setSecureContext: established tunnels survive, new handshakes get the new certificate', async () => {
    const { ingress } = await ingressFor(await echoBackend());
    const p = pool();
    const longLived = await p.openTunnel(ingress.address, ECHO);
    const rotated = pki.freshGateway('west');
    ingress.setSecureContext(rotated);
    await roundTrip(longLived, 'survives');
    const tls = await import('node:tls');
    const serial = await new Promise<string>((resolve, reject) => {
      const s = tls.connect({
        host: '127.0.0.1',
        port: ingress.address.port,
        ...pki.gateway('east'),
        ALPNProtocols: ['h2'],
        checkServerIdentity: () => undefined,
      });
      s.once('secureConnect', () => {
        resolve(s.getPeerX509Certificate()!.serialNumber);
        s.destroy();
      });
      s.once('error', reject);
    });
    expect(serial).toBe(new X509Certificate(rotated.cert).serialNumber);
  });
});
