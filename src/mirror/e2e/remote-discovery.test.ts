/**
 * Remote discovery on the data path (a flat network: every "cluster" here shares loopback). West's
 * `flat` is labelled `mirror.linkerd.io/exported=remote-discovery`; the real mirror controller in
 * east writes `flat-west` with west's pod as its endpoint, and a caller in east (through the
 * kube-proxy stand-in) reaches that pod directly. East's gateway opens no listener for it, and it
 * keeps answering after west's gateway is gone, while the tunnelled `podinfo-west` goes unready.
 */
import { describe, expect, it } from 'vitest';
import { NS, SERVICE_PORT } from '../../failover/e2e/world.js';
import { worldPerFile } from '../../failover/e2e/world-per-file.js';
import { endpointSlice, exportedService, httpGet } from '../../gateway/e2e/fixtures.js';
import { EXPORTED_LABEL, REMOTE_DISCOVERY_EXPORT } from '../../kube/keys.js';
import { R } from '../../kube/resources.js';
import type { V1EndpointSlice } from '../../kube/types.js';
import { waitFor } from '../test-wait.js';

const HOSTS = { east: '127.0.91.1', west: '127.0.92.1', north: '127.0.93.1', proxy: '127.0.91.10' };

const world = worldPerFile(HOSTS);

async function eastRoutes(): Promise<{ mirror: string; port: number }[]> {
  const admin = world().east.gateway.admin.address;
  const res = await httpGet(HOSTS.east, admin.port, '/routes', 2_000);
  return (JSON.parse(res.body) as { routes: { mirror: string; port: number }[] }).routes;
}

async function mirrorReady(name: string): Promise<boolean> {
  const slice = await world().east.kube.get<V1EndpointSlice>(R.endpointSlices, NS, name);
  return slice?.endpoints?.some((e) => e.conditions?.ready === true) ?? false;
}

describe('remote discovery on the data path (flat network, no gateway)', () => {
  it("a caller in east reaches west's pod directly, through no gateway", async () => {
    const t0 = Date.now();
    const flat = exportedService(NS, 'flat', SERVICE_PORT, false);
    flat.metadata!.labels = { [EXPORTED_LABEL]: REMOTE_DISCOVERY_EXPORT };
    await world().west.kube.create(R.services, flat);
    await world().west.kube.create(
      R.endpointSlices,
      endpointSlice(NS, 'flat', '127.0.0.1', world().west.backend.port),
    );

    const proxy = await world().proxyFor('flat-west');
    await waitFor(async () => proxy.endpoints().length === 1, {
      timeoutMs: 10_000,
      what: 'flat-west endpoint',
    });
    // The endpoint is west's pod itself, not a gateway egress listener.
    expect(proxy.endpoints()).toEqual([`127.0.0.1:${world().west.backend.port}`]);
    const res = await httpGet(proxy.host, proxy.port, '/', 2_000);
    expect(res).toMatchObject({ status: 200, body: 'hello from west' });
    console.info(
      `remote-discovery export answered in east ${Date.now() - t0} ms after it was created in west`,
    );

    const routes = await eastRoutes();
    expect(routes.map((r) => r.mirror)).toContain(`${NS}/podinfo-west`);
    expect(routes.map((r) => r.mirror)).not.toContain(`${NS}/flat-west`);
  });

  it("keeps answering without west's gateway, which the tunnelled mirror needs", async () => {
    await world().west.gateway.stop();
    await waitFor(async () => !(await mirrorReady('podinfo-west')), {
      timeoutMs: 10_000,
      what: 'podinfo-west unready once west gateway is gone',
    });
    expect(await mirrorReady('flat-west')).toBe(true);
    const proxy = await world().proxyFor('flat-west');
    const res = await httpGet(proxy.host, proxy.port, '/', 2_000);
    expect(res).toMatchObject({ status: 200, body: 'hello from west' });
  });
});
