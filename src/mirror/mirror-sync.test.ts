/**
 * syncService against the strict sandbox, with a namespace cache that has not caught up with the
 * API server yet: the answers a controller meets between a change and its watch event.
 */
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubeClient } from '../kube/client.js';
import { isRetryable } from '../kube/errors.js';
import { FlakyClient } from '../kube/flaky-client.js';
import { createInformer, type Informer } from '../kube/informer.js';
import {
  EGRESS_PORTS_ANNOTATION,
  ISTHMUS_MIRROR_LABEL,
  MANAGED_BY_LABEL,
  MANAGED_BY_MIRROR,
  REMOTE_GATEWAY_ANNOTATION,
  SERVICE_NAME_LABEL,
} from '../kube/keys.js';
import { R } from '../kube/resources.js';
import { synced as syncedWithin } from '../kube/test-support.js';
import type { V1EndpointSlice, V1Namespace, V1Service } from '../kube/types.js';
import { type Sandbox, startSandbox } from '../sandbox/index.js';
import type { AppliedAction } from './applier.js';
import { NO_DIRECT_ENDPOINTS } from './direct-endpoints.js';
import { mirrorMetrics } from './metrics.js';
import { parseEgressPorts } from './mirror-objects.js';
import { portsLeft, type SyncContext, type SyncResult, syncService } from './mirror-sync.js';
import type { LocalMirror, MirrorPlan } from './plan-mirror.js';
import { mirrorOwner, PortAllocator } from './port-allocator.js';
import { Leadership, type SharedLocal, silentLogger } from './shared.js';
import { linkConfig, linkerdMirror, ourLabels, remoteService } from './test-builders.js';
import { waitFor } from './test-wait.js';

/** West's key for the egress ports of its mirror shop/api-west. */
const API_WEST = mirrorOwner('west', 'shop', 'api-west');

let sandbox: Sandbox;
let admin: KubeClient;
const informers: Informer<V1Service | V1EndpointSlice | V1Namespace>[] = [];
const clients: KubeClient[] = [];

beforeEach(async () => {
  sandbox = await startSandbox({ name: 'east', tls: false });
  admin = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
  clients.push(admin);
});

afterEach(async () => {
  await Promise.all(informers.splice(0).map((i) => i.stop()));
  for (const c of clients.splice(0)) c.close();
  await sandbox.close();
});

/** Starts `informer` (stopped after the test) and waits, with a deadline, for it to sync. */
async function synced<T extends V1Service | V1EndpointSlice | V1Namespace>(informer: Informer<T>) {
  informers.push(informer as Informer<V1Service | V1EndpointSlice | V1Namespace>);
  informer.start();
  return syncedWithin(informer, 'the informer');
}

/** The context of one sync of west's `shop/api` (exported, one ready pod), writing with `client`. */
async function context(
  client: KubeClient,
  namespaces: Informer<V1Namespace>,
  gatewayAddresses = ['10.0.0.5'],
  caches: { services?: Informer<V1Service>; allocator?: PortAllocator } = {},
): Promise<{ ctx: SyncContext; allocator: PortAllocator }> {
  const allocator = caches.allocator ?? new PortAllocator({ first: 20000, last: 20009 });
  const shared: SharedLocal = {
    client,
    services: caches.services ?? (await synced(createInformer<V1Service>(admin, R.services))),
    slices: await synced(createInformer<V1EndpointSlice>(admin, R.endpointSlices)),
    namespaces,
    gatewayAddresses: () => ['10.0.0.5'],
    clusterFamily: () => 'IPv4',
    onGatewayAddresses: () => () => {},
    allocator,
    metrics: mirrorMetrics(new Registry()),
    leadership: new Leadership(true),
    adminUrl: 'http://127.0.0.1:1',
    log: silentLogger,
    remoteClient: () => {
      throw new Error('no remote client in this test');
    },
    resolveIntervalMs: 60_000,
    workers: 1,
  };
  const api = remoteService('api', { namespace: 'shop' });
  const ctx: SyncContext = {
    config: linkConfig('west'),
    shared,
    remoteSynced: () => true,
    remoteService: (ns, name) =>
      ns === 'shop' && name === 'api' ? { service: api, mode: 'gateway' } : undefined,
    remoteEndpoints: () => ({ ready: 1, hostnames: [], total: 1, named: false }),
    directEndpoints: () => NO_DIRECT_ENDPOINTS,
    gateway: () => ({ alive: true, addresses: gatewayAddresses, remote: '10.1.0.1:4143' }),
  };
  return { ctx, allocator };
}

/** A client of the sandbox as `user`, allowed only `rules`. */
function clientAs(user: string, rules: Parameters<Sandbox['addToken']>[1]['rules']): KubeClient {
  sandbox.addToken(user, { username: user, rules });
  const client = KubeClient.fromKubeconfigString(sandbox.kubeconfig({ token: user, user }));
  clients.push(client);
  return client;
}

/** The sync left west's shop/api without a mirror, for `reason`. */
function expectNotMirrored(result: SyncResult, reason: string, message: unknown): void {
  expect(result.status).toEqual({ namespace: 'shop', name: 'api', reason, message });
  expect(result.ready).toBe(false);
}

/**
 * West's mirror shop/api-west as a sync left it, naming `http=<port>`, and its slice vouching for
 * `vouched` (the namespace exists).
 */
async function mirrorOfWest(port: number, vouched: number[]): Promise<void> {
  const svc = await admin.create<V1Service>(R.services, {
    metadata: {
      name: 'api-west',
      namespace: 'shop',
      labels: ourLabels('west'),
      annotations: {
        [REMOTE_GATEWAY_ANNOTATION]: '10.1.0.1:4143',
        [EGRESS_PORTS_ANNOTATION]: `http=${port}`,
      },
    },
    spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
  });
  await admin.create<V1EndpointSlice>(R.endpointSlices, {
    metadata: {
      name: 'api-west',
      namespace: 'shop',
      labels: {
        ...ourLabels('west', false),
        [MANAGED_BY_LABEL]: MANAGED_BY_MIRROR,
        [SERVICE_NAME_LABEL]: 'api-west',
      },
      annotations: { [EGRESS_PORTS_ANNOTATION]: vouched.map((p) => `http=${p}`).join(',') },
      ownerReferences: [
        { apiVersion: 'v1', kind: 'Service', name: 'api-west', uid: svc.metadata!.uid!, controller: true },
      ],
    },
    addressType: 'IPv4',
    endpoints: [{ addresses: ['10.0.0.5'], conditions: { ready: true } }],
    ports: vouched.map((p) => ({ name: 'http', port: p, protocol: 'TCP' })),
  });
}

describe('syncService', () => {
  it('a create refused because the namespace is being deleted, before the cache shows it: MissingNamespace, retried', async () => {
    await admin.create(R.namespaces, { metadata: { name: 'shop' } });
    // A finalizer on something inside holds the namespace in Terminating.
    await admin.create(R.configMaps, {
      metadata: { name: 'held', namespace: 'shop', finalizers: ['example.com/hold'] },
    });
    // The namespace cache as it was before the deletion's watch event: stopped, it never sees it.
    const namespaces = await synced(createInformer<V1Namespace>(admin, R.namespaces));
    await namespaces.stop();
    await admin.delete(R.namespaces, undefined, 'shop');
    expect(
      (await admin.get<V1Namespace>(R.namespaces, undefined, 'shop'))?.metadata?.deletionTimestamp,
    ).toBeTruthy();
    expect(namespaces.get(undefined, 'shop')?.metadata?.deletionTimestamp).toBeUndefined();

    const { ctx, allocator } = await context(admin, namespaces);
    const result = await syncService(ctx, 'shop', 'api');
    expectNotMirrored(
      result,
      'MissingNamespace',
      'namespace shop is being deleted locally: mirrored again once it is re-created',
    );
    // Retried with the queue's backoff: the namespace's own events re-queue the key as well.
    expect(result.retry).toBeDefined();
    expect(isRetryable(result.retry)).toBe(true);
    expect(allocator.owned(API_WEST).size).toBe(0);
    expect(await admin.get(R.services, 'shop', 'api-west')).toBeUndefined();
  });

  it('a create that RBAC refuses is ApplyFailed, its error terminal: not retried in a loop', async () => {
    await admin.create(R.namespaces, { metadata: { name: 'shop' } });
    const readOnly = clientAs('read-only', [
      { verbs: ['get', 'list', 'watch'], resources: ['services', 'endpointslices', 'namespaces'] },
    ]);
    const namespaces = await synced(createInformer<V1Namespace>(admin, R.namespaces));
    const { ctx, allocator } = await context(readOnly, namespaces);
    const result = await syncService(ctx, 'shop', 'api');
    // Not Mirrored: the status says what the API server answered.
    expectNotMirrored(
      result,
      'ApplyFailed',
      expect.stringMatching(
        /^the local API server refused the mirror: POST .*: 403 Forbidden: services is forbidden: User "read-only" cannot create resource "services"/,
      ),
    );
    // Thrown by the watcher after it is recorded: a failed sync, not retried.
    expect(result.retry).toMatchObject({ code: 'KUBE_FORBIDDEN', terminal: true });
    expect(allocator.owned(API_WEST).size).toBe(0);
  });

  describe('a write refused after the mirror Service was written: its egress ports stay with it while it names them', () => {
    /** The sync wrote shop/api-west, and the allocator holds exactly the ports it names for it. */
    async function expectPortsKept(allocator: PortAllocator): Promise<void> {
      const written = await admin.get<V1Service>(R.services, 'shop', 'api-west');
      const claimed = parseEgressPorts(written?.metadata?.annotations?.[EGRESS_PORTS_ANNOTATION]);
      expect(claimed.size).toBe(1);
      expect(allocator.owned(API_WEST)).toEqual(claimed);
      // The gateway listens on that port for api-west: no other mirror is handed it.
      const port = [...claimed.values()][0];
      for (let i = 0; i < 9; i++)
        expect([...allocator.allocate(`shop/other-${i}`, ['http']).values()]).not.toContain(port);
      expect(allocator.allocate('shop/one-too-many', ['http']).size).toBe(0);
    }

    it('the slice refused as invalid (422): InvalidService', async () => {
      await admin.create(R.namespaces, { metadata: { name: 'shop' } });
      const namespaces = await synced(createInformer<V1Namespace>(admin, R.namespaces));
      // A loopback gateway address, which the API server refuses in an EndpointSlice.
      const { ctx, allocator } = await context(admin, namespaces, ['127.0.0.1']);
      const result = await syncService(ctx, 'shop', 'api');
      expectNotMirrored(
        result,
        'InvalidService',
        expect.stringMatching(/^the local API server refused the mirror: .*422/),
      );
      await expectPortsKept(allocator);
    });

    it('its removal failing (the API server unavailable): kept until the Service is gone', async () => {
      await admin.create(R.namespaces, { metadata: { name: 'shop' } });
      const namespaces = await synced(createInformer<V1Namespace>(admin, R.namespaces));
      // The first DELETE of the Service fails, as an API server that is briefly unavailable does.
      const flaky = new FlakyClient(
        sandbox.kubeconfig(),
        1,
        (m, path) => m === 'DELETE' && path.includes('/services/'),
      );
      clients.push(flaky);
      const { ctx, allocator } = await context(flaky, namespaces);
      expect((await syncService(ctx, 'shop', 'api')).status?.reason).toBe('Mirrored');
      await waitFor(
        () => ctx.shared.services.get('shop', 'api-west') && ctx.shared.slices.get('shop', 'api-west'),
        {
          what: 'the mirror in the caches',
        },
      );
      // The remote Service lost its ports: InvalidService, the mirror is removed.
      const portless = remoteService('api', { namespace: 'shop', ports: [] });
      ctx.remoteService = () => ({ service: portless, mode: 'gateway' });
      await expect(syncService(ctx, 'shop', 'api')).rejects.toThrow(/injected: DELETE/);
      await expectPortsKept(allocator);
      // Retried: the mirror goes, and so do its ports.
      expectNotMirrored(await syncService(ctx, 'shop', 'api'), 'InvalidService', 'the Service has no ports');
      expect(await admin.get(R.services, 'shop', 'api-west')).toBeUndefined();
      expect(allocator.owned(API_WEST).size).toBe(0);
    });

    it('the slice refused by RBAC (403): ApplyFailed', async () => {
      await admin.create(R.namespaces, { metadata: { name: 'shop' } });
      const noSlices = clientAs('no-slices', [
        { verbs: ['get', 'list', 'watch', 'create', 'update', 'delete'], resources: ['services'] },
        { verbs: ['get', 'list', 'watch'], resources: ['endpointslices', 'namespaces'] },
      ]);
      const namespaces = await synced(createInformer<V1Namespace>(admin, R.namespaces));
      const { ctx, allocator } = await context(noSlices, namespaces);
      const result = await syncService(ctx, 'shop', 'api');
      expectNotMirrored(
        result,
        'ApplyFailed',
        expect.stringMatching(/^the local API server refused the mirror: POST .*endpointslices.*403/),
      );
      await expectPortsKept(allocator);
    });
  });

  it('a Conflict from a Service cache behind the API keeps the egress ports of our mirror that holds the name by now', async () => {
    await admin.create(R.namespaces, { metadata: { name: 'shop' } });
    // The Service cache last saw Linkerd's mirror of west at shop/api-west, and falls behind.
    await admin.create<V1Service>(R.services, linkerdMirror('api-west', 'west', 'shop'));
    const services = await synced(createInformer<V1Service>(admin, R.services));
    await services.stop();
    // Meanwhile Linkerd's goes and ours takes the name (another worker, a leader before this
    // one), at the egress port the allocator gave it, with its slice.
    await admin.delete(R.services, 'shop', 'api-west');
    const allocator = new PortAllocator({ first: 20000, last: 20009 });
    expect(allocator.allocate(API_WEST, ['http'])).toEqual(new Map([['http', 20000]]));
    await mirrorOfWest(20000, [20000]);
    const namespaces = await synced(createInformer<V1Namespace>(admin, R.namespaces));
    const { ctx } = await context(admin, namespaces, undefined, { services, allocator });
    await waitFor(() => ctx.shared.slices.get('shop', 'api-west'), { what: 'our slice in the cache' });

    const result = await syncService(ctx, 'shop', 'api');
    expect(result.status?.reason).toBe('Conflict');
    // The applier's guard found our mirror holding the name: the slice stays, and so do its ports.
    expect(result.applied).toEqual([
      { action: 'deleteSlice', namespace: 'shop', name: 'api-west', outcome: 'unchanged', stayed: true },
    ]);
    expect(await admin.get(R.endpointSlices, 'shop', 'api-west')).toBeDefined();
    expect(allocator.owned(API_WEST)).toEqual(new Map([['http', 20000]]));
  });

  describe("egress ports at a name another Link's mirror holds (a colliding name: each Link has its own key)", () => {
    const keyOf = (cluster: string) => mirrorOwner(cluster, 'shop', 'api-us-west');

    /** `cluster`'s mirror shop/api-us-west (us-west's of `api`, west's of `api-us`), at the port its key gets. */
    async function mirrorAt(allocator: PortAllocator, cluster: string): Promise<number> {
      const [port = 0] = allocator.allocate(keyOf(cluster), ['http']).values();
      await admin.create<V1Service>(R.services, {
        metadata: {
          name: 'api-us-west',
          namespace: 'shop',
          labels: { ...ourLabels(cluster, false), [ISTHMUS_MIRROR_LABEL]: cluster },
          annotations: {
            [REMOTE_GATEWAY_ANNOTATION]: '10.2.0.1:4143',
            [EGRESS_PORTS_ANNOTATION]: `http=${port}`,
          },
        },
        spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
      });
      return port;
    }

    /** West's sync context, with its `shop/api-us` exported as `remote`. */
    async function apiUsOfWest(
      remote: V1Service,
      mode: 'gateway' | 'remote-discovery',
      caches: { services?: Informer<V1Service>; allocator: PortAllocator },
    ): Promise<SyncContext> {
      const namespaces = await synced(createInformer<V1Namespace>(admin, R.namespaces));
      const { ctx } = await context(admin, namespaces, undefined, caches);
      ctx.remoteService = (ns, name) =>
        ns === 'shop' && name === 'api-us' ? { service: remote, mode } : undefined;
      return ctx;
    }

    it("west's remote-discovery api-us, a Conflict with us-west's mirror api-us-west, leaves it its port", async () => {
      await admin.create(R.namespaces, { metadata: { name: 'shop' } });
      const allocator = new PortAllocator({ first: 20000, last: 20009 });
      expect(await mirrorAt(allocator, 'us-west')).toBe(20000);
      const ctx = await apiUsOfWest(remoteService('api-us', { namespace: 'shop' }), 'remote-discovery', {
        allocator,
      });
      expect((await syncService(ctx, 'shop', 'api-us')).status?.reason).toBe('Conflict');
      // us-west's gateway listens on 20000 for its mirror: no other mirror is handed it.
      expect(allocator.owned(keyOf('us-west'))).toEqual(new Map([['http', 20000]]));
      expect([...allocator.allocate('shop/other-west', ['http']).values()]).not.toContain(20000);
    });

    /**
     * West's mirror of api-us as the Service cache last saw it before falling behind; meanwhile it
     * was deleted and us-west's mirror of `api` took the name, at a port of its own key.
     */
    async function usWestBehindTheCache(allocator: PortAllocator): Promise<Informer<V1Service>> {
      await admin.create(R.namespaces, { metadata: { name: 'shop' } });
      expect(await mirrorAt(allocator, 'west')).toBe(20000);
      const services = await synced(createInformer<V1Service>(admin, R.services));
      await services.stop();
      await admin.delete(R.services, 'shop', 'api-us-west');
      expect(await mirrorAt(allocator, 'us-west')).toBe(20001);
      return services;
    }

    it("a skip whose delete the applier's guard refused (us-west's mirror holds the name by now): west's port goes back, us-west's stays", async () => {
      const allocator = new PortAllocator({ first: 20000, last: 20009 });
      const services = await usWestBehindTheCache(allocator);
      // West's api-us turns into an ExternalName Service: UnsupportedServiceType, its mirror to go.
      const externalName = remoteService('api-us', { namespace: 'shop', type: 'ExternalName' });
      const ctx = await apiUsOfWest(externalName, 'gateway', { services, allocator });
      const result = await syncService(ctx, 'shop', 'api-us');
      expect(result.status?.reason).toBe('UnsupportedServiceType');
      expect(result.applied).toContainEqual(
        expect.objectContaining({ action: 'deleteService', stayed: true }),
      );
      expect(await admin.get(R.services, 'shop', 'api-us-west')).toBeDefined();
      expect(allocator.owned(keyOf('us-west'))).toEqual(new Map([['http', 20001]]));
      expect(allocator.owned(keyOf('west')).size).toBe(0);
    });

    it("west's api-us gone, its mirror's delete refused by the guard (us-west's holds the name by now): west's port goes back, us-west's stays", async () => {
      const allocator = new PortAllocator({ first: 20000, last: 20009 });
      const services = await usWestBehindTheCache(allocator);
      const ctx = await apiUsOfWest(remoteService('api-us', { namespace: 'shop' }), 'gateway', {
        services,
        allocator,
      });
      ctx.remoteService = () => undefined;
      const result = await syncService(ctx, 'shop', 'api-us');
      expect(result.applied).toContainEqual(
        expect.objectContaining({ action: 'deleteService', stayed: true }),
      );
      expect(allocator.owned(keyOf('us-west'))).toEqual(new Map([['http', 20001]]));
      expect(allocator.owned(keyOf('west')).size).toBe(0);
    });

    it("west's api-us gone while us-west's mirror holds the name and west's key still holds a port: it goes back", async () => {
      await admin.create(R.namespaces, { metadata: { name: 'shop' } });
      const allocator = new PortAllocator({ first: 20000, last: 20009 });
      expect(await mirrorAt(allocator, 'us-west')).toBe(20000);
      // Left by a lost create whose read of the name failed (releasePortsUnlessNamed keeps them then).
      allocator.allocate(keyOf('west'), ['grpc']);
      const services = await synced(createInformer<V1Service>(admin, R.services));
      const ctx = await apiUsOfWest(remoteService('api-us', { namespace: 'shop' }), 'gateway', {
        services,
        allocator,
      });
      ctx.remoteService = () => undefined;
      expect(await syncService(ctx, 'shop', 'api-us')).toEqual({ applied: [], ready: false });
      expect(allocator.owned(keyOf('west')).size).toBe(0);
      expect(allocator.owned(keyOf('us-west'))).toEqual(new Map([['http', 20000]]));
    });

    /** A Service cache as of before `cluster`'s mirror took the name at 20000 (the cache shows nothing there). */
    async function cacheBefore(allocator: PortAllocator, cluster: string): Promise<Informer<V1Service>> {
      await admin.create(R.namespaces, { metadata: { name: 'shop' } });
      const services = await synced(createInformer<V1Service>(admin, R.services));
      await services.stop();
      expect(await mirrorAt(allocator, cluster)).toBe(20000);
      return services;
    }

    it("west's api-us gone, synced on a cache that shows nothing at the name yet: us-west's port stays", async () => {
      const allocator = new PortAllocator({ first: 20000, last: 20009 });
      const services = await cacheBefore(allocator, 'us-west');
      const ctx = await apiUsOfWest(remoteService('api-us', { namespace: 'shop' }), 'gateway', {
        services,
        allocator,
      });
      ctx.remoteService = () => undefined;
      await syncService(ctx, 'shop', 'api-us');
      expect(await admin.get(R.services, 'shop', 'api-us-west')).toBeDefined();
      expect(allocator.owned(keyOf('us-west'))).toEqual(new Map([['http', 20000]]));
    });

    // us-west's mirror holds its port under its own key; west's own mirror, made just now, is read.
    it.each(['us-west', 'west'])(
      "west's api-us skipped (ExternalName) on a cache that does not show %s's mirror at the name yet: its port stays",
      async (cluster) => {
        const allocator = new PortAllocator({ first: 20000, last: 20009 });
        const services = await cacheBefore(allocator, cluster);
        const externalName = remoteService('api-us', { namespace: 'shop', type: 'ExternalName' });
        const ctx = await apiUsOfWest(externalName, 'gateway', { services, allocator });
        expect((await syncService(ctx, 'shop', 'api-us')).status?.reason).toBe('UnsupportedServiceType');
        // The gateway listens on 20000 for that mirror until a sync that sees it deletes it.
        expect(allocator.owned(keyOf(cluster))).toEqual(new Map([['http', 20000]]));
      },
    );
  });
});

describe('syncService of a mirror whose key holds no egress port', () => {
  /** One sync of west's shop/api with `allocator`, and the port its mirror names after it. */
  async function syncedPort(allocator: PortAllocator): Promise<number | undefined> {
    const namespaces = await synced(createInformer<V1Namespace>(admin, R.namespaces));
    const { ctx } = await context(admin, namespaces, undefined, { allocator });
    await waitFor(() => ctx.shared.slices.get('shop', 'api-west'), { what: 'our slice in the cache' });
    expect((await syncService(ctx, 'shop', 'api')).status?.reason).toBe('Mirrored');
    const svc = await admin.get<V1Service>(R.services, 'shop', 'api-west');
    return parseEgressPorts(svc?.metadata?.annotations?.[EGRESS_PORTS_ANNOTATION]).get('http');
  }

  it('keeps the port it names when that port is free (a restart recovered it as a claim of a Service no Link named): not re-numbered under its callers', async () => {
    await admin.create(R.namespaces, { metadata: { name: 'shop' } });
    await mirrorOfWest(20003, [20003]);
    const allocator = new PortAllocator({ first: 20000, last: 20009 });
    // How recovery counts a mirror of a cluster it did not know was linked: its Service's own claim.
    allocator.reserveForeign('shop/api-west', [20003]);
    expect(await syncedPort(allocator)).toBe(20003);
    expect(allocator.owned(API_WEST)).toEqual(new Map([['http', 20003]]));
  });

  it('takes the next free port when another mirror holds the one it names', async () => {
    await admin.create(R.namespaces, { metadata: { name: 'shop' } });
    await mirrorOfWest(20003, [20003]);
    const held = new PortAllocator({ first: 20000, last: 20009 });
    held.allocate(mirrorOwner('west', 'shop', 'cart-west'), ['a', 'b', 'c', 'd']); // 20000-20003
    expect(await syncedPort(held)).toBe(20004);
  });

  it('does not take a port its slice does not vouch for: anyone who may write a Service may write the annotation', async () => {
    await admin.create(R.namespaces, { metadata: { name: 'shop' } });
    await mirrorOfWest(20003, [20001]);
    expect(await syncedPort(new PortAllocator({ first: 20000, last: 20009 }))).toBe(20000);
  });
});

describe('portsLeft', () => {
  const conflict = (actions: MirrorPlan['actions'] = []): MirrorPlan => ({
    name: 'api-us-west',
    actions,
    status: { namespace: 'shop', name: 'api-us', reason: 'Conflict' },
    ready: false,
  });
  const skip = (actions: MirrorPlan['actions'] = []): MirrorPlan => ({
    ...conflict(actions),
    status: { ...conflict().status, reason: 'NotAllowed' },
  });
  const mirrorOf = (cluster: string, egressPorts?: string): V1Service => ({
    metadata: {
      name: 'api-us-west',
      namespace: 'shop',
      labels: { ...ourLabels(cluster, false), [ISTHMUS_MIRROR_LABEL]: cluster },
      ...(egressPorts ? { annotations: { [EGRESS_PORTS_ANNOTATION]: egressPorts } } : {}),
    },
  });
  const deleteSlice = { kind: 'deleteSlice' as const, namespace: 'shop', name: 'api-us-west', heldBy: 'uid' };
  const deleteService = { kind: 'deleteService' as const, namespace: 'shop', name: 'api-us-west' };
  const gone = {
    action: 'deleteSlice' as const,
    namespace: 'shop',
    name: 'api-us-west',
    outcome: 'deleted' as const,
  };
  const serviceStayed = {
    action: 'deleteService' as const,
    namespace: 'shop',
    name: 'api-us-west',
    outcome: 'unchanged' as const,
    stayed: true as const,
  };

  // West's sync of its api-us, whose mirror name api-us-west us-west's `api` has too.
  const left = (plan: MirrorPlan, local: LocalMirror, applied: AppliedAction[], tunnelled: boolean) =>
    portsLeft(plan, local, applied, tunnelled, 'west');

  it("frees on a Conflict with a Service no Link's mirror, once our slices of it are gone", () => {
    const linkerds = { service: linkerdMirror('api-us-west', 'west', 'shop') };
    expect(left(conflict([deleteSlice]), linkerds, [gone], true)).toBe('free');
    expect(left(conflict(), linkerds, [], true)).toBe('free');
    // The applier's guard left one (the name changed hands behind the cache): whoever holds it decides.
    const stayed = { ...gone, outcome: 'unchanged' as const, stayed: true as const };
    expect(left(conflict([deleteSlice, deleteSlice]), linkerds, [gone, stayed], true)).toBe('read');
  });

  it("frees them at a name another Link's mirror holds: its ports are under its own key", () => {
    expect(left(conflict(), { service: mirrorOf('us-west', 'http=20000') }, [], true)).toBe('free');
    expect(left(skip(), { service: mirrorOf('us-west', 'http=20000') }, [], true)).toBe('free');
    // Nothing at the name in the cache, which may not show our own mirror made there just now: read.
    expect(left(skip(), {}, [], true)).toBe('read');
  });

  it('keeps them on a Conflict with a mirror of this cluster at the name (a per-pod mirror named as a plain one: one key)', () => {
    const podMirror = mirrorOf('west', 'http=20000');
    expect(left(conflict(), { service: podMirror }, [], true)).toBe('keep');
    expect(left(skip(), { service: podMirror }, [], true)).toBe('keep');
  });

  it("a skip whose delete of our mirror stayed (the name is another Service's by now) reads who holds it", () => {
    const ours = { service: mirrorOf('west', 'http=20000') };
    expect(left(skip([deleteService]), ours, [serviceStayed], true)).toBe('read');
    expect(
      left(skip([deleteService]), ours, [{ ...serviceStayed, outcome: 'deleted', stayed: undefined }], true),
    ).toBe('free');
  });

  it('a remote-discovery or headless target frees them only where no mirror of this cluster at the name names them', () => {
    // A Conflict with us-west's tunnelled mirror: its ports are under its own key.
    expect(left(conflict(), { service: mirrorOf('us-west', 'http=20000') }, [], false)).toBe('free');
    // One of ours there that names them (a per-pod mirror of that name) keeps them.
    expect(left(conflict(), { service: mirrorOf('west', 'http=20000') }, [], false)).toBe('keep');
    // A mirror that names none, or a Service no mirror of ours: nothing to keep (none at all: read).
    expect(left(conflict(), { service: mirrorOf('west') }, [], false)).toBe('free');
    expect(left(conflict(), { service: linkerdMirror('api-us-west', 'west', 'shop') }, [], false)).toBe(
      'free',
    );
    expect(left(skip(), {}, [], false)).toBe('read');
    // Our plain mirror rewritten as a remote-discovery one, or deleted: it names them no more.
    const ours = { service: mirrorOf('west', 'http=20000') };
    const apply = { kind: 'applyService' as const, service: mirrorOf('west') };
    expect(
      left({ ...conflict([apply]), status: { ...conflict().status, reason: 'Mirrored' } }, ours, [], false),
    ).toBe('free');
    expect(left(skip([deleteService]), ours, [], false)).toBe('free');
    expect(left(skip([deleteService]), ours, [serviceStayed], false)).toBe('read');
  });
});
