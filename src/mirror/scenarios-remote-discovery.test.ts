import { describe, expect, it } from 'vitest';
import { updateWithRetry } from '../kube/apply.js';
import {
  EGRESS_PORTS_ANNOTATION,
  EXPORTED_LABEL,
  FEDERATED_LABEL,
  FEDERATED_MEMBER,
  FEDERATION_LABEL,
  REMOTE_DISCOVERY_EXPORT,
  REMOTE_DISCOVERY_LABEL,
  REMOTE_GATEWAY_ANNOTATION,
  REMOTE_SERVICE_LABEL,
} from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { V1EndpointSlice, V1Service } from '../kube/types.js';
import {
  type Cluster,
  condition,
  editLinkSpec,
  exportService,
  getLink,
  getService,
  getSlice,
  link,
  recordService,
  setRemoteEndpoints,
  startCluster,
  waitFor,
  waitReady,
  worldPerTest,
} from './test-harness.js';

const discovery = { exported: false, labels: { [EXPORTED_LABEL]: REMOTE_DISCOVERY_EXPORT } };
const HEADLESS_SERVICE = 'service.kubernetes.io/headless';

const startWorld = worldPerTest();

/** `address=ready` per endpoint of the local mirror's slice, sorted as the controller writes them. */
function endpointsOf(slice: V1EndpointSlice | undefined): string[] {
  return (slice?.endpoints ?? []).map((e) => `${e.addresses[0]}=${e.conditions?.ready}`);
}

async function waitEndpoints(local: Cluster, name: string, want: string[]): Promise<V1EndpointSlice> {
  return waitFor(
    async () => {
      const slice = await getSlice(local, 'default', name);
      return endpointsOf(slice).join() === want.join() ? slice : undefined;
    },
    { what: `${name} endpoints ${want.join(' ')}` },
  );
}

/** Replaces the remote Service's export and federation labels, as a user moving it between modes. */
async function setModeLabels(remote: Cluster, name: string, mode: Record<string, string>): Promise<void> {
  await updateWithRetry<V1Service>(remote.client, R.services, 'default', name, (svc) => {
    const { [EXPORTED_LABEL]: _e, [FEDERATED_LABEL]: _f, ...labels } = svc.metadata?.labels ?? {};
    return { ...svc, metadata: { ...svc.metadata, labels: { ...labels, ...mode } } };
  });
}

/** West's EndpointSlice controller replacing a slice by one of another family (addressType is immutable). */
async function replaceRemoteSlice(
  remote: Cluster,
  from: string,
  to: string,
  addressType: 'IPv4' | 'IPv6',
  address: string,
): Promise<void> {
  await remote.client.delete(R.endpointSlices, 'default', from);
  await remote.client.create<V1EndpointSlice>(R.endpointSlices, {
    metadata: { name: to, namespace: 'default', labels: { 'kubernetes.io/service-name': 'db' } },
    addressType,
    endpoints: [{ addresses: [address], conditions: { ready: true } }],
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  });
}

/** East linked to west, whose `db` (one ready pod) is mirrored in remote-discovery mode. */
async function dbMirrored(): Promise<{ east: Cluster; west: Cluster; slice: V1EndpointSlice }> {
  const world = await startWorld(['east', 'west']);
  const [east, west] = [world.c('east'), world.c('west')];
  await exportService(west, 'db', { ...discovery, ready: 1 });
  await link(east, west, 'west');
  world.controller('east');
  return { east, west, slice: await waitEndpoints(east, 'db-west', ['10.244.1.10=true']) };
}

describe('remote discovery (mirror.linkerd.io/exported=remote-discovery)', () => {
  it("mirrors the remote pods' own addresses, follows their readiness and ignores the gateway", async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'db', { ...discovery, ready: 2 });
    await exportService(west, 'web', { ready: 1 });
    await link(east, west, 'west', { probeSpec: { period: '100ms', timeout: '500ms', failureThreshold: 2 } });
    world.controller('east');

    const slice = await waitEndpoints(east, 'db-west', ['10.244.1.10=true', '10.244.1.11=true']);
    expect(slice.ports).toEqual([{ name: 'http', port: 8080, protocol: 'TCP' }]);
    const svc = await getService(east, 'default', 'db-west');
    expect(svc?.metadata?.labels).toMatchObject({
      [REMOTE_DISCOVERY_LABEL]: 'west',
      [REMOTE_SERVICE_LABEL]: 'db',
    });
    // No gateway: no egress port allocated, no remote gateway to tunnel to.
    expect(svc?.metadata?.annotations?.[EGRESS_PORTS_ANNOTATION]).toBeUndefined();
    expect(svc?.metadata?.annotations?.[REMOTE_GATEWAY_ANNOTATION]).toBeUndefined();

    // A pod goes unready in west: the mirror says so for that address alone.
    await updateWithRetry<V1EndpointSlice>(west.client, R.endpointSlices, 'default', 'db-abc', (s) => ({
      ...s,
      endpoints: (s.endpoints ?? []).map((e, i) => (i === 1 ? { ...e, conditions: { ready: false } } : e)),
    }));
    await waitEndpoints(east, 'db-west', ['10.244.1.10=true', '10.244.1.11=false']);

    // The gateway dies: the tunnelled mirror goes unready, the remote-discovery one does not.
    world.probe.dead.add('*');
    await waitReady(east, 'default', 'web-west', false);
    expect(endpointsOf(await getSlice(east, 'default', 'db-west'))).toEqual([
      '10.244.1.10=true',
      '10.244.1.11=false',
    ]);

    // The last ready pod goes unready too.
    await setRemoteEndpoints(west, 'default', 'db', 0);
    await waitEndpoints(east, 'db-west', ['10.244.1.10=false']);
  });

  it('a named targetPort mid-rollout: the pods on either port number are mirrored, each set in its own slice; the stale one goes when the rollout ends', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    // West's EndpointSlice controller mid-rollout: `http` is 8080 on the old pods (api-abc), 9090
    // on the new ones.
    await exportService(west, 'api', { ...discovery, ready: 2 });
    const newPods = (addresses: string[]): V1EndpointSlice => ({
      metadata: { name: 'api-new', namespace: 'default', labels: { 'kubernetes.io/service-name': 'api' } },
      addressType: 'IPv4',
      endpoints: addresses.map((address) => ({ addresses: [address], conditions: { ready: true } })),
      ports: [{ name: 'http', port: 9090, protocol: 'TCP' }],
    });
    await west.client.create<V1EndpointSlice>(R.endpointSlices, newPods(['10.244.2.20', '10.244.2.21']));
    await link(east, west, 'west');
    world.controller('east');

    const portsOf = (slice: V1EndpointSlice | undefined) => slice?.ports?.map((p) => `${p.name}=${p.port}`);
    await waitEndpoints(east, 'api-west', ['10.244.1.10=true', '10.244.1.11=true']);
    const second = await waitEndpoints(east, 'api-west.1', ['10.244.2.20=true', '10.244.2.21=true']);
    expect(portsOf(await getSlice(east, 'default', 'api-west'))).toEqual(['http=8080']);
    expect(portsOf(second)).toEqual(['http=9090']);
    expect(second.metadata?.labels?.['kubernetes.io/service-name']).toBe('api-west');

    // The rollout ends: every pod on 9090, the old slice gone. The mirror's stale slice goes too.
    await west.client.delete(R.endpointSlices, 'default', 'api-abc');
    await updateWithRetry<V1EndpointSlice>(west.client, R.endpointSlices, 'default', 'api-new', (s) => ({
      ...s,
      endpoints: newPods(['10.244.2.20', '10.244.2.21', '10.244.2.22']).endpoints,
    }));
    const last = await waitEndpoints(east, 'api-west', [
      '10.244.2.20=true',
      '10.244.2.21=true',
      '10.244.2.22=true',
    ]);
    expect(portsOf(last)).toEqual(['http=9090']);
    await waitFor(async () => ((await getSlice(east, 'default', 'api-west.1')) ? undefined : true), {
      what: 'api-west.1 deleted',
    });
  });

  it('a headless remote Service gets a headless mirror whose DNS names are the remote pods', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'kafka', {
      ...discovery,
      headless: true,
      ready: 2,
      hostnames: ['kafka-0', 'kafka-1'],
    });
    await link(east, west, 'west');
    world.controller('east');
    const slice = await waitEndpoints(east, 'kafka-west', ['10.244.1.10=true', '10.244.1.11=true']);
    expect(slice.endpoints?.map((e) => e.hostname)).toEqual(['kafka-0', 'kafka-1']);
    // As kube labels a headless Service's slices: kube-proxy has no cluster IP to serve from them.
    expect(slice.metadata?.labels?.[HEADLESS_SERVICE]).toBe('');
    expect((await getService(east, 'default', 'kafka-west'))?.spec?.clusterIP).toBe('None');
    // No per-pod mirrors: the pods' addresses are reachable as they are.
    expect(await getService(east, 'default', 'kafka-0-west')).toBeUndefined();
  });

  it('remote pods that move to IPv6 and back (a dual-stack migration rolled back): the mirror is re-created in their family each time', async () => {
    const world = await startWorld(['east', 'west'], { serviceCidr: '10.96.0.0/16,fd00:10:96::/112' });
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'db', { ...discovery, ready: 1 });
    await link(east, west, 'west');
    world.controller('east');
    const before = await waitEndpoints(east, 'db-west', ['10.244.1.10=true']);
    const service = await getService(east, 'default', 'db-west');
    expect(service?.spec?.ipFamilies).toEqual(['IPv4']);
    // West's EndpointSlice controller replaces the IPv4 slice by an IPv6 one (addressType is immutable).
    await replaceRemoteSlice(west, 'db-abc', 'db-v6', 'IPv6', 'fd00:10:244::10');
    const after = await waitEndpoints(east, 'db-west', ['fd00:10:244::10=true']);
    expect(after.addressType).toBe('IPv6');
    expect(after.metadata?.uid).not.toBe(before.metadata?.uid);
    // kube-proxy would not route IPv6 pods behind an IPv4 Service: the mirror Service is IPv6 now
    // (a Service's primary family is immutable, so it was re-created).
    const v6 = await getService(east, 'default', 'db-west');
    expect(v6?.spec?.ipFamilies).toEqual(['IPv6']);
    expect(v6?.metadata?.uid).not.toBe(service?.metadata?.uid);
    expect(condition(await getLink(east, 'west'), 'Ready')?.status).toBe('True');

    // Rolled back: IPv4 pods again, the cluster's default family, which the mirror must return to.
    await replaceRemoteSlice(west, 'db-v6', 'db-abc', 'IPv4', '10.244.1.10');
    await waitEndpoints(east, 'db-west', ['10.244.1.10=true']);
    const v4 = await waitFor(
      async () => {
        const svc = await getService(east, 'default', 'db-west');
        return svc?.spec?.ipFamilies?.[0] === 'IPv4' ? svc : undefined;
      },
      { what: 'db-west an IPv4 Service again' },
    );
    expect(v4.spec?.clusterIP).toMatch(/^10\.96\./);
    expect((await getSlice(east, 'default', 'db-west'))?.addressType).toBe('IPv4');
  });

  it("a remote-discovery mirror of IPv6 pods moved to the tunnel becomes a Service of the gateways' family", async () => {
    const world = await startWorld(['east', 'west'], { serviceCidr: '10.96.0.0/16,fd00:10:96::/112' });
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'db', { ...discovery, ready: 1 });
    await replaceRemoteSlice(west, 'db-abc', 'db-v6', 'IPv6', 'fd00:10:244::10');
    await link(east, west, 'west');
    world.controller('east');
    await waitEndpoints(east, 'db-west', ['fd00:10:244::10=true']);
    expect((await getService(east, 'default', 'db-west'))?.spec?.ipFamilies).toEqual(['IPv6']);

    // Through the gateways now: the slice lists the local gateway (10.0.0.5), an IPv4 address.
    await setModeLabels(west, 'db', { [EXPORTED_LABEL]: 'true' });
    const slice = await waitEndpoints(east, 'db-west', ['10.0.0.5=true']);
    expect(slice.addressType).toBe('IPv4');
    const svc = await waitFor(
      async () => {
        const s = await getService(east, 'default', 'db-west');
        return s?.spec?.ipFamilies?.[0] === 'IPv4' ? s : undefined;
      },
      { what: 'db-west an IPv4 Service' },
    );
    expect(svc.metadata?.annotations?.[EGRESS_PORTS_ANNOTATION]).toMatch(/^http=\d+$/);
  });

  it('moving an export between the tunnel, a federation and remote discovery updates the same mirror, never deletes it', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'web', { ready: 1 });
    await link(east, west, 'west');
    world.controller('east');
    await waitEndpoints(east, 'web-west', ['10.0.0.5=true']);
    const uid = (await getService(east, 'default', 'web-west'))?.metadata?.uid;
    expect((await getService(east, 'default', 'web-west'))?.metadata?.annotations).toHaveProperty(
      EGRESS_PORTS_ANNOTATION,
    );
    // Each move is seen by two of the remote watches separately: the mirror must live through the gap.
    const recorder = await recordService(east, 'default', 'web-west');
    try {
      for (let round = 0; round < 2; round++) {
        await setModeLabels(west, 'web', { [EXPORTED_LABEL]: REMOTE_DISCOVERY_EXPORT });
        await waitEndpoints(east, 'web-west', ['10.244.1.10=true']);
        const direct = await getService(east, 'default', 'web-west');
        expect(direct?.metadata?.annotations).not.toHaveProperty(EGRESS_PORTS_ANNOTATION);
        expect(direct?.metadata?.labels?.[REMOTE_DISCOVERY_LABEL]).toBe('west');

        await setModeLabels(west, 'web', { [FEDERATED_LABEL]: FEDERATED_MEMBER });
        await waitEndpoints(east, 'web-west', ['10.0.0.5=true']);
        await waitFor(
          async () => (await getService(east, 'default', 'web-west'))?.metadata?.labels?.[FEDERATION_LABEL],
          { what: 'web-west labelled with its federation' },
        );

        await setModeLabels(west, 'web', { [EXPORTED_LABEL]: 'true' });
        const tunnelled = await waitFor(
          async () => {
            const svc = await getService(east, 'default', 'web-west');
            return svc?.metadata?.labels?.[FEDERATION_LABEL] === undefined ? svc : undefined;
          },
          { what: 'web-west out of the federation' },
        );
        expect(tunnelled.metadata?.labels).not.toHaveProperty(REMOTE_DISCOVERY_LABEL);
        expect(tunnelled.metadata?.annotations?.[EGRESS_PORTS_ANNOTATION]).toMatch(/^http=\d+$/);
        await waitEndpoints(east, 'web-west', ['10.0.0.5=true']);
      }
      // Every event up to the last state read is recorded: the watch has caught up with it.
      const last = await getService(east, 'default', 'web-west');
      await waitFor(() => recorder.current()?.metadata?.resourceVersion === last?.metadata?.resourceVersion, {
        what: 'recorder caught up',
      });
      expect(last?.metadata?.uid).toBe(uid);
      // The first list's `add`, then updates of that one object: never a delete, never another uid.
      expect(new Set(recorder.seen)).toEqual(new Set([`add ${uid}`, `update ${uid}`]));
    } finally {
      await recorder.stop();
    }
  });

  it('an empty remoteDiscoverySelector on the Link removes those mirrors', async () => {
    const { east } = await dbMirrored();
    await editLinkSpec(east, 'west', (spec) => ({ ...spec, remoteDiscoverySelector: {} }));
    await waitFor(async () => !(await getService(east, 'default', 'db-west')), { what: 'db-west deleted' });
  });

  it('a Link without a gateway mirrors remote-discovery Services only, and probes nothing', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'db', { ...discovery, ready: 1 });
    await exportService(west, 'web', { ready: 1 });
    await link(east, west, 'west', { gatewayAddress: undefined });
    world.controller('east');
    await waitEndpoints(east, 'db-west', ['10.244.1.10=true']);
    const synced = await waitFor(
      async () => {
        const l = await getLink(east, 'west');
        return condition(l, 'Ready')?.status === 'True' && l?.status?.mirroredServices === 1 ? l : undefined;
      },
      { what: 'Link west Ready with 1 service mirrored' },
    );
    expect(synced.status?.conditions?.map((c) => c.type)).not.toContain('GatewayAlive');
    // `web` is exported through the gateways, which this Link does not have.
    expect(await getService(east, 'default', 'web-west')).toBeUndefined();
    expect(world.probe.seen).toEqual([]);

    // Given a gateway later, the same Link probes it and mirrors the export through it.
    await editLinkSpec(east, 'west', (spec) => ({ ...spec, gatewayAddress: '10.1.0.1' }));
    await waitEndpoints(east, 'web-west', ['10.0.0.5=true']);
    await waitFor(async () => condition(await getLink(east, 'west'), 'GatewayAlive')?.status === 'True', {
      what: 'GatewayAlive=True once the Link has a gateway',
    });
    expect(world.probe.seen).toContain('10.1.0.1:4143');
    await waitEndpoints(east, 'db-west', ['10.244.1.10=true']);
  });

  it('a cluster without a gateway (--no-gateway): a Link with one is invalid and mirrors nothing; relinked without, it mirrors', async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'db', { ...discovery, ready: 1 });
    await exportService(west, 'web', { ready: 1 });
    await link(east, west, 'west');
    world.controller('east', { localGateway: false });
    const invalid = await waitFor(
      async () => {
        const ready = condition(await getLink(east, 'west'), 'Ready');
        return ready?.reason === 'LinkInvalid' ? ready : undefined;
      },
      { what: 'Link west LinkInvalid' },
    );
    expect(invalid.message).toContain('isthmus link --no-gateway');
    expect(world.probe.seen).toEqual([]);
    expect(await getService(east, 'default', 'db-west')).toBeUndefined();
    expect(await getService(east, 'default', 'web-west')).toBeUndefined();

    // The Link made again without a gateway: its remote-discovery Service is mirrored, the export is not.
    await editLinkSpec(
      east,
      'west',
      ({ gatewayAddress: _, gatewayPort: __, gatewayIdentity: ___, ...spec }) => spec,
    );
    await waitEndpoints(east, 'db-west', ['10.244.1.10=true']);
    await waitFor(async () => condition(await getLink(east, 'west'), 'Ready')?.status === 'True', {
      what: 'Link west Ready',
    });
    expect(await getService(east, 'default', 'web-west')).toBeUndefined();
    expect(world.probe.seen).toEqual([]);
  });

  it('a Link to the cluster itself is invalid and mirrors nothing', async () => {
    const world = await startWorld(['east']);
    const east = world.c('east');
    await exportService(east, 'db', { ...discovery, ready: 1 });
    await link(east, east, 'east', { gatewayAddress: undefined });
    world.controller('east', { cluster: 'east' });
    const ready = await waitFor(
      async () => {
        const c = condition(await getLink(east, 'east'), 'Ready');
        return c?.reason === 'LinkInvalid' ? c : undefined;
      },
      { what: 'Link east LinkInvalid' },
    );
    expect(ready.message).toMatch(/is this cluster: a cluster is not linked to itself/);
    expect(await getService(east, 'default', 'db-east')).toBeUndefined();
  });

  it("on a Link without a gateway, a federated member's mirror lists its pods, labelled with its federation", async () => {
    const world = await startWorld(['east', 'west']);
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'cart', { exported: false, labels: { [FEDERATED_LABEL]: FEDERATED_MEMBER } });
    await link(east, west, 'west', { gatewayAddress: undefined });
    world.controller('east');
    await waitEndpoints(east, 'cart-west', ['10.244.1.10=true']);
    expect((await getService(east, 'default', 'cart-west'))?.metadata?.labels).toMatchObject({
      [FEDERATION_LABEL]: 'cart',
      [REMOTE_DISCOVERY_LABEL]: 'west',
    });
  });

  it('a remote address this API server refuses: InvalidService with its reason, healed when the pod moves', async () => {
    const world = await startWorld(['east']);
    // West's API server admits loopback endpoints (as the lab's sandbox does); east's refuses them.
    world.clusters.set('west', await startCluster('west', { allowLoopbackEndpoints: true }));
    const [east, west] = [world.c('east'), world.c('west')];
    await exportService(west, 'db', { ...discovery, ready: 1 });
    const moveTo = (address: string) =>
      updateWithRetry<V1EndpointSlice>(west.client, R.endpointSlices, 'default', 'db-abc', (s) => ({
        ...s,
        endpoints: [{ addresses: [address], conditions: { ready: true } }],
      }));
    await moveTo('127.0.0.1');
    await link(east, west, 'west');
    world.controller('east');
    const entry = await waitFor(
      async () => (await getLink(east, 'west'))?.status?.services?.find((x) => x.name === 'db'),
      { what: 'db reported in the Link status' },
    );
    expect(entry).toMatchObject({ reason: 'InvalidService' });
    expect(entry.message).toMatch(/^the local API server refused the mirror: .*loopback/);
    expect(await getSlice(east, 'default', 'db-west')).toBeUndefined();

    await moveTo('10.244.1.10');
    await waitEndpoints(east, 'db-west', ['10.244.1.10=true']);
  });

  it('remote pods of the other family: a mirror Service of their family when this cluster is dual-stack, InvalidService when it cannot be', async () => {
    const world = await startWorld(['west']);
    world.clusters.set('east', await startCluster('east', { serviceCidr: 'fd00:10:96::/112,10.96.0.0/16' }));
    world.clusters.set('south', await startCluster('south', { serviceCidr: 'fd00:10:96::/112' }));
    const [east, south, west] = [world.c('east'), world.c('south'), world.c('west')];
    await exportService(west, 'db', { ...discovery, ready: 1 });
    for (const local of [east, south]) await link(local, west, 'west');
    world.controller('east');
    world.controller('south');

    // East (IPv6 first) gives the mirror IPv4, the family of the pods it lists: kube-proxy routes it.
    await waitEndpoints(east, 'db-west', ['10.244.1.10=true']);
    const svc = await getService(east, 'default', 'db-west');
    expect(svc?.spec?.ipFamilies).toEqual(['IPv4']);
    expect(svc?.spec?.clusterIP).toMatch(/^10\.96\./);

    // South is IPv6 only: no mirror that could never route, and the reason is in the Link status.
    const entry = await waitFor(
      async () => (await getLink(south, 'west'))?.status?.services?.find((x) => x.name === 'db'),
      { what: 'db reported in south' },
    );
    expect(entry).toMatchObject({ reason: 'InvalidService' });
    expect(entry.message).toMatch(/"IPv4": not configured on this cluster/);
    expect(await getService(south, 'default', 'db-west')).toBeUndefined();
  });
});
