import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../sandbox/index.js';
import { KubeClient, type KubeRequestEvent, requestChannel } from './client.js';
import { R } from './resources.js';
import { service } from './test-support.js';
import type { V1ConfigMap, V1EndpointSlice, V1Service } from './types.js';

let sandbox: Sandbox;
let client: KubeClient;

// One sandbox for the file: each test uses its own object names.
beforeAll(async () => {
  sandbox = await startSandbox({ name: 'east' });
  client = KubeClient.fromKubeconfigString(sandbox.kubeconfig());
});
afterAll(async () => {
  client.close();
  await sandbox.close();
});

describe('KubeClient against the sandbox', () => {
  it('fencedWrites: a write the fence refuses never reaches the server; reads pass; open again, writes go', async () => {
    let leading = false;
    const fenced = client.fencedWrites(() => leading);
    const before = sandbox.stats().writes;
    await expect(fenced.create<V1Service>(R.services, service('default', 'fenced'))).rejects.toMatchObject({
      code: 'NOT_LEADER',
    });
    await expect(fenced.delete(R.services, 'default', 'fenced')).rejects.toMatchObject({
      code: 'NOT_LEADER',
    });
    expect(sandbox.stats().writes).toBe(before);
    expect(await fenced.get(R.services, 'default', 'fenced')).toBeUndefined();
    leading = true;
    await fenced.create<V1Service>(R.services, service('default', 'fenced'));
    expect(await client.get(R.services, 'default', 'fenced')).toBeDefined();
    expect(await fenced.delete(R.services, 'default', 'fenced')).toBe(true);
  });

  it('create, get, list by selector, replace, patch, delete', async () => {
    const created = await client.create<V1Service>(
      R.services,
      service('default', 'podinfo', { exported: 'true' }),
    );
    expect(created.metadata?.resourceVersion).toBeTruthy();
    await client.create<V1Service>(R.services, service('default', 'other'));

    const got = await client.get<V1Service>(R.services, 'default', 'podinfo');
    expect(got?.spec?.clusterIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const listed = await client.list<V1Service>(R.services, {
      namespace: 'default',
      labelSelector: 'exported=true',
    });
    expect(listed.items.map((s) => s.metadata?.name)).toEqual(['podinfo']);
    expect(Number(listed.resourceVersion)).toBeGreaterThan(0);

    const replaced = await client.replace<V1Service>(R.services, {
      ...(got as V1Service),
      metadata: { ...got?.metadata, labels: { exported: 'false' } },
    });
    expect(replaced.metadata?.labels).toEqual({ exported: 'false' });

    const patched = await client.patch<V1Service>(R.services, 'default', 'podinfo', {
      metadata: { annotations: { a: 'b' } },
    });
    expect(patched.metadata?.annotations).toMatchObject({ a: 'b' });
    const jsonPatched = await client.patch<V1Service>(
      R.services,
      'default',
      'podinfo',
      [{ op: 'add', path: '/metadata/labels/tier', value: 'web' }],
      'json',
    );
    expect(jsonPatched.metadata?.labels).toMatchObject({ tier: 'web' });

    expect(await client.delete(R.services, 'default', 'podinfo')).toBe(true);
    expect(await client.get(R.services, 'default', 'podinfo')).toBeUndefined();
    expect(await client.delete(R.services, 'default', 'podinfo')).toBe(false);
  });

  it('createForMetadata and replaceForMetadata answer metadata only; the objects are stored whole', async () => {
    const created = await client.createForMetadata(R.services, service('default', 'meta-only'));
    expect(created.kind).toBe('PartialObjectMetadata');
    expect(created.metadata?.uid).toBeTruthy();
    expect((created as V1Service).spec).toBeUndefined();
    const stored = await client.get<V1Service>(R.services, 'default', 'meta-only');
    expect(stored?.spec?.ports).toHaveLength(1);
    expect(stored?.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion);
    const replaced = await client.replaceForMetadata(R.services, {
      ...(stored as V1Service),
      metadata: { ...stored?.metadata, labels: { v: '2' } },
    });
    expect(replaced).toMatchObject({ kind: 'PartialObjectMetadata', metadata: { labels: { v: '2' } } });
    expect(Number(replaced.metadata?.resourceVersion)).toBeGreaterThan(
      Number(created.metadata?.resourceVersion),
    );
    // A stale replace still fails as a conflict: the Accept header changes the answer, not the write.
    const stale = await client
      .replaceForMetadata(R.services, stored as V1Service)
      .catch((e: unknown) => e as { code?: string });
    expect(stale).toMatchObject({ code: 'KUBE_CONFLICT' });
  });

  it('a stale replace is KUBE_CONFLICT; an invalid object is a terminal KUBE_INVALID with causes', async () => {
    const cm = await client.create<V1ConfigMap>(R.configMaps, {
      metadata: { namespace: 'default', name: 'cfg' },
      data: { a: '1' },
    });
    await client.patch(R.configMaps, 'default', 'cfg', { data: { a: '2' } });
    await expect(client.replace(R.configMaps, { ...cm, data: { a: '3' } })).rejects.toMatchObject({
      code: 'KUBE_CONFLICT',
    });
    const bad: V1EndpointSlice = {
      metadata: { namespace: 'default', name: 'bad-slice' },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
      ports: [{ name: 'http', port: 9898, protocol: 'TCP' }],
    };
    const err = await client.create(R.endpointSlices, bad).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'KUBE_INVALID', terminal: true });
    expect((err as { causes: unknown[] }).causes.length).toBeGreaterThan(0);
    const good = {
      ...bad,
      metadata: { ...bad.metadata, name: 'good-slice' },
      endpoints: [{ addresses: ['10.42.0.7'], conditions: { ready: true } }],
    };
    await expect(client.create(R.endpointSlices, good)).resolves.toBeTruthy();
  });

  it('creating an existing object is a conflict; status is written through the subresource', async () => {
    // Load-balancer status is refused on any other type (kube-apiserver 1.29+).
    const plain = service('default', 'dup');
    const lb = { ...plain, spec: { ...plain.spec, type: 'LoadBalancer' } };
    await client.create(R.services, lb);
    await expect(client.create(R.services, lb)).rejects.toMatchObject({
      code: 'KUBE_CONFLICT',
      reason: 'AlreadyExists',
    });
    const svc = await client.get<V1Service>(R.services, 'default', 'dup');
    const withStatus = await client.replaceStatus<V1Service>(R.services, {
      ...(svc as V1Service),
      status: { loadBalancer: { ingress: [{ ip: '192.0.2.10' }] } },
    });
    expect(withStatus.status?.loadBalancer?.ingress?.[0]?.ip).toBe('192.0.2.10');
    const patched = await client.patchStatus<V1Service>(R.services, 'default', 'dup', {
      status: { loadBalancer: { ingress: [{ ip: '192.0.2.11' }] } },
    });
    expect(patched.status?.loadBalancer?.ingress?.[0]?.ip).toBe('192.0.2.11');
  });

  it('paginates with a small limit and returns version info', async () => {
    for (let i = 0; i < 7; i++)
      await client.create(R.configMaps, { metadata: { namespace: 'default', name: `cm-${i}` } });
    const all = await client.list<V1ConfigMap>(R.configMaps, { namespace: 'default', limit: 2 });
    expect(all.items.filter((c) => c.metadata?.name?.startsWith('cm-'))).toHaveLength(7);
    expect(client.stats().byVerb.list).toBeGreaterThanOrEqual(4);
    expect((await client.version()).gitVersion).toBeTruthy();
  });

  it('a token without permission gets a terminal KUBE_FORBIDDEN; an unknown token KUBE_UNAUTHORIZED', async () => {
    sandbox.addToken('reader', {
      username: 'reader',
      rules: [{ verbs: ['get', 'list', 'watch'], resources: ['services'] }],
    });
    const reader = KubeClient.fromKubeconfigString(sandbox.kubeconfig({ token: 'reader' }));
    const stranger = KubeClient.fromKubeconfigString(sandbox.kubeconfig({ token: 'nobody-knows-me' }));
    try {
      await expect(reader.list(R.services, { namespace: 'default' })).resolves.toBeTruthy();
      await expect(reader.create(R.services, service('default', 'x'))).rejects.toMatchObject({
        code: 'KUBE_FORBIDDEN',
        terminal: true,
      });
      await expect(stranger.list(R.services)).rejects.toMatchObject({ code: 'KUBE_UNAUTHORIZED' });
    } finally {
      reader.close();
      stranger.close();
    }
  });

  it('a Link secret without the kubeconfig key is refused clearly', () => {
    expect(() =>
      KubeClient.fromSecret({ metadata: { namespace: 'isthmus-system', name: 'creds' }, data: {} }),
    ).toThrow(/missing key "kubeconfig"/);
    const ok = KubeClient.fromSecret({
      metadata: { namespace: 'isthmus-system', name: 'creds' },
      data: { kubeconfig: Buffer.from(sandbox.kubeconfig()).toString('base64') },
    });
    ok.close();
  });

  it('speaks TLS with the CA from the kubeconfig', async () => {
    const secure = await startSandbox({ name: 'tls', tls: true });
    const tlsClient = KubeClient.fromKubeconfigString(secure.kubeconfig());
    try {
      expect(tlsClient.server).toMatch(/^https:/);
      await tlsClient.create(R.services, service('default', 'over-tls'));
      expect(await tlsClient.get(R.services, 'default', 'over-tls')).toBeTruthy();
    } finally {
      tlsClient.close();
      await secure.close();
    }
  });

  it('publishes every request on the diagnostics channel', async () => {
    const seen: KubeRequestEvent[] = [];
    const listener = (m: unknown) => seen.push(m as KubeRequestEvent);
    requestChannel.subscribe(listener);
    try {
      await client.get(R.services, 'default', 'no-such-service');
    } finally {
      requestChannel.unsubscribe(listener);
    }
    expect(seen).toEqual([
      expect.objectContaining({
        verb: 'get',
        path: '/api/v1/namespaces/default/services/no-such-service',
        status: 404,
      }),
    ]);
  });
});
