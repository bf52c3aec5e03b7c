/**
 * Egress listeners follow the mirrors live (open, update in place, close) and fail fast: a client
 * whose tunnel cannot be opened is reset at once instead of hanging.
 */
import { execFileSync } from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isIsthmusError } from '../errors.js';
import { CHANNELS, type ConnectErrorMessage, type TunnelCloseMessage } from './diagnostics.js';
import { EgressListeners, type EgressRoute } from './egress.js';
import { createGatewayMetrics } from './metrics.js';
import { SessionPool } from './session-pool.js';
import { startTcpBackend, type TcpBackend } from './test-support/backends.js';
import { CLUSTER_DOMAIN, type Harness, startHarness } from './test-support/harness.js';
import { makePki, type TestPki } from './test-support/pki.js';
import { startRelay } from './test-support/relay.js';
import { freePort, waitFor, within } from './test-support/wait.js';
import { LISTEN_BACKLOG } from './tunnel-settings.js';

let pki: TestPki;
const cleanups: (() => Promise<void> | void)[] = [];
beforeAll(() => {
  pki = makePki();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A backend that greets each connection with `name` and then echoes. */
async function named(name: string): Promise<TcpBackend> {
  const b = await startTcpBackend((s) => {
    s.write(`${name}\n`);
    s.pipe(s);
  });
  cleanups.push(() => b.close());
  return b;
}

/** A tunnel pair whose pool waits a generous 10 s for a session (real TLS on a loaded machine). */
async function harness(): Promise<Harness> {
  const h = await startHarness(pki, { pool: { connectTimeoutMs: 10_000 } });
  cleanups.push(() => h.close());
  return h;
}

/**
 * Connects and reads the greeting line, or reports how the connection ended. Rejects when neither
 * happens within `timeoutMs`: a client left hanging.
 */
function greet(
  port: number,
  timeoutMs = 10_000,
): Promise<{ greeting: string; socket: net.Socket } | { failed: string }> {
  const answer = new Promise<{ greeting: string; socket: net.Socket } | { failed: string }>((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    cleanups.push(() => {
      socket.destroy();
    });
    let buf = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => {
      buf += c;
      if (buf.includes('\n')) resolve({ greeting: buf.trim(), socket });
    });
    socket.once('error', (e: NodeJS.ErrnoException) => resolve({ failed: e.code ?? e.message }));
    socket.once('close', () => resolve({ failed: 'closed' }));
  });
  return within(answer, timeoutMs, `a greeting or the end of a connection to port ${port}`);
}

/** The egress's connect-error messages, from now until the test's end. */
function egressErrors(): ConnectErrorMessage[] {
  const errors: ConnectErrorMessage[] = [];
  const onError = (m: unknown): void => {
    if ((m as ConnectErrorMessage).direction === 'egress') errors.push(m as ConnectErrorMessage);
  };
  diagnosticsChannel.subscribe(CHANNELS.connectError, onError);
  cleanups.push(() => {
    diagnosticsChannel.unsubscribe(CHANNELS.connectError, onError);
  });
  return errors;
}

const route = (port: number, h: Harness, name: string, extra: Partial<EgressRoute> = {}): EgressRoute => ({
  port,
  remote: h.ingress.address,
  authority: `${name}.test.svc.${CLUSTER_DOMAIN}:7000`,
  mirror: `test/${name}-west`,
  cluster: 'west',
  ...extra,
});

/** The accept-queue limit the kernel gives a listener on 127.0.0.1:port (ss's Send-Q for LISTEN). */
function listenBacklog(port: number): number {
  const out = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' });
  const line = out.split('\n').find((l) => l.includes(`127.0.0.1:${port}`));
  if (!line) throw new Error(`no listener on 127.0.0.1:${port} in:\n${out}`);
  return Number(line.trim().split(/\s+/)[2]);
}

describe('EgressListeners', () => {
  it('ingress and egress listen with a backlog that holds a burst of connections', async () => {
    // Node's default (511) overflows on a burst of 1,000 connects: the kernel drops the SYNs and
    // the clients wait for a retransmit (1 s, 3 s, 7 s), long enough under load to trip a
    // connect timeout.
    const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
    const expected = Math.min(LISTEN_BACKLOG, somaxconn);
    const h = await harness();
    const port = await h.route('test', 'a', 7000);
    expect(listenBacklog(port)).toBe(expected);
    expect(listenBacklog(h.ingress.address.port)).toBe(expected);
  });

  it('opens, updates in place and closes listeners as the routes change', async () => {
    const h = await harness();
    h.exportService('test', 'a', 7000, [(await named('a')).port]);
    h.exportService('test', 'b', 7000, [(await named('b')).port]);
    const [p1, p2] = [await freePort(), await freePort()];

    await h.egress.apply([route(p1, h, 'a'), route(p2, h, 'b')]);
    expect(h.egress.listening()).toEqual([p1, p2].sort((x, y) => x - y));
    const kept = await greet(p1);
    expect(kept).toMatchObject({ greeting: 'a' });
    expect(await greet(p2)).toMatchObject({ greeting: 'b' });

    // p1 now leads to service b: new connections follow, the open one stays where it was.
    await h.egress.apply([route(p1, h, 'b')]);
    expect(h.egress.listening()).toEqual([p1]);
    expect(await greet(p1)).toMatchObject({ greeting: 'b' });
    if (!('socket' in kept)) throw new Error('no socket');
    const echoed = new Promise<string>((r) => kept.socket.once('data', (c: string) => r(c)));
    kept.socket.write('still a\n');
    expect(await within(echoed, 5_000, 'old connection')).toBe('still a\n');
    // p2 was removed: nothing listens there any more.
    expect(await greet(p2)).toMatchObject({ failed: 'ECONNREFUSED' });

    await h.egress.apply([]);
    expect(h.egress.listening()).toEqual([]);
    expect(await greet(p1)).toMatchObject({ failed: 'ECONNREFUSED' });
  });

  it('follows a mirror whose remote gateway changed', async () => {
    const h = await harness();
    const other = await startHarness(pki);
    cleanups.push(() => other.close());
    h.exportService('test', 'svc', 7000, [(await named('first')).port]);
    other.exportService('test', 'svc', 7000, [(await named('second')).port]);
    const port = await freePort();
    await h.egress.apply([route(port, h, 'svc')]);
    expect(await greet(port)).toMatchObject({ greeting: 'first' });
    await h.egress.apply([route(port, h, 'svc', { remote: other.ingress.address })]);
    expect(await greet(port)).toMatchObject({ greeting: 'second' });
  });

  it('leaves no tunnel behind when the client hangs up before its tunnel is open', async () => {
    const h = await harness();
    h.exportService('test', 'svc', 7000, [(await named('svc')).port]);
    const port = await freePort();
    await h.egress.apply([route(port, h, 'svc')]);
    for (const hangUp of ['end', 'destroy'] as const) {
      const socket = net.connect({ port, host: '127.0.0.1' });
      socket.on('error', () => {});
      await new Promise((resolve) => socket.once('connect', resolve));
      socket[hangUp]();
      await waitFor(
        () => h.egress.connections() === 0 && h.egress.openTunnels() === 0,
        `egress connection and tunnel to close after ${hangUp}()`,
      );
    }
  });

  it.each([
    ['only when asked to (the access log)', true],
    ['not by default: no getpeername(2) per connection', false],
  ])('names the client in the tunnel-close message %s', async (_, clientAddresses) => {
    const h = await startHarness(pki, { clientAddresses });
    cleanups.push(() => h.close());
    const closed: TunnelCloseMessage[] = [];
    const onClose = (m: unknown): void => {
      if ((m as TunnelCloseMessage).direction === 'egress') closed.push(m as TunnelCloseMessage);
    };
    diagnosticsChannel.subscribe(CHANNELS.tunnelClose, onClose);
    cleanups.push(() => {
      diagnosticsChannel.unsubscribe(CHANNELS.tunnelClose, onClose);
    });
    h.exportService('test', 'svc', 7000, [(await named('svc')).port]);
    const port = await freePort();
    await h.egress.apply([route(port, h, 'svc')]);
    const first = await greet(port);
    if (!('socket' in first)) throw new Error(`no tunnel: ${first.failed}`);
    const client = `127.0.0.1:${first.socket.localPort}`;
    first.socket.end();
    await waitFor(() => closed.length === 1, 'the egress tunnel to close');
    expect(closed[0]).toMatchObject({ authority: `svc.test.svc.${CLUSTER_DOMAIN}:7000`, reset: false });
    expect(closed[0]!.endpoint).toBe(clientAddresses ? client : undefined);
  });

  it("opens no tunnel when the mirror's address leads to another cluster's gateway", async () => {
    // The harness's ingress holds west's identity; this mirror says it comes from north.
    const h = await harness();
    const backend = await named('svc');
    h.exportService('test', 'svc', 7000, [backend.port]);
    const errors = egressErrors();
    const port = await freePort();
    await h.egress.apply([route(port, h, 'svc', { cluster: 'north' })]);
    expect(await greet(port)).toMatchObject({ failed: expect.stringMatching(/ECONNRESET|closed/) });
    expect(errors).toEqual([
      {
        direction: 'egress',
        peerCluster: 'north',
        authority: `svc.test.svc.${CLUSTER_DOMAIN}:7000`,
        status: 0,
        reason: expect.stringContaining('holds the gateway identity of cluster west, not of cluster north'),
        code: 'GATEWAY_IDENTITY_MISMATCH',
      },
    ]);
    expect(backend.accepted).toBe(0); // the CONNECT was never sent
    // The same address for west's mirror is fine: the session stays usable.
    await h.egress.apply([route(port, h, 'svc')]);
    expect(await greet(port)).toMatchObject({ greeting: 'svc' });
  });

  it('resets the client at once when the remote gateway is unreachable', async () => {
    // A connect timeout far beyond greet's deadline: the reset comes from the refused dial itself,
    // not from a timeout, and the client is never left hanging.
    const h = await startHarness(pki, { pool: { connectTimeoutMs: 60_000 } });
    cleanups.push(() => h.close());
    const errors = egressErrors();
    const port = await freePort();
    await h.egress.apply([route(port, h, 'svc', { remote: { host: '127.0.0.1', port: await freePort() } })]);
    expect(await greet(port)).toMatchObject({ failed: 'ECONNRESET' });
    expect(errors).toEqual([
      expect.objectContaining({
        peerCluster: 'west',
        status: 0,
        code: 'GATEWAY_UNREACHABLE',
        reason: expect.stringContaining('ECONNREFUSED'),
      }),
    ]);
    await waitFor(() => h.egress.connections() === 0, 'egress connection to close');
  });

  it('resets the client when the remote gateway accepts TCP and never answers, and counts a timeout', async () => {
    const silent = new Set<net.Socket>();
    const blackHole = net.createServer((socket) => {
      silent.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', r));
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          for (const socket of silent) socket.destroy();
          blackHole.close(() => r());
        }),
    );
    const metrics = createGatewayMetrics({ processMetrics: false });
    cleanups.push(() => metrics.close());
    const east = pki.gateway('east');
    const pool = new SessionPool({ secureContext: () => east, connectTimeoutMs: 300 });
    cleanups.push(() => pool.close());
    const egress = new EgressListeners({ host: '127.0.0.1', pool });
    cleanups.push(async () => {
      await egress.close();
    });
    const port = await freePort();
    const remote = { host: '127.0.0.1', port: (blackHole.address() as net.AddressInfo).port };
    await egress.apply([
      {
        port,
        remote,
        authority: `svc.test.svc.${CLUSTER_DOMAIN}:7000`,
        mirror: 'test/svc-west',
        cluster: 'west',
      },
    ]);
    expect(await greet(port)).toMatchObject({ failed: 'ECONNRESET' });
    expect(await metrics.render()).toContain(
      'isthmus_tunnel_connections_total{direction="egress",peer_cluster="west",result="timeout"} 1',
    );
  });

  it('resets a client within seconds when the remote gateway hangs after its session is up', async () => {
    // The pool's defaults (keepalive 10 s, CONNECT answer 15 s), so what is measured is what runs:
    // without hang detection the client waits until one of those, past greet's 10 s deadline.
    const h = await harness();
    h.exportService('test', 'svc', 7000, [(await named('svc')).port]);
    const relay = await startRelay(h.ingress.address.port);
    cleanups.push(() => relay.close());
    const port = await freePort();
    await h.egress.apply([route(port, h, 'svc', { remote: relay.address })]);
    const before = await greet(port);
    expect(before).toMatchObject({ greeting: 'svc' });
    const errors = egressErrors();
    relay.hang();
    // A CONNECT unanswered for 1 s, then a PING unanswered for 2 s: reset at ~3 s.
    expect(await greet(port, 10_000)).toMatchObject({ failed: 'ECONNRESET' });
    expect(errors).toEqual([
      expect.objectContaining({
        peerCluster: 'west',
        code: 'GATEWAY_UNREACHABLE',
        reason: expect.stringContaining('no PING answer'),
      }),
    ]);
    // The hung session takes no new tunnels; the client already connected is not reset for the
    // CONNECT (a healthy remote may stall this long): the keepalive (10-20 s) decides about it.
    expect(h.pool.readySessionCount()).toBe(0);
    expect((before as { socket: net.Socket }).socket.destroyed).toBe(false);
  });

  it('resets the client at once when the remote refuses the tunnel', async () => {
    const h = await harness();
    const errors = egressErrors();
    const port = await freePort();
    await h.egress.apply([route(port, h, 'not-exported')]);
    // Reset on the remote's 403, not at the pool's response timeout (15 s, past greet's deadline).
    expect(await greet(port)).toMatchObject({ failed: 'ECONNRESET' });
    expect(errors).toEqual([
      expect.objectContaining({
        authority: `not-exported.test.svc.${CLUSTER_DOMAIN}:7000`,
        status: 403,
        code: 'TUNNEL_REFUSED',
      }),
    ]);
    await waitFor(() => h.egress.connections() === 0, 'egress connection to close');
    expect(h.ingress.openTunnels()).toBe(0);
  });

  it('reports ports it cannot listen on and still opens the others', async () => {
    const h = await harness();
    h.exportService('test', 'a', 7000, [(await named('a')).port]);
    const squatter = net.createServer();
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => squatter.close(() => r())));
    const taken = (squatter.address() as net.AddressInfo).port;
    const free = await freePort();
    const err = await h.egress.apply([route(taken, h, 'a'), route(free, h, 'a')]).catch((e) => e);
    expect(isIsthmusError(err, 'EGRESS_LISTEN_FAILED')).toBe(true);
    expect(err.message).toContain(String(taken));
    expect(h.egress.listening()).toEqual([free]);
    expect(await greet(free)).toMatchObject({ greeting: 'a' });
  });
});
