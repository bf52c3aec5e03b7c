/**
 * @kubernetes/client-node against a TLS sandbox: typed APIs, CustomObjectsApi, Watch, error codes,
 * and the injected faults (dropped watches, 429/500, delay, offline/online on the same port).
 */
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  KubeConfig,
  Watch,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mergeKubeconfigs, type Sandbox, startSandbox } from './index.js';
import { eventually } from './test-support.js';

let sb: Sandbox;
let kc: KubeConfig;
const aborts: AbortController[] = [];

beforeAll(async () => {
  sb = await startSandbox({ name: 'east' });
  kc = new KubeConfig();
  kc.loadFromString(sb.kubeconfig());
});
afterAll(async () => {
  for (const a of aborts) a.abort();
  await sb.close();
});

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    if (err instanceof ApiException) return err.code;
    throw err;
  }
}

describe('client-node', () => {
  it('CoreV1Api and DiscoveryV1Api over TLS with the kubeconfig CA', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const created = await core.createNamespacedService({
      namespace: 'default',
      body: {
        metadata: { name: 'podinfo', labels: { 'mirror.linkerd.io/exported': 'true' } },
        spec: { ports: [{ port: 9898 }] },
      },
    });
    expect(created.spec?.clusterIP).toMatch(/^10\./);
    const list = await core.listNamespacedService({
      namespace: 'default',
      labelSelector: 'mirror.linkerd.io/exported=true',
    });
    expect(list.items.map((s) => s.metadata?.name)).toEqual(['podinfo']);
    expect(await status(core.readNamespacedService({ namespace: 'default', name: 'nope' }))).toBe(404);
    const again = { metadata: { name: 'podinfo' }, spec: { ports: [{ port: 1 }] } };
    expect(await status(core.createNamespacedService({ namespace: 'default', body: again }))).toBe(409);
    // Validation runs before the existence check, as in kube-apiserver: no ports is 422, not 409.
    expect(
      await status(
        core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'podinfo' } } }),
      ),
    ).toBe(422);

    const disc = kc.makeApiClient(DiscoveryV1Api);
    const slice = await disc.createNamespacedEndpointSlice({
      namespace: 'default',
      body: {
        metadata: { name: 'podinfo-abc', labels: { 'kubernetes.io/service-name': 'podinfo' } },
        addressType: 'IPv4',
        endpoints: [{ addresses: ['10.244.1.7'], conditions: { ready: true } }],
        ports: [{ name: 'http', port: 9898, protocol: 'TCP' }],
      },
    });
    expect(slice.endpoints[0]?.conditions?.ready).toBe(true);
  });

  it('CustomObjectsApi on Links', async () => {
    const custom = kc.makeApiClient(CustomObjectsApi);
    const link = (await custom.createNamespacedCustomObject({
      group: 'multicluster.isthmus.dev',
      version: 'v1alpha1',
      namespace: 'default',
      plural: 'links',
      body: {
        apiVersion: 'multicluster.isthmus.dev/v1alpha1',
        kind: 'Link',
        metadata: { name: 'west' },
        spec: { targetClusterName: 'west', clusterCredentialsSecret: 'creds', gatewayAddress: '127.0.0.2' },
      },
    })) as { spec: { gatewayPort: number } };
    expect(link.spec.gatewayPort).toBe(4143);
    const bad = custom.createNamespacedCustomObject({
      group: 'multicluster.isthmus.dev',
      version: 'v1alpha1',
      namespace: 'default',
      plural: 'links',
      body: {
        apiVersion: 'multicluster.isthmus.dev/v1alpha1',
        kind: 'Link',
        metadata: { name: 'bad' },
        spec: {},
      },
    });
    expect(await status(bad)).toBe(422);
  });

  it('Watch delivers events and ends when the sandbox drops watches', async () => {
    const events: string[] = [];
    let doneErr: unknown = 'open';
    const watch = new Watch(kc);
    const abort = await watch.watch(
      '/api/v1/namespaces/default/configmaps',
      { allowWatchBookmarks: true },
      (type, obj: { metadata?: { name?: string } }) => events.push(`${type} ${obj.metadata?.name}`),
      (err) => {
        doneErr = err;
      },
    );
    aborts.push(abort);
    await eventually(() => events.includes('ADDED kube-root-ca.crt'));
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'watched' } } });
    await eventually(() => events.includes('ADDED watched'));
    expect(sb.stats().openWatches).toBe(1);
    sb.faults.dropWatches();
    await eventually(() => doneErr !== 'open');
    expect(sb.stats().openWatches).toBe(0);
  });

  it('faults: 429 with Retry-After, 500, delay, offline then online on the same URL', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    sb.faults.failNext(1, 429);
    expect(await status(core.listNamespace())).toBe(429);
    sb.faults.failNext(2, 500);
    expect(await status(core.listNamespace())).toBe(500);
    expect(await status(core.listNamespace())).toBe(500);
    expect(await status(core.listNamespace())).toBe(200);

    sb.faults.setDelay(150);
    const t0 = Date.now();
    await core.listNamespace();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    sb.faults.setDelay(0);

    const before = sb.stats();
    await sb.faults.goOffline();
    await expect(core.listNamespace()).rejects.toThrow();
    await sb.faults.goOnline();
    const back = await core.listNamespace();
    expect(back.items.length).toBeGreaterThan(0);
    expect(sb.stats().requests).toBeGreaterThan(before.requests);
  });

  it('mergeKubeconfigs gives one context per sandbox, current = first', async () => {
    const west = await startSandbox({ name: 'west', loadCrds: false });
    try {
      const merged = new KubeConfig();
      merged.loadFromString(mergeKubeconfigs([sb, west]));
      expect(merged.getContexts().map((c) => c.name)).toEqual(['east', 'west']);
      expect(merged.getCurrentContext()).toBe('east');
      merged.setCurrentContext('west');
      const ns = await merged.makeApiClient(CoreV1Api).listNamespace();
      expect(ns.items.length).toBe(4);
    } finally {
      await west.close();
    }
  });
});
