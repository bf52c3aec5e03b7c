/**
 * The pool and a gateway with several addresses (a NodePort gateway linked by its nodes' addresses,
 * a LoadBalancer with several ingress IPs): the mirror names one, and when nothing answers there the
 * pool reaches the gateway at another address the same Link names (gateway-failover.ts). Addresses
 * are ingresses on 127.0.0.x sharing one port; an address where nothing listens is a drained node.
 * Pools given a zero backoff see the address asked about as soon as it answers again: what a
 * backoff defers is tested apart (gateway-failover.test.ts `isDeferred`, and below with a long one).
 */

import type { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { isIsthmusError } from '../errors.js';
import type { Link } from '../kube/types.js';
import type { SessionDialMessage } from './diagnostics.js';
import { gatewayAddressesOf } from './gateway-failover.js';
import type { Ingress } from './ingress.js';
import { type GatewayAddress, SessionPool, type SessionPoolOptions } from './session-pool.js';
import type { TcpBackend } from './test-support/backends.js';
import { linkTo, sessionDials, tunnelThrough as viaTunnel } from './test-support/gateway-links.js';
import { CLUSTER_DOMAIN, startEchoIngress } from './test-support/harness.js';
import { dataPathLifecycle } from './test-support/lifecycle.js';
import { makePki, type TestPki } from './test-support/pki.js';
import { waitFor, within } from './test-support/wait.js';

const ECHO = `echo.test.svc.${CLUSTER_DOMAIN}:7000`;

let pki: TestPki;
const { cleanups, echoBackend } = dataPathLifecycle((made) => {
  pki = made;
});

/**
 * West's ingress (or `cluster`'s) on `host`:`port` (0: any) in front of test/echo, with a certificate
 * of `from` (another trust anchor: another install's gateway).
 */
async function ingressAt(
  backend: TcpBackend,
  host: string,
  port = 0,
  cluster = 'west',
  from: TestPki = pki,
): Promise<Ingress> {
  const { ingress } = await startEchoIngress(from, backend.port, {
    extra: { host, port, secureContext: from.gateway(cluster) },
  });
  cleanups.push(async () => {
    await ingress.close();
  });
  return ingress;
}

/** East's pool, dialling the addresses `links()` name for a gateway, as the gateway does. */
function eastPool(links: () => Link[], opts: Partial<SessionPoolOptions> = {}): SessionPool {
  const p = new SessionPool({
    secureContext: () => pki.gateway('east'),
    connectTimeoutMs: 10_000,
    gatewayAddresses: (gateway, cluster) => gatewayAddressesOf(links(), gateway, cluster),
    ...opts,
  });
  cleanups.push(() => p.close());
  return p;
}

/** Every session dial the pool reports (its address, and whether it got a session) from now on. */
const dials = (): SessionDialMessage[] => sessionDials(cleanups);

/** A tunnel to west's echo through `at`, round-tripped: 'ok', or the error's code and message. */
const tunnelThrough = (pool: SessionPool, at: GatewayAddress): Promise<string> =>
  viaTunnel(pool, at, ECHO, (stream) => roundTrip(stream, 'ping'));

/** No backoff: an address is dialled at the next walk after a failure. */
const NO_BACKOFF: Partial<SessionPoolOptions> = { backoff: { baseMs: 0, maxMs: 0 } };

async function roundTrip(stream: Duplex, text: string): Promise<void> {
  const got = new Promise<string>((r) => stream.once('data', (c: Buffer) => r(c.toString())));
  stream.write(text);
  expect(await within(got, 5_000, `echo of ${text}`)).toBe(text);
}

const node = (host: string, port: number): GatewayAddress => ({ host, port });

describe('a gateway the Link names at several addresses', () => {
  it('a tunnel to the first node, drained, reaches the gateway at the second node', async () => {
    const backend = await echoBackend();
    const second = await ingressAt(backend, '127.0.0.3');
    const port = second.address.port;
    const pool = eastPool(() => [linkTo(['127.0.0.2', '127.0.0.3'], port)]);
    const seen = dials();
    // 127.0.0.2:port: the drained node, nothing listens there.
    const tunnel = await within(pool.openTunnel(node('127.0.0.2', port), ECHO, 'west'), 10_000, 'tunnel');
    await roundTrip(tunnel, 'via the second node');
    tunnel.destroy();
    expect(seen.map((d) => [d.gateway, d.ok])).toEqual([
      [`127.0.0.2:${port}`, false],
      [`127.0.0.3:${port}`, true],
    ]);
  });

  it("a probe of the drained node says alive and which address answered (the controller's /probe)", async () => {
    const backend = await echoBackend();
    const second = await ingressAt(backend, '127.0.0.3');
    const port = second.address.port;
    const pool = eastPool(() => [linkTo(['127.0.0.2', '127.0.0.3'], port)]);
    const result = await pool.probe(node('127.0.0.2', port), '/ready', 5_000, 'west');
    expect({ alive: result.alive, via: result.via, error: result.error }).toEqual({
      alive: true,
      via: `127.0.0.3:${port}`,
      error: undefined,
    });
  });

  it('goes back to the address asked about as soon as it answers again (nothing sticky)', async () => {
    const backend = await echoBackend();
    const first = await ingressAt(backend, '127.0.0.2');
    const port = first.address.port;
    await ingressAt(backend, '127.0.0.3', port);
    const pool = eastPool(() => [linkTo(['127.0.0.2', '127.0.0.3'], port)], NO_BACKOFF);
    const probe = async (): Promise<string | undefined> => {
      const r = await pool.probe(node('127.0.0.2', port), '/ready', 5_000, 'west');
      expect(r.error).toBeUndefined();
      return r.via;
    };
    expect(await probe()).toBeUndefined(); // the node asked about answers
    await first.close(); // drained: GOAWAY, then nothing listens
    await waitFor(() => pool.readySessionCount() === 0, 'the GOAWAY');
    expect(await probe()).toBe(`127.0.0.3:${port}`);
    expect(await tunnelThrough(pool, node('127.0.0.2', port))).toBe('ok');
    // The first node is back (a new pod): the next tunnel and probe are its again.
    await ingressAt(backend, '127.0.0.2', port);
    const seen = dials();
    expect(await tunnelThrough(pool, node('127.0.0.2', port))).toBe('ok');
    expect(seen.map((d) => [d.gateway, d.ok])).toEqual([[`127.0.0.2:${port}`, true]]);
    expect(await probe()).toBeUndefined();
  });

  it('while the address asked about is in its backoff, tunnels go to the next one without dialling it again', async () => {
    const backend = await echoBackend();
    const second = await ingressAt(backend, '127.0.0.3');
    const port = second.address.port;
    // A backoff no test outlives: the drained node is dialled once, by the first tunnel.
    const pool = eastPool(() => [linkTo(['127.0.0.2', '127.0.0.3'], port)], {
      backoff: { baseMs: 600_000, maxMs: 600_000 },
    });
    const seen = dials();
    for (let i = 0; i < 3; i++) expect(await tunnelThrough(pool, node('127.0.0.2', port))).toBe('ok');
    expect(seen.map((d) => [d.gateway, d.ok])).toEqual([
      [`127.0.0.2:${port}`, false],
      [`127.0.0.3:${port}`, true],
    ]);
  });

  it("two gateway replicas' probes say the same via once the address asked about answers again", async () => {
    const backend = await echoBackend();
    const second = await ingressAt(backend, '127.0.0.3');
    const port = second.address.port;
    const links = (): Link[] => [linkTo(['127.0.0.2', '127.0.0.3'], port)];
    const viaOf = async (pool: SessionPool): Promise<string | undefined> => {
      const r = await pool.probe(node('127.0.0.2', port), '/ready', 5_000, 'west');
      expect(r.error).toBeUndefined();
      return r.via;
    };
    // Replica 1 probes while the first node is drained: it answers at the second.
    const replica1 = eastPool(links);
    expect(await viaOf(replica1)).toBe(`127.0.0.3:${port}`);
    // The first node is back; replica 2 starts (a rollout). The controller's probes go to either.
    await ingressAt(backend, '127.0.0.2', port);
    const replica2 = eastPool(links);
    expect([await viaOf(replica1), await viaOf(replica2), await viaOf(replica1)]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('without a Link naming the address asked about, dials only it', async () => {
    const backend = await echoBackend();
    const second = await ingressAt(backend, '127.0.0.3');
    const port = second.address.port;
    // The Link names the live node only: the mirror's address is no licence for the Link's others.
    const pool = eastPool(() => [linkTo(['127.0.0.3'], port)]);
    const seen = dials();
    const err = await pool.openTunnel(node('127.0.0.2', port), ECHO, 'west').catch((e: unknown) => e);
    expect(isIsthmusError(err, 'GATEWAY_UNREACHABLE')).toBe(true);
    const probed = await pool.probe(node('127.0.0.2', port), '/ready', 5_000, 'west');
    expect(probed.alive).toBe(false);
    expect(new Set(seen.map((d) => d.gateway))).toEqual(new Set([`127.0.0.2:${port}`]));
  });

  it("walks past another cluster's gateway at a stale address the Link names to the gateway at the next", async () => {
    const backend = await echoBackend();
    // The second node answers with north's gateway identity (a stale address in the Link).
    const wrong = await ingressAt(backend, '127.0.0.3', 0, 'north');
    const port = wrong.address.port;
    await ingressAt(backend, '127.0.0.4', port);
    const pool = eastPool(() => [linkTo(['127.0.0.2', '127.0.0.3', '127.0.0.4'], port)]);
    expect(await tunnelThrough(pool, node('127.0.0.2', port))).toBe('ok');
    const probed = await pool.probe(node('127.0.0.2', port), '/ready', 5_000, 'west');
    expect({ alive: probed.alive, via: probed.via }).toEqual({ alive: true, via: `127.0.0.4:${port}` });
  });

  it.each<[string, string, (p: TestPki) => TestPki]>([
    ["another cluster's gateway", 'holds the gateway identity of cluster north', (p) => p],
    ['a gateway of another trust anchor', 'is not trusted', () => makePki()],
  ])(
    'the address asked about is dialled again once it answers after a blip, though a stale address has %s',
    async (_name, staleFailure, anchorOf) => {
      const backend = await echoBackend();
      const nodeA = await ingressAt(backend, '127.0.0.2');
      const port = nodeA.address.port;
      const stalePki = anchorOf(pki);
      await ingressAt(backend, '127.0.0.3', port, stalePki === pki ? 'north' : 'west', stalePki);
      const pool = eastPool(() => [linkTo(['127.0.0.2', '127.0.0.3'], port)], NO_BACKOFF);
      const a = node('127.0.0.2', port);
      expect(await tunnelThrough(pool, a)).toBe('ok');
      await nodeA.close(); // a moment of nothing answering at the mirror's address
      await waitFor(() => pool.readySessionCount() === 0, 'the GOAWAY of node A');
      const during = await tunnelThrough(pool, a);
      // The asked address's failure first, with its code; then what the stale one had.
      expect(during).toMatch(
        new RegExp(`^GATEWAY_UNREACHABLE: gateway 127\\.0\\.0\\.2:${port} unreachable: `),
      );
      expect(during).toContain(`; nor did the other addresses the Link names: `);
      expect(during).toContain(staleFailure);
      await ingressAt(backend, '127.0.0.2', port); // node A is back
      const seen = dials();
      expect([await tunnelThrough(pool, a), await tunnelThrough(pool, a)]).toEqual(['ok', 'ok']);
      expect(seen.map((d) => [d.gateway, d.ok])).toEqual([[`127.0.0.2:${port}`, true]]);
      const probed = await pool.probe(a, '/ready', 5_000, 'west');
      expect({ alive: probed.alive, via: probed.via }).toEqual({ alive: true, via: undefined });
    },
  );

  it("does not try another address when the one asked about holds another cluster's identity", async () => {
    const backend = await echoBackend();
    const wrong = await ingressAt(backend, '127.0.0.2', 0, 'north');
    const port = wrong.address.port;
    await ingressAt(backend, '127.0.0.3', port);
    const pool = eastPool(() => [linkTo(['127.0.0.2', '127.0.0.3'], port)]);
    const seen = dials();
    const err = await pool.openTunnel(node('127.0.0.2', port), ECHO, 'west').catch((e: unknown) => e);
    expect(isIsthmusError(err, 'GATEWAY_IDENTITY_MISMATCH')).toBe(true);
    expect(seen.map((d) => d.gateway)).toEqual([`127.0.0.2:${port}`]);
  });
});
