/**
 * A remote gateway the Link names at several addresses (a NodePort gateway linked by its nodes'
 * addresses), with real gateways, the real mirror controller and its probes through east's gateway.
 * The controller writes the first address into the mirror (`isthmus.dev/remote-gateway`) and probes
 * it; that node is drained (nothing answers there) while the other still serves. East's gateway
 * reaches west's at the other address the Link names: the mirror stays ready, its traffic flows,
 * and the Link says where the gateway answered (review: the mirror went unready and stayed so).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NS, PROBE_FAILURE_THRESHOLD, startWorld, type World } from '../../failover/e2e/world.js';
import { httpGet } from '../../gateway/e2e/fixtures.js';
import { REMOTE_GATEWAY_ANNOTATION, SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1EndpointSlice, V1Service } from '../../kube/types.js';
import { condition, getLink, metricValue } from '../test-harness.js';
import { waitFor } from '../test-wait.js';

const HOSTS = { east: '127.0.131.1', west: '127.0.132.1', north: '127.0.133.1', proxy: '127.0.131.10' };
/** West's first node, drained: nothing listens there. */
const DRAINED = '127.0.132.2';

let world: World;

beforeAll(async () => {
  world = await startWorld(HOSTS);
}, 60_000);

afterAll(async () => {
  await world?.close();
});

/** Probes of west's gateway that said something of it (succeeded or failed there) so far. */
async function remoteProbes(): Promise<number> {
  let n = 0;
  for (const result of ['success', 'failure'])
    n +=
      (await metricValue(world.registry, 'gateway_probes_total', { target_cluster_name: 'west', result })) ??
      0;
  return n;
}

describe('a Link naming its remote gateway at two node addresses, the first drained', () => {
  it('keeps the mirror ready and its traffic flowing through the second node', async () => {
    const { east } = world;
    const port = world.west.gateway.ingress.address.port;
    await east.kube.patch(R.links, SYSTEM_NAMESPACE, 'west', {
      spec: { gatewayAddress: `${DRAINED},${HOSTS.west}` },
    });
    const drained = `${DRAINED}:${port}`;
    await waitFor(
      async () =>
        (await east.kube.get<V1Service>(R.services, NS, 'podinfo-west'))?.metadata?.annotations?.[
          REMOTE_GATEWAY_ANNOTATION
        ] === drained,
      { what: `the mirror to name ${drained}`, timeoutMs: 15_000 },
    );
    // More probes of the drained node than failureThreshold, each a verdict on west.
    const before = await remoteProbes();
    await waitFor(async () => (await remoteProbes()) > before + PROBE_FAILURE_THRESHOLD, {
      what: `${PROBE_FAILURE_THRESHOLD + 1} probes of ${drained}`,
      timeoutMs: 15_000,
    });
    const link = await getLink({ sandbox: east.sandbox, client: east.kube }, 'west');
    const alive = condition(link, 'GatewayAlive');
    expect({ status: alive?.status, message: alive?.message }).toEqual({
      status: 'True',
      message: `remote gateway answers probes at ${HOSTS.west}:${port}, another address the Link names (${drained} did not answer when last tried)`,
    });
    const slice = (
      await east.kube.list<V1EndpointSlice>(R.endpointSlices, {
        namespace: NS,
        labelSelector: 'kubernetes.io/service-name=podinfo-west',
      })
    ).items[0];
    expect(slice?.endpoints?.map((e) => e.conditions?.ready)).toEqual([true]);
    // A caller of the mirror: east's gateway tunnels to west's at the node that serves.
    const proxy = await world.proxyFor('podinfo-west');
    const res = await httpGet(proxy.host, proxy.port, '/', 10_000);
    expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: 'hello from west' });
  });
});
