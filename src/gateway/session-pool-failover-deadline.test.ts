/**
 * A walk over a gateway's addresses is bounded by the caller's one budget (address-walk.ts): a
 * tunnel's connect timeout, a probe's own timeout. Black-holed addresses (TCP accepted, nothing
 * said) hang a dial until its connect timeout; the walk dials the next address once the one before
 * has not answered within a share of the budget, without waiting out its timeout. Asserted by the
 * order of events (which dials had ended when the caller heard), never by the clock.
 */

import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type IsthmusError, isIsthmusError } from '../errors.js';
import type { Link } from '../kube/types.js';
import { gatewayAddressesOf } from './gateway-failover.js';
import { SessionPool } from './session-pool.js';
import { echo, startTcpBackend } from './test-support/backends.js';
import { type BlackHole, startBlackHole } from './test-support/black-hole.js';
import { linkTo, sessionDials } from './test-support/gateway-links.js';
import { CLUSTER_DOMAIN, startEchoIngress } from './test-support/harness.js';
import { makePki, type TestPki } from './test-support/pki.js';
import { within } from './test-support/wait.js';

const ECHO = `echo.test.svc.${CLUSTER_DOMAIN}:7000`;

let pki: TestPki;
const cleanups: (() => Promise<void> | void)[] = [];
beforeAll(() => {
  pki = makePki();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function blackHoles(hosts: string[]): Promise<BlackHole[]> {
  const holes: BlackHole[] = [];
  for (const host of hosts) {
    const hole = await startBlackHole(host, holes[0]?.address.port ?? 0);
    cleanups.push(() => hole.close());
    holes.push(hole);
  }
  return holes;
}

function eastPool(links: Link[], connectTimeoutMs: number): SessionPool {
  const p = new SessionPool({
    secureContext: () => pki.gateway('east'),
    connectTimeoutMs,
    gatewayAddresses: (gateway, cluster) => gatewayAddressesOf(links, gateway, cluster),
  });
  cleanups.push(() => p.close());
  return p;
}

/** West's gateway answering on `host`:`port`, in front of an echo backend. */
async function westAt(host: string, port: number): Promise<void> {
  const backend = await startTcpBackend(echo);
  cleanups.push(() => backend.close());
  const { ingress } = await startEchoIngress(pki, backend.port, {
    extra: { host, port, secureContext: pki.gateway('west') },
  });
  cleanups.push(async () => void (await ingress.close()));
}

describe('a walk over black-holed gateway addresses', () => {
  it('fails a tunnel after one connect timeout, every address dialled, not one timeout per address', async () => {
    const hosts = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
    const holes = await blackHoles(hosts);
    const port = holes[0]!.address.port;
    const pool = eastPool([linkTo(hosts, port)], 1_000);
    const seen = sessionDials(cleanups);
    let endedWhenRefused = -1;
    const err = await within(
      pool.openTunnel({ host: hosts[0]!, port }, ECHO, 'west').then(
        () => undefined,
        (e: unknown) => {
          endedWhenRefused = seen.length;
          return e as IsthmusError;
        },
      ),
      20_000,
      'the tunnel to fail',
    );
    expect(isIsthmusError(err, 'GATEWAY_CONNECT_TIMEOUT')).toBe(true);
    // The caller heard when the first dial ran out of time at most: the others were still hanging.
    expect(endedWhenRefused).toBeLessThanOrEqual(1);
    expect(holes.map((h) => h.accepted())).toEqual([1, 1, 1, 1]);
    expect(err!.message).toMatch(new RegExp(`^no session with 127\\.0\\.0\\.2:${port} within 1000 ms; `));
    for (const h of hosts.slice(1)) expect(err!.message).toContain(`${h}:${port} gave no answer yet`);
  });

  it('a tunnel reaches the address that answers while the dial of the black-holed one asked about still hangs', async () => {
    const [hole] = await blackHoles(['127.0.0.2']);
    const port = hole!.address.port;
    await westAt('127.0.0.3', port);
    const pool = eastPool([linkTo(['127.0.0.2', '127.0.0.3'], port)], 3_000);
    const seen = sessionDials(cleanups);
    const tunnel = await within(pool.openTunnel({ host: '127.0.0.2', port }, ECHO, 'west'), 10_000, 'tunnel');
    tunnel.destroy();
    expect(seen.map((d) => [d.gateway, d.ok])).toEqual([[`127.0.0.3:${port}`, true]]);
  });

  it('a probe, shorter than the connect timeout, answers alive via the other address within its own time', async () => {
    const [hole] = await blackHoles(['127.0.0.2']);
    const port = hole!.address.port;
    await westAt('127.0.0.3', port);
    // The gateway's defaults: connect timeout 5 s, the controller's probe timeout 2 s.
    const pool = eastPool([linkTo(['127.0.0.2', '127.0.0.3'], port)], 5_000);
    const probed = await pool.probe({ host: '127.0.0.2', port }, '/ready', 2_000, 'west');
    expect({ alive: probed.alive, via: probed.via, error: probed.error }).toEqual({
      alive: true,
      via: `127.0.0.3:${port}`,
      error: undefined,
    });
  });
});
