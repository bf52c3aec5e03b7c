/**
 * A failure of trust at the address asked about (the mirror's) is never walked around: once it is
 * known there, a walk gives that address half the caller's budget to itself instead of the usual
 * head start (gateway-failover.ts `waitsForAsked`, address-walk.ts, whose tests time it), and an
 * address gone silent since is still moved past. The address asked about is another install's
 * gateway (another trust anchor) behind a relay that holds its handshake for as long as the test
 * needs. A capacity refusal there is no failure of trust. Asserted by outcomes, the dials that
 * ended and the pool's memory, never by the clock.
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
    expect(distrustOf(pool, a)).toMatch(/is not trusted: /);
    // Known now: the next probe gives that address half its budget, and its failure ends the walk.
    const fast = await probe(pool, a);
    expect(fast).toMatch(new RegExp(`^not alive: gateway 127\\.0\\.0\\.1:${port} is not trusted: `));
    expect(at('127.0.0.1').map((d) => d.code)).toEqual(['GATEWAY_UNTRUSTED', 'GATEWAY_UNTRUSTED']);
  });

  it('tunnels fail at every redial of it, never alternating with another address', async () => {
    const { pool, a, port, at } = await untrustedFirst(false, {
      connectTimeoutMs: 1_500,
      backoff: { baseMs: 0, maxMs: 0 },
    });
    const untrustedThere = new RegExp(`^GATEWAY_UNTRUSTED: gateway 127\\.0\\.0\\.1:${port} is not trusted: `);
    expect(await tunnelThrough(pool, a)).toMatch(untrustedThere);
    // Its backoff over (none here), it is redialled, and fails the tunnel again.
    expect(await tunnelThrough(pool, a)).toMatch(untrustedThere);
    expect(at('127.0.0.2').filter((d) => d.ok)).toEqual([]);
  });

  it('gone silent since (the operator took the wrong gateway away), it is moved past: the tunnel gets another address', async () => {
    const { relay, pool, a, at } = await untrustedFirst(false, {
      connectTimeoutMs: 1_500,
      backoff: { baseMs: 0, maxMs: 0 },
    });
    expect(await tunnelThrough(pool, a)).toMatch(/^GATEWAY_UNTRUSTED: /);
    relay.hang(); // a hung process whose kernel still accepts TCP: a handshake that never ends
    const after = await tunnelThrough(pool, a);
    relay.release();
    expect(after).toBe('ok');
    expect(at('127.0.0.2').filter((d) => d.ok)).toHaveLength(1);
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
    expect(distrustOf(pool, a)).toMatch(/holds the gateway identity of cluster north/);
    expect(await probe(pool, a)).toBe(
      `not alive: the gateway at 127.0.0.1:${port} holds the gateway identity of cluster north, not of cluster west`,
    );
  });

  it('is not forgotten with the idle remotes within 10 minutes, as a failure of nothing answering is', async () => {
    const { pool, a, port } = await untrustedFirst(false, { connectTimeoutMs: 10_000 });
    expect(await probe(pool, a)).toMatch(/is not trusted: /);
    // Long after its backoff ended, another address is dialled (nothing listens there): the sweep
    // of idle remotes runs, and keeps what is known of the address asked about.
    const clock = vi.spyOn(Date, 'now').mockReturnValue(Date.now() + 5 * 60_000);
    cleanups.push(() => clock.mockRestore());
    expect(await probe(pool, { host: '127.0.0.5', port })).toMatch(/^not alive: /);
    expect(pool.remoteCount()).toBe(2);
    expect(distrustOf(pool, a)).toMatch(/is not trusted: /);
  });

  it('is forgotten once nothing recorded it for 10 minutes: the memory is bounded', async () => {
    const { pool, a, port } = await untrustedFirst(false, { connectTimeoutMs: 10_000 });
    const start = Date.now();
    const clock = vi.spyOn(Date, 'now');
    cleanups.push(() => clock.mockRestore());
    expect(await probe(pool, a)).toMatch(/is not trusted: /);
    expect(distrustOf(pool, a)).toMatch(/is not trusted: /);
    // Ten minutes later, nothing having recorded it again, another address is dialled: the sweep
    // of idle remotes forgets it (and the other address of the first walk).
    clock.mockReturnValue(start + 11 * 60_000);
    expect(await probe(pool, { host: '127.0.0.5', port })).toMatch(/^not alive: /);
    expect(pool.remoteCount()).toBe(1);
  });
});

describe('a capacity refusal at the address asked about (a full replica: ENHANCE_YOUR_CALM)', () => {
  it('is no failure of trust: the walk moves on to another address, and nothing is remembered', async () => {
    const backend = await startTcpBackend(echo);
    cleanups.push(() => backend.close());
    const full = await startEchoIngress(pki, backend.port, {
      limits: { maxSessions: 0 },
      extra: { host: '127.0.0.1', port: 0, secureContext: pki.gateway('west') },
    });
    cleanups.push(async () => void (await full.ingress.close()));
    const port = full.ingress.address.port;
    const ok = await startEchoIngress(pki, backend.port, {
      extra: { host: '127.0.0.2', port, secureContext: pki.gateway('west') },
    });
    cleanups.push(async () => void (await ok.ingress.close()));
    const links = (): Link[] => [linkTo(['127.0.0.1', '127.0.0.2'], port)];
    const pool = new SessionPool({
      secureContext: () => pki.gateway('east'),
      connectTimeoutMs: 3_000,
      gatewayAddresses: (gateway, cluster) => gatewayAddressesOf(links(), gateway, cluster),
    });
    cleanups.push(() => pool.close());
    const seen = sessionDials(cleanups);
    const a: GatewayAddress = { host: '127.0.0.1', port };
    expect(await tunnelThrough(pool, a)).toBe('ok');
    expect(distrustOf(pool, a)).toBeUndefined();
    const atA = seen.filter((d) => d.gateway === `127.0.0.1:${port}`);
    expect(atA.map((d) => d.code)).toEqual(['GATEWAY_UNREACHABLE']);
    // Alone (no Link names another address), the caller hears why, as no refusal of trust.
    const alone = new SessionPool({ secureContext: () => pki.gateway('east'), connectTimeoutMs: 3_000 });
    cleanups.push(() => alone.close());
    expect(await tunnelThrough(alone, a)).toMatch(
      new RegExp(
        `^GATEWAY_UNREACHABLE: gateway 127\\.0\\.0\\.1:${port} is at its session cap and turned this cluster's gateway away: `,
      ),
    );
  });
});

describe('the hot path', () => {
  it('a tunnel on a free session at the address asked about looks its remote up no more than session() does', async () => {
    const { pool, port } = await untrustedFirst(false, { connectTimeoutMs: 10_000 });
    const b: GatewayAddress = { host: '127.0.0.2', port };
    expect(await tunnelThrough(pool, b)).toBe('ok');
    const remotes = (pool as unknown as { remotes: Map<string, unknown> }).remotes;
    const get = remotes.get.bind(remotes);
    let gets = 0;
    remotes.get = (key: string) => {
      gets++;
      return get(key);
    };
    expect(await tunnelThrough(pool, b)).toBe('ok');
    remotes.get = get;
    expect(gets).toBe(2); // hasFreeSession, session()
  });
});

/** What the pool remembers of a failure of trust at `at` (its message), or undefined. */
function distrustOf(pool: SessionPool, at: GatewayAddress): string | undefined {
  const remotes = (pool as unknown as { remotes: Map<string, { distrusted?: Error }> }).remotes;
  return remotes.get(`${at.host}|${at.port}`)?.distrusted?.message;
}
