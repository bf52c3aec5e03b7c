/**
 * Mirrors of remote Services with more endpoints than one EndpointSlice may hold (the API server
 * refuses more than 1000). A headless parent's endpoints (one per per-pod mirror) are split across
 * several slices, as the EndpointSlice controller splits a Service's, and the slices beyond what
 * is needed go again; a remote-discovery mirror's remote pods are split the same way.
 */
import { describe, expect, it } from 'vitest';
import { EXPORTED_LABEL, REMOTE_DISCOVERY_EXPORT, SERVICE_NAME_LABEL } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { V1EndpointSlice } from '../kube/types.js';
import {
  type Cluster,
  exportService,
  getLink,
  getService,
  link,
  waitFor,
  worldPerTest,
} from './test-harness.js';

const startWorld = worldPerTest();
const MAX = 1000;

/**
 * West's EndpointSlice controller: `count` pods of `name`, ready, with hostnames `<name>-<i>`
 * when `hostnames`, split into slices of at most 1000 (as the API server demands).
 */
async function setRemotePods(remote: Cluster, name: string, count: number, hostnames = false) {
  const existing = await remote.client.list<V1EndpointSlice>(R.endpointSlices, {
    namespace: 'default',
    labelSelector: `${SERVICE_NAME_LABEL}=${name}`,
  });
  for (const s of existing.items) await remote.client.delete(R.endpointSlices, 'default', s.metadata!.name!);
  for (let first = 0, n = 0; first < count; first += MAX, n++) {
    const size = Math.min(MAX, count - first);
    await remote.client.create<V1EndpointSlice>(R.endpointSlices, {
      metadata: { name: `${name}-${n}`, namespace: 'default', labels: { [SERVICE_NAME_LABEL]: name } },
      addressType: 'IPv4',
      endpoints: Array.from({ length: size }, (_, j) => {
        const i = first + j;
        return {
          addresses: [`10.244.${Math.floor(i / 250)}.${(i % 250) + 1}`],
          conditions: { ready: true },
          ...(hostnames ? { hostname: `${name}-${i}` } : {}),
        };
      }),
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    });
  }
}

/** East's slices of one mirror, by the `kubernetes.io/service-name` label that kube-proxy and CoreDNS read. */
async function mirrorSlices(local: Cluster, mirror: string): Promise<V1EndpointSlice[]> {
  const list = await local.client.list<V1EndpointSlice>(R.endpointSlices, {
    namespace: 'default',
    labelSelector: `${SERVICE_NAME_LABEL}=${mirror}`,
  });
  return list.items;
}

/** Waits until the mirror's slices list `count` ready endpoints in all, each slice within the limit. */
async function waitMirrorEndpoints(local: Cluster, mirror: string, count: number, timeoutMs = 60_000) {
  return waitFor(
    async () => {
      const slices = await mirrorSlices(local, mirror);
      const endpoints = slices.flatMap((s) => s.endpoints ?? []);
      const ready = endpoints.filter((e) => e.conditions?.ready === true);
      return ready.length === count && endpoints.length === count ? slices : undefined;
    },
    { timeoutMs, intervalMs: 200, what: `${mirror}: ${count} ready endpoints` },
  );
}

describe('mirrors with more than 1000 endpoints', () => {
  it('a headless parent of 1001 StatefulSet pods is split over two slices, and back to one', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'db', { headless: true, ready: 1, hostnames: ['db-0'] });
    await setRemotePods(west, 'db', MAX + 1, true);
    await link(east, west, 'west', { mirrorHeadless: true });
    // No client-side rate limit: 1001 per-pod mirrors are 2002 writes, 40 s at the default 50/s.
    world.controller('east', { clientOptions: { rateLimit: { qps: 0, burst: 0 } } });

    const slices = await waitMirrorEndpoints(east, 'db-west', MAX + 1);
    expect(slices.length).toBe(2);
    for (const s of slices) expect(s.endpoints!.length).toBeLessThanOrEqual(MAX);
    const hostnames = slices.flatMap((s) => s.endpoints!.map((e) => e.hostname));
    expect(new Set(hostnames).size).toBe(MAX + 1);
    // Every slice is the parent's: owned by it, so it goes with it.
    const parent = await getService(east, 'default', 'db-west');
    for (const s of slices) expect(s.metadata?.ownerReferences?.[0]?.uid).toBe(parent?.metadata?.uid);
    expect((await getLink(east, 'west'))?.status?.services ?? []).toEqual([]);

    // Scaled down: the second slice goes.
    await setRemotePods(west, 'db', 3, true);
    const after = await waitMirrorEndpoints(east, 'db-west', 3);
    expect(after.map((s) => s.metadata?.name)).toEqual(['db-west']);
  });

  it('a remote-discovery mirror of 2500 remote pods lists every one over three slices, and back to one', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'flat', { ready: 1, labels: { [EXPORTED_LABEL]: REMOTE_DISCOVERY_EXPORT } });
    await setRemotePods(west, 'flat', 2500);
    await link(east, west, 'west');
    world.controller('east');

    const slices = await waitMirrorEndpoints(east, 'flat-west', 2500, 20_000);
    expect(slices.map((s) => s.metadata?.name).sort()).toEqual(['flat-west', 'flat-west.1', 'flat-west.2']);
    for (const s of slices) expect(s.endpoints!.length).toBeLessThanOrEqual(MAX);
    const addresses = new Set(slices.flatMap((s) => s.endpoints!.map((e) => e.addresses[0])));
    expect(addresses.size).toBe(2500);
    expect(addresses.has('10.244.9.250')).toBe(true);
    const mirror = await getService(east, 'default', 'flat-west');
    for (const s of slices) expect(s.metadata?.ownerReferences?.[0]?.uid).toBe(mirror?.metadata?.uid);
    expect((await getLink(east, 'west'))?.status?.services ?? []).toEqual([]);

    // Scaled down to 900: the slices no longer needed go.
    await setRemotePods(west, 'flat', 900);
    const after = await waitMirrorEndpoints(east, 'flat-west', 900, 20_000);
    expect(after.map((s) => s.metadata?.name)).toEqual(['flat-west']);
  });
});
