/**
 * The pool and a gateway with several addresses (a NodePort gateway linked by its nodes' addresses,
 * a LoadBalancer with several ingress IPs): the mirror names one, and when nothing answers there the
 * pool reaches the gateway at another address the same Link names (gateway-failover.ts). Addresses
 * are ingresses on 127.0.0.x sharing one port; an address where nothing listens is a drained node.
 */

import diagnosticsChannel from 'node:diagnostics_channel';
import type { Duplex } from 'node:stream';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isIsthmusError } from '../errors.js';
import type { Link } from '../kube/types.js';
import { CHANNELS, type SessionDialMessage } from './diagnostics.js';
import { gatewayAddressesOf } from './gateway-failover.js';
import type { Ingress } from './ingress.js';
import { type GatewayAddress, SessionPool } from './session-pool.js';
import { echo, startTcpBackend, type TcpBackend } from './test-support/backends.js';
import { CLUSTER_DOMAIN, startEchoIngress } from './test-support/harness.js';
import { makePki, type TestPki } from './test-support/pki.js';
import { waitFor, within } from './test-support/wait.js';

const ECHO = `echo.test.svc.${CLUSTER_DOMAIN}:7000`;

let pki: TestPki;
const cleanups: (() => Promise<void> | void)[] = [];
beforeAll(() => {
  pki = makePki();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function echoBackend(): Promise<TcpBackend> {
  const b = await startTcpBackend(echo);
  cleanups.push(() => b.close());
  return b;
}

/** West's ingress (or `cluster`'s) on `host`:`port` (0: any) in front of test/echo. */
async function ingressAt(backend: TcpBackend, host: string, port = 0, cluster = 'west'): Promise<Ingress> {
  const { ingress } = await startEchoIngress(pki, backend.port, {
    extra: { host, port, secureContext: pki.gateway(cluster) },
  });
  cleanups.push(async () => {
    await ingress.close();
  });
  return ingress;
}

/** The Link to west naming `hosts` on `port` (a NodePort gateway given its nodes' addresses). */
function linkTo(hosts: string[], port: number, cluster = 'west'): Link {
  return {
    apiVersion: 'multicluster.isthmus.dev/v1alpha1',
    kind: 'Link',
    metadata: { name: cluster, namespace: 'isthmus-system' },
    spec: { targetClusterName: cluster, gatewayAddress: hosts.join(','), gatewayPort: port },
  } as Link;
}

/** East's pool, dialling the addresses `links()` name for a gateway, as the gateway does. */
function eastPool(links: () => Link[]): SessionPool {
  const p = new SessionPool({
    secureContext: () => pki.gateway('east'),
    connectTimeoutMs: 10_000,
    gatewayAddresses: (gateway, cluster) => gatewayAddressesOf(links(), gateway, cluster),
  });
  cleanups.push(() => p.close());
  return p;
}

/** Every session dial the pool reports (its address, and whether it got a session) from now on. */
function dials(): SessionDialMessage[] {
  const seen: SessionDialMessage[] = [];
  const onDial = (m: unknown): void => {
    seen.push(m as SessionDialMessage);
  };
  diagnosticsChannel.subscribe(CHANNELS.sessionDial, onDial);
  cleanups.push(() => {
    diagnosticsChannel.unsubscribe(CHANNELS.sessionDial, onDial);
  });
  return seen;
}

async function roundTrip(stream: Duplex, text: string): Promise<void> {
  const got = new Promise<string>((r) => stream.once('data', (c: Buffer) => r(c.toString())));
  stream.write(text);
  expect(await within(got, 5_000, `echo of ${text}`)).toBe(text);
}

const node = (host: string, port: number): GatewayAddress => ({ host, port });

describe('a gateway the Link names at several addresses', () => {
  it('a tunnel to the first node, drained, reaches the gateway at the second node and stays there', async () => {
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
    // The next tunnels go where it works: no dial of the drained node each time.
    const again = await within(pool.openTunnel(node('127.0.0.2', port), ECHO, 'west'), 10_000, 'tunnel');
    await roundTrip(again, 'still there');
    again.destroy();
    expect(seen).toHaveLength(2);
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

  it('stays on the address that works until it fails, then moves on round the Link order', async () => {
    const backend = await echoBackend();
    const first = await ingressAt(backend, '127.0.0.2');
    const port = first.address.port;
    await ingressAt(backend, '127.0.0.3', port);
    const pool = eastPool(() => [linkTo(['127.0.0.2', '127.0.0.3'], port)]);
    const probe = async (): Promise<string | undefined> => {
      const r = await pool.probe(node('127.0.0.2', port), '/ready', 5_000, 'west');
      expect(r.error).toBeUndefined();
      return r.via;
    };
    expect(await probe()).toBeUndefined(); // the node asked about answers
    await first.close(); // drained: GOAWAY, then nothing listens
    await waitFor(() => pool.readySessionCount() === 0, 'the GOAWAY');
    expect(await probe()).toBe(`127.0.0.3:${port}`);
    // The first node is back (a new pod): the pool keeps to the second while it works.
    await ingressAt(backend, '127.0.0.2', port);
    expect(await probe()).toBe(`127.0.0.3:${port}`);
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

  it("does not paper over another cluster's gateway at the next address: the walk stops there and says so", async () => {
    const backend = await echoBackend();
    // The second node answers with north's gateway identity (a stale address in the Link).
    const wrong = await ingressAt(backend, '127.0.0.3', 0, 'north');
    const port = wrong.address.port;
    await ingressAt(backend, '127.0.0.4', port);
    const pool = eastPool(() => [linkTo(['127.0.0.2', '127.0.0.3', '127.0.0.4'], port)]);
    const err = await pool.openTunnel(node('127.0.0.2', port), ECHO, 'west').catch((e: unknown) => e);
    expect(isIsthmusError(err, 'GATEWAY_IDENTITY_MISMATCH')).toBe(true);
    expect((err as Error).message).toContain(`127.0.0.2:${port}`); // the first failure is said too
    const probed = await pool.probe(node('127.0.0.2', port), '/ready', 5_000, 'west');
    expect(probed.alive).toBe(false);
    expect(probed.error).toContain('holds the gateway identity of cluster north');
  });

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
