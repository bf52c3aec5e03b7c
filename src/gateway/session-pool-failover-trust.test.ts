/**
 * A failure of trust at the address asked about (the mirror's) is never walked around, however
 * long it takes to show: once it is known there, a walk waits for that address alone (within the
 * caller's budget) instead of racing the others after its head start (gateway-failover.ts
 * `waitsForAsked`). The address asked about is another install's gateway (another trust anchor)
 * behind a relay that holds its handshake for as long as the test needs: a WAN handshake slower
 * than the head start. Asserted by outcomes and the dials that ended, never by the clock.
 */

import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Link } from '../kube/types.js';
import { gatewayAddressesOf } from './gateway-failover.js';
import { type GatewayAddress, SessionPool, type SessionPoolOptions } from './session-pool.js';
import { echo, startTcpBackend } from './test-support/backends.js';
import { linkTo, sessionDials, tunnelThrough as viaTunnel } from './test-support/gateway-links.js';
import { CLUSTER_DOMAIN, startEchoIngress } from './test-support/harness.js';
import { makePki, type TestPki } from './test-support/pki.js';
import { type Relay, startRelay } from './test-support/relay.js';
import { waitFor } from './test-support/wait.js';

const ECHO = `echo.test.svc.${CLUSTER_DOMAIN}:7000`;

let pki: TestPki;
const cleanups: (() => Promise<void> | void)[] = [];
beforeAll(() => {
  pki = makePki();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * The address asked about, 127.0.0.1 (a relay to west's gateway of another install, `held`; or to
 * `otherCluster`'s gateway of this install), and west's own gateway on 127.0.0.2 on the same port;
 * east's pool dials what the Link names.
 */
async function untrustedFirst(held: boolean, opts: Partial<SessionPoolOptions>, otherCluster?: string) {
  const backend = await startTcpBackend(echo);
  cleanups.push(() => backend.close());
  const ingressOf = async (host: string, port: number, from: TestPki, cluster = 'west') => {
    const { ingress } = await startEchoIngress(from, backend.port, {
      extra: { host, port, secureContext: from.gateway(cluster) },
    });
    cleanups.push(async () => void (await ingress.close()));
    return ingress;
  };
  const other =
    otherCluster === undefined
      ? await ingressOf('127.0.0.1', 0, makePki())
      : await ingressOf('127.0.0.1', 0, pki, otherCluster);
  const relay: Relay = await startRelay(other.address.port, held);
  cleanups.push(() => relay.close());
  const port = relay.address.port;
  await ingressOf('127.0.0.2', port, pki);
  const links = (): Link[] => [linkTo(['127.0.0.1', '127.0.0.2'], port)];
  const pool = new SessionPool({
    secureContext: () => pki.gateway('east'),
    gatewayAddresses: (gateway, cluster) => gatewayAddressesOf(links(), gateway, cluster),
    ...opts,
  });
  cleanups.push(() => pool.close());
  const seen = sessionDials(cleanups);
  const a: GatewayAddress = { host: '127.0.0.1', port };
  const at = (host: string) => seen.filter((d) => d.gateway === `${host}:${port}`);
  return { relay, pool, a, port, at };
}

/** A tunnel to west's echo through `at`: 'ok', or the error's code and message. */
const tunnelThrough = (pool: SessionPool, at: GatewayAddress): Promise<string> => viaTunnel(pool, at, ECHO);

/** A probe of west's gateway at `at` within 1.5 s: where it answered, or why not. */
async function probe(pool: SessionPool, at: GatewayAddress): Promise<string> {
  const r = await pool.probe(at, '/ready', 1_500, 'west');
  return r.alive ? `alive via ${r.via ?? 'the address probed'}` : `not alive: ${r.error}`;
}

describe('a failure of trust at the address asked about, slower than its head start', () => {
  it('a probe says it, not alive via another address, once it is known there', async () => {
    const { relay, pool, a, port, at } = await untrustedFirst(true, { connectTimeoutMs: 10_000 });
    // The one race left: nothing is known of the address asked about yet. Its trust failure comes
    // after the other address won, and is remembered all the same.
    expect(await probe(pool, a)).toBe(`alive via 127.0.0.2:${port}`);
    relay.release();
    await waitFor(() => at('127.0.0.1').length === 1, 'the trust failure of the first dial');
    expect(at('127.0.0.1').map((d) => d.code)).toEqual(['GATEWAY_UNTRUSTED']);
    // Known now: the next probe waits for that address, however slow its handshake.
    relay.hang();
    const slow = await probe(pool, a);
    relay.release();
    await waitFor(() => at('127.0.0.1').length === 2, 'the trust failure of the second dial');
    expect(slow).toMatch(/^not alive: /);
    const fast = await probe(pool, a);
    expect(fast).toMatch(new RegExp(`^not alive: gateway 127\\.0\\.0\\.1:${port} is not trusted: `));
    expect(at('127.0.0.1').map((d) => d.code)).toEqual([
      'GATEWAY_UNTRUSTED',
      'GATEWAY_UNTRUSTED',
      'GATEWAY_UNTRUSTED',
    ]);
  });

  it('tunnels fail at every redial of it, never alternating with another address', async () => {
    const { relay, pool, a, port, at } = await untrustedFirst(false, {
      connectTimeoutMs: 1_500,
      backoff: { baseMs: 0, maxMs: 0 },
    });
    const first = await tunnelThrough(pool, a);
    expect(first).toMatch(new RegExp(`^GATEWAY_UNTRUSTED: gateway 127\\.0\\.0\\.1:${port} is not trusted: `));
    // Its backoff over (none here), it is redialled: a slow handshake there is waited for, and
    // no other address gets the tunnel meanwhile.
    relay.hang();
    const second = await tunnelThrough(pool, a);
    relay.release();
    expect(second).toMatch(
      new RegExp(`^GATEWAY_CONNECT_TIMEOUT: no session with 127\\.0\\.0\\.1:${port} within 1500 ms`),
    );
    expect(at('127.0.0.2').filter((d) => d.ok)).toEqual([]);
  });

  it("another cluster's gateway there, found after another address won, is remembered once its session is gone", async () => {
    const { relay, pool, a, port, at } = await untrustedFirst(true, { connectTimeoutMs: 10_000 }, 'north');
    expect(await probe(pool, a)).toBe(`alive via 127.0.0.2:${port}`);
    relay.release();
    // A session with north's gateway: no failure of the dial, but none for west either.
    await waitFor(() => at('127.0.0.1').length === 1, "the session with north's gateway");
    expect(at('127.0.0.1').map((d) => d.ok)).toEqual([true]);
    pool.cutUnlinked(new Set(['west'])); // north unlinked: its session is cut
    await waitFor(() => pool.sessionCount() === 1, "the cut of north's session");
    relay.hang();
    const slow = await probe(pool, a);
    relay.release();
    expect(slow).toMatch(/^not alive: /);
    await waitFor(() => at('127.0.0.1').length === 2, "the second session with north's gateway");
    expect(await probe(pool, a)).toBe(
      `not alive: the gateway at 127.0.0.1:${port} holds the gateway identity of cluster north, not of cluster west`,
    );
  });

  it('is not forgotten with the idle remotes, as a failure of nothing answering is', async () => {
    const { relay, pool, a, port } = await untrustedFirst(false, { connectTimeoutMs: 10_000 });
    expect(await probe(pool, a)).toMatch(/is not trusted: /);
    // Long after its backoff ended, another address is dialled (nothing listens there): the sweep
    // of idle remotes runs, and keeps what is known of the address asked about.
    const clock = vi.spyOn(Date, 'now').mockReturnValue(Date.now() + 3_600_000);
    cleanups.push(() => clock.mockRestore());
    expect(await probe(pool, { host: '127.0.0.5', port })).toMatch(/^not alive: /);
    expect(pool.remoteCount()).toBe(2);
    relay.hang();
    const slow = await probe(pool, a);
    relay.release();
    expect(slow).toMatch(/^not alive: /);
  });
});
