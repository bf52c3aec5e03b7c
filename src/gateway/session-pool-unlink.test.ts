/**
 * The pool after an unlink (cutUnlinked): it cuts the established sessions to the unlinked
 * cluster's gateway, and from then on opens none there either: a tunnel or probe for that cluster
 * fails at once (the egress listener of its mirrors closes only after the mirror watcher's debounce
 * and apply, and clients keep connecting meanwhile), and a session that was still being dialled at
 * the unlink is cut once established. Before the Links are listed, nothing is refused.
 */

import type { Duplex } from 'node:stream';
import { afterEach, beforeAll, expect, it } from 'vitest';
import type { IsthmusError } from '../errors.js';
import { connectResult } from './metrics.js';
import { SessionPool } from './session-pool.js';
import { echo, startTcpBackend } from './test-support/backends.js';
import { CLUSTER_DOMAIN, PROBE_PATH, startEchoIngress } from './test-support/harness.js';
import { makePki, type TestPki } from './test-support/pki.js';
import { type Relay, startRelay } from './test-support/relay.js';
import { waitFor, within } from './test-support/wait.js';

const ECHO = `echo.test.svc.${CLUSTER_DOMAIN}:7000`;

let pki: TestPki;
const cleanups: Array<() => unknown> = [];
beforeAll(() => {
  pki = makePki();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** West's ingress (admitting east) in front of an echo backend. */
async function westIngress() {
  const backend = await startTcpBackend(echo);
  cleanups.push(() => backend.close());
  const { ingress } = await startEchoIngress(pki, backend.port);
  cleanups.push(() => ingress.close());
  return ingress;
}

/** East's pool; a generous connect timeout, so a loaded machine's stall is no failed dial. */
function eastPool(): SessionPool {
  const p = new SessionPool({ secureContext: () => pki.gateway('east'), connectTimeoutMs: 10_000 });
  cleanups.push(() => p.close());
  return p;
}

async function relayTo(port: number): Promise<Relay> {
  const relay = await startRelay(port, true);
  cleanups.push(() => relay.close());
  return relay;
}

/** How a tunnel attempt ended: the error, or a failure of the test when a tunnel opened. */
function tunnelError(p: SessionPool, gateway: { host: string; port: number }, cluster?: string) {
  return within(
    p.openTunnel(gateway, ECHO, cluster).then(
      (t) => {
        t.destroy();
        return new Error('a tunnel opened to the gateway of a cluster no longer linked');
      },
      (err: IsthmusError) => err,
    ),
    10_000,
    'the tunnel attempt to end',
  );
}

async function roundTrip(stream: Duplex, text: string): Promise<void> {
  const got = new Promise<string>((r) => stream.once('data', (c: Buffer) => r(c.toString())));
  stream.write(text);
  expect(await within(got, 5_000, `echo of ${text}`)).toBe(text);
  stream.destroy();
}

const NOT_LINKED = /cluster "west" is not linked/;

it('opens tunnels for any cluster before it is told which are linked (the Links not listed yet)', async () => {
  const ingress = await westIngress();
  const p = eastPool();
  await roundTrip(await p.openTunnel(ingress.address, ECHO, 'west'), 'at start-up');
  expect(await p.probe(ingress.address, PROBE_PATH, 10_000, 'west')).toMatchObject({ alive: true });
});

it('refuses at once, dialling nothing, a tunnel or probe for a cluster no longer linked; a relink opens them again', async () => {
  const ingress = await westIngress();
  const p = eastPool();
  expect(p.cutUnlinked(new Set(['north']))).toBe(0);

  const err = await tunnelError(p, ingress.address, 'west');
  expect(err).toMatchObject({ code: 'GATEWAY_NOT_LINKED', message: expect.stringMatching(NOT_LINKED) });
  // Counted as its own result, which the tunnel error alert leaves out: an unlink is no failure.
  expect(connectResult(0, err.message, (err as IsthmusError).code)).toBe('not_linked');
  expect(await p.probe(ingress.address, PROBE_PATH, 10_000, 'west')).toMatchObject({
    alive: false,
    error: expect.stringMatching(NOT_LINKED),
  });
  expect(ingress.connections(), 'connections to the unlinked cluster’s gateway').toBe(0);
  expect(p.sessionCount()).toBe(0);

  // Linked again: no backoff or stale error in the way.
  expect(p.cutUnlinked(new Set(['west']))).toBe(0);
  await roundTrip(await p.openTunnel(ingress.address, ECHO, 'west'), 'relinked');
});

it.each([
  ['for cluster west', 'west'],
  ['for no cluster in particular', undefined],
])(
  'cuts a session dialled at the unlink (%s) once it is established, failing its waiting tunnels',
  async (_what, cluster) => {
    const ingress = await westIngress();
    const relay = await relayTo(ingress.address.port);
    const p = eastPool();
    p.cutUnlinked(new Set(['west']));
    const pending = tunnelError(p, relay.address, cluster);
    await waitFor(() => relay.accepted() === 1, 'the dial to reach the relay');
    // The peer is not known yet: nothing to cut now.
    expect(p.cutUnlinked(new Set())).toBe(0);
    relay.release();

    expect(await pending).toMatchObject({
      code: 'GATEWAY_NOT_LINKED',
      message: expect.stringMatching(NOT_LINKED),
    });
    await waitFor(() => p.sessionCount() === 0 && ingress.sessions() === 0, 'no session left to west');
    await waitFor(() => relay.open() === 0, 'the connection to west closed');
    // Not the remote's failure: linked again, the next tunnel opens at once (no backoff, no stale error).
    p.cutUnlinked(new Set(['west']));
    await roundTrip(await p.openTunnel(ingress.address, ECHO, 'west'), 'relinked');
  },
);
