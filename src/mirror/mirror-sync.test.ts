/**
 * syncService against the strict sandbox, with a namespace cache that has not caught up with the
 * API server yet: the answers a controller meets between a change and its watch event.
 */
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubeClient } from '../kube/client.js';
import { isRetryable } from '../kube/errors.js';
import { createInformer, type Informer } from '../kube/informer.js';
import { R } from '../kube/resources.js';
import type { V1EndpointSlice, V1Namespace, V1Service } from '../kube/types.js';
import { type Sandbox, startSandbox } from '../sandbox/index.js';
import { NO_DIRECT_ENDPOINTS } from './direct-endpoints.js';
import { mirrorMetrics } from './metrics.js';
import { type SyncContext, type SyncResult, syncService } from './mirror-sync.js';
import { PortAllocator } from './port-allocator.js';
import { Leadership, type SharedLocal, silentLogger } from './shared.js';
import { linkConfig, remoteService } from './test-builders.js';

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

async function synced<T extends V1Service | V1EndpointSlice | V1Namespace>(informer: Informer<T>) {
  informers.push(informer as Informer<V1Service | V1EndpointSlice | V1Namespace>);
  informer.start();
  await informer.synced;
  return informer;
}

/** The context of one sync of west's `shop/api` (exported, one ready pod), writing with `client`. */
async function context(
  client: KubeClient,
  namespaces: Informer<V1Namespace>,
): Promise<{ ctx: SyncContext; allocator: PortAllocator }> {
  const allocator = new PortAllocator({ first: 20000, last: 20009 });
  const shared: SharedLocal = {
    client,
    services: await synced(createInformer<V1Service>(admin, R.services)),
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
    remoteEndpoints: () => ({ ready: 1, hostnames: [] }),
    directEndpoints: () => NO_DIRECT_ENDPOINTS,
    gateway: () => ({ alive: true, addresses: ['10.0.0.5'], remote: '10.1.0.1:4143' }),
  };
  return { ctx, allocator };
}

/** The sync left west's shop/api without a mirror, for `reason`. */
function expectNotMirrored(result: SyncResult, reason: string, message: unknown): void {
  expect(result.status).toEqual({ namespace: 'shop', name: 'api', reason, message });
  expect(result.ready).toBe(false);
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
    expect(allocator.owned('shop/api-west').size).toBe(0);
    expect(await admin.get(R.services, 'shop', 'api-west')).toBeUndefined();
  });

  it('a create that RBAC refuses is ApplyFailed, its error terminal: not retried in a loop', async () => {
    await admin.create(R.namespaces, { metadata: { name: 'shop' } });
    sandbox.addToken('read-only', {
      username: 'read-only',
      rules: [{ verbs: ['get', 'list', 'watch'], resources: ['services', 'endpointslices', 'namespaces'] }],
    });
    const readOnly = KubeClient.fromKubeconfigString(sandbox.kubeconfig({ token: 'read-only', user: 'ro' }));
    clients.push(readOnly);
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
    expect(allocator.owned('shop/api-west').size).toBe(0);
  });
});
