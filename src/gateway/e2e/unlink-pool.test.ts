/**
 * East's session pool follows east's Links, from start-up on: after east unlinks west it opens no
 * tunnel to west's gateway, not only cuts the sessions it had. Its egress listener for a mirror of
 * west closes only after the mirror watcher's debounce and apply, and a client connecting
 * meanwhile makes the egress ask the pool for a tunnel to west (review: 8 to 14 such tunnels still
 * echoed after the listener closed). The egress's accept is that one pool.tunnel call with the
 * route's cluster, so these tests ask the running gateway's pool directly, with no race for the
 * listener's close.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { IsthmusError } from '../../errors.js';
import { SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { RunningGateway } from '../run-gateway.js';
import { type Cluster, linkGateway, waitFor } from './fixtures.js';
import { startLinkedGateways } from './start-gateways.js';

const EAST_HOST = '127.0.181.1';
const WEST_HOST = '127.0.182.1';
const NS = 'test';
const PORT = 7000;
const ECHO = `echo.${NS}.svc.cluster.local:${PORT}`;

const cleanups: Array<() => unknown> = [];
let east: Cluster;
let eastGw: RunningGateway;
let westGw: RunningGateway;

beforeAll(async () => {
  // West links east (west's ingress admits east); east links nothing yet.
  ({ east, eastGw, westGw } = await startLinkedGateways(
    { east: EAST_HOST, west: WEST_HOST },
    NS,
    PORT,
    cleanups,
  ));
}, 60_000);

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A tunnel from east's pool to west's gateway for cluster west: true when it opened (and is closed again). */
async function eastTunnels(): Promise<true | IsthmusError> {
  try {
    const tunnel = await eastGw.pool.openTunnel(westGw.ingress.address, ECHO, 'west');
    tunnel.destroy();
    return true;
  } catch (err) {
    return err as IsthmusError;
  }
}

const NOT_LINKED = expect.objectContaining({
  code: 'GATEWAY_NOT_LINKED',
  message: expect.stringContaining('cluster "west" is not linked'),
});

it('opens no tunnel to the gateway of a cluster it has no Link to, from start-up on', async () => {
  // East's Links were listed (it is ready) and name no cluster: the pool knows, though no Link event came.
  expect(await eastTunnels()).toEqual(NOT_LINKED);
  expect(westGw.ingress.connections(), "east's connections at west's ingress").toBe(0);
});

it('opens no new tunnel to a cluster after its unlink, while clients may still reach the egress listener', async () => {
  await linkGateway(east.kube, 'west', westGw.ingress.address);
  await waitFor('a tunnel from east to west', async () => (await eastTunnels()) === true, 10_000);
  expect(eastGw.pool.sessionCount()).toBe(1);

  await east.kube.delete(R.links, SYSTEM_NAMESPACE, 'west');
  // Cut with the Link event (cutUnlinked): east has seen the unlink.
  await waitFor('east to cut its session to west', () => eastGw.pool.sessionCount() === 0, 10_000);
  expect(await eastTunnels(), 'a tunnel asked for after the unlink').toEqual(NOT_LINKED);
  expect(eastGw.pool.sessionCount()).toBe(0);
  await waitFor('no session from east at west', () => westGw.ingress.sessions() === 0, 10_000);
});
