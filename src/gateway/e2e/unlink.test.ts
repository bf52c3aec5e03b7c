/**
 * Unlinking withdraws a cluster's admission at once: when west deletes its Link to east, east's
 * established ingress session (kept open by keepalive PINGs) is cut, so east can open no more
 * tunnels on it, not only no new sessions. And east's own unlink of west cuts east's open tunnels
 * to west: the traffic stops both ways, whichever side unlinks.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { testGatewayCertificate, testPki } from '../../identity/testing.js';
import { SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import { CHANNELS, type ConnectErrorMessage } from '../diagnostics.js';
import type { RunningGateway } from '../run-gateway.js';
import { SessionPool } from '../session-pool.js';
import { within } from '../test-support/wait.js';
import {
  type Cluster,
  createMirror,
  echoRoundTrip,
  endpointSlice,
  exportedService,
  freeEgressPort,
  linkGateway,
  mirrorService,
  waitFor,
} from './fixtures.js';
import { startLinkedGateways } from './start-gateways.js';

const EAST_HOST = '127.0.56.1';
const WEST_HOST = '127.0.57.1';
const NS = 'test';
const PORT = 7000;

const cleanups: Array<() => unknown> = [];
let east: Cluster;
let west: Cluster;
let eastGw: RunningGateway;
let westGw: RunningGateway;
let backendPort: number;

beforeAll(async () => {
  ({ east, west, eastGw, westGw, backendPort } = await startLinkedGateways(
    { east: EAST_HOST, west: WEST_HOST },
    NS,
    PORT,
    cleanups,
  ));
}, 60_000);

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** West's count of east's gateway refused at its ingress. */
async function refusedAtWest(): Promise<number> {
  const series =
    'isthmus_tunnel_connections_total{direction="ingress",peer_cluster="east",result="unauthorized"}';
  const line = (await westGw.metrics.render()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** The egress's connect-error messages (diagnostics are process-wide: east's is the only egress used). */
function egressErrors(): ConnectErrorMessage[] {
  const errors: ConnectErrorMessage[] = [];
  const onError = (m: unknown): void => {
    if ((m as ConnectErrorMessage).direction === 'egress') errors.push(m as ConnectErrorMessage);
  };
  diagnosticsChannel.subscribe(CHANNELS.connectError, onError);
  cleanups.push(() => diagnosticsChannel.unsubscribe(CHANNELS.connectError, onError));
  return errors;
}

/** One round trip through east's egress port on a new connection; true when the text came back. */
const roundTrip = (port: number, text: string, ms = 3_000): Promise<boolean> =>
  echoRoundTrip(EAST_HOST, port, text, ms);

it('an unlinked cluster can open no tunnel, not even on the session it had before the unlink', async () => {
  const egressPort = await freeEgressPort(EAST_HOST);
  const gateway = `${westGw.ingress.address.host}:${westGw.ingress.address.port}`;
  // East's Link to west names west's gateway: what east's egress routes a mirror of west to.
  await linkGateway(east.kube, 'west', westGw.ingress.address);
  await createMirror(
    east.kube,
    mirrorService({ ns: NS, service: 'echo', cluster: 'west', port: PORT, egressPort, gateway }),
  );
  await waitFor('egress port open', () => eastGw.egress.listening().includes(egressPort), 10_000);
  await waitFor('tunnel works', () => roundTrip(egressPort, 'before'), 10_000);
  expect(westGw.ingress.sessions()).toBe(1);

  // A probe on a fresh session (a new pool each time, so nothing is reused).
  const eastCert = testGatewayCertificate('east');
  const host = westGw.ingress.address.host;
  const port = westGw.ingress.address.port;
  const freshProbe = async (): Promise<boolean> => {
    const fresh = new SessionPool({
      secureContext: () => ({ key: eastCert.keyPem, cert: eastCert.chainPem, ca: testPki().anchor.certPem }),
      connectTimeoutMs: 10_000,
    });
    try {
      return (await fresh.probe({ host, port }, '/ready', 10_000)).alive;
    } finally {
      await fresh.close();
    }
  };
  expect(await freshProbe(), 'a fresh session from east is admitted while linked').toBe(true);

  // West unlinks east: west's ingress must no longer admit east.
  await west.kube.delete(R.links, SYSTEM_NAMESPACE, 'east');
  // Wait until west's policy has seen it: a *new* session from east is refused.
  await waitFor('west refuses new sessions from east', async () => !(await freshProbe()), 10_000);

  // The old, pooled session: a new client connection through east's egress.
  const refusedBefore = await refusedAtWest();
  const refusals = egressErrors();
  const stillTunnels = await roundTrip(egressPort, 'after-unlink');
  expect(stillTunnels, 'a new tunnel from the unlinked cluster was still admitted').toBe(false);
  // Refused by west's ingress for the unlink (the reason its GOAWAY carries), not lost to a closed
  // port, a timeout or a refused dial.
  await waitFor('the egress to report why', () => refusals.length > 0, 10_000);
  expect(refusals).toEqual([
    expect.objectContaining({
      direction: 'egress',
      peerCluster: 'west',
      code: 'GATEWAY_REFUSED',
      reason: expect.stringContaining('cluster "east" is not linked and not in --allow-cluster'),
    }),
  ]);
  // West's ingress refused that attempt itself (the pooled session was cut, so east shook hands anew)
  // and counted it under the refused cluster.
  expect(await refusedAtWest()).toBeGreaterThan(refusedBefore);
});

it("unlinking on the calling side cuts its open tunnels too, as the other side's unlink does", async () => {
  // West admits east again (the test above unlinked it there).
  await linkGateway(west.kube, 'east', { host: EAST_HOST, port: 4143 });
  const egressPort = await freeEgressPort(EAST_HOST);
  const gateway = `${westGw.ingress.address.host}:${westGw.ingress.address.port}`;
  await linkGateway(east.kube, 'west', westGw.ingress.address);
  await createMirror(
    east.kube,
    mirrorService({ ns: NS, service: 'echo2', cluster: 'west', port: PORT, egressPort, gateway }),
  );
  await west.kube.create(R.services, exportedService(NS, 'echo2', PORT));
  await west.kube.create(R.endpointSlices, endpointSlice(NS, 'echo2', '127.0.0.1', backendPort));
  await waitFor('egress port open', () => eastGw.egress.listening().includes(egressPort), 10_000);
  await waitFor('tunnel works', () => roundTrip(egressPort, 'linked'), 10_000);

  // A long-lived client connection, open across the unlink.
  const client = net.connect({ host: EAST_HOST, port: egressPort });
  client.on('error', () => {});
  const closed = new Promise<void>((r) => client.once('close', () => r()));
  const echoed = new Promise<void>((r) => client.once('data', () => r()));
  client.write('open');
  await within(echoed, 10_000, 'the echo through the open tunnel');

  await east.kube.delete(R.links, SYSTEM_NAMESPACE, 'west');
  await waitFor('the open tunnel cut', () => client.destroyed, 10_000);
  await within(closed, 10_000, 'the client connection closed');
  expect(westGw.ingress.sessions()).toBe(0);
});
