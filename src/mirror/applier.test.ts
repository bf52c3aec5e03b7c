import { describe, expect, it } from 'vitest';
import { IsthmusError } from '../errors.js';
import { KubeApiError } from '../kube/errors.js';
import type { ResourceRef } from '../kube/resources.js';
import type { KubeObject, V1EndpointSlice, V1Service } from '../kube/types.js';
import { type ApplierClient, applyActions, type CacheView } from './applier.js';
import { buildMirrorSlice } from './mirror-objects.js';
import { planMirror } from './plan-mirror.js';
import { foreignService, linkConfig, remoteService } from './test-builders.js';

/**
 * A small in-memory stand-in for the four calls the applier makes; the controller itself is
 * tested against the strict sandbox (scenarios-*.test.ts). This one records calls.
 */
class MemoryClient implements ApplierClient {
  readonly objects = new Map<string, KubeObject>();
  readonly calls: string[] = [];
  private rv = 1;
  private uid = 1;

  private key(res: ResourceRef, ns: string | undefined, name: string) {
    return `${res.plural}/${ns ?? ''}/${name}`;
  }
  async get<T extends KubeObject>(res: ResourceRef, ns: string | undefined, name: string) {
    this.calls.push(`get ${res.plural}/${name}`);
    return structuredClone(this.objects.get(this.key(res, ns, name))) as T | undefined;
  }
  // Writes answer metadata only, as the real client's *ForMetadata calls do.
  /** Cluster IPs other Services hold: a create asking for one is refused as kube-apiserver does. */
  readonly allocated = new Set<string>();
  /** A 422 for any Service create, on another field (a port, say). */
  refuseServices: string | undefined;
  async createForMetadata(res: ResourceRef, obj: KubeObject) {
    this.calls.push(`create ${res.plural}/${obj.metadata?.name}`);
    if (this.objects.has(this.key(res, obj.metadata?.namespace, obj.metadata?.name ?? ''))) {
      throw new KubeApiError('KUBE_CONFLICT', 'already exists', 409, 'AlreadyExists', [], undefined);
    }
    const ip = (obj as V1Service).spec?.clusterIP;
    if (res.plural === 'services' && this.refuseServices !== undefined) {
      const cause = {
        field: 'spec.ports[0].port',
        message: this.refuseServices,
        reason: 'FieldValueInvalid',
      };
      throw new KubeApiError('KUBE_INVALID', this.refuseServices, 422, 'Invalid', [cause], undefined, {
        terminal: true,
      });
    }
    if (res.plural === 'services' && ip && this.allocated.has(ip)) {
      const message = `Service "${obj.metadata?.name}" is invalid: spec.clusterIPs: Invalid value: ["${ip}"]: failed to allocate IP ${ip}: provided IP is already allocated`;
      const cause = { field: 'spec.clusterIPs', message, reason: 'FieldValueInvalid' };
      throw new KubeApiError('KUBE_INVALID', message, 422, 'Invalid', [cause], undefined, { terminal: true });
    }
    const stored = structuredClone(obj);
    stored.metadata = { ...stored.metadata, resourceVersion: String(this.rv++), uid: `uid-${this.uid++}` };
    this.objects.set(this.key(res, obj.metadata?.namespace, obj.metadata?.name ?? ''), stored);
    return { metadata: structuredClone(stored.metadata) };
  }
  async replaceForMetadata(res: ResourceRef, obj: KubeObject) {
    this.calls.push(`replace ${res.plural}/${obj.metadata?.name}`);
    const k = this.key(res, obj.metadata?.namespace, obj.metadata?.name ?? '');
    if (this.objects.get(k)?.metadata?.resourceVersion !== obj.metadata?.resourceVersion) {
      throw new IsthmusError('KUBE_CONFLICT', 'stale');
    }
    const stored = structuredClone(obj);
    stored.metadata = { ...stored.metadata, resourceVersion: String(this.rv++) };
    this.objects.set(k, stored);
    return { metadata: structuredClone(stored.metadata) };
  }
  async delete(res: ResourceRef, ns: string | undefined, name: string) {
    this.calls.push(`delete ${res.plural}/${name}`);
    return this.objects.delete(this.key(res, ns, name));
  }
}

const link = linkConfig('west');
const egress = new Map([['http', 20000]]);
function plan(
  service = remoteService('podinfo'),
  local: { service?: V1Service; slice?: V1EndpointSlice } = {},
) {
  return planMirror({
    remote: { service, readyEndpointCount: 1 },
    link,
    gateway: { alive: true, addresses: ['10.0.0.5'], remote: '10.1.0.1:4143' },
    local: { namespaceExists: true, ...local },
    egressPorts: egress,
  });
}

describe('applyActions', () => {
  it('creates the Service, then its slice owned by it; a second pass is unchanged', async () => {
    const client = new MemoryClient();
    const first = await applyActions(client, 'west', plan().actions);
    expect(first.map((a) => a.outcome)).toEqual(['created', 'created']);
    const svc = (await client.get<V1Service>(
      { plural: 'services' } as ResourceRef,
      'default',
      'podinfo-west',
    ))!;
    const slice = (await client.get<V1EndpointSlice>(
      { plural: 'endpointslices' } as ResourceRef,
      'default',
      'podinfo-west',
    ))!;
    expect(slice.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'Service', uid: svc.metadata?.uid });
    // Replaying the same actions against the stored state changes nothing.
    const again = await applyActions(client, 'west', plan().actions);
    expect(again.map((a) => a.outcome)).toEqual(['unchanged', 'unchanged']);
    expect(plan(remoteService('podinfo'), { service: svc, slice }).actions).toEqual([]);
  });

  it('refuses to overwrite a stranger found on re-read (terminal KUBE_CONFLICT)', async () => {
    const client = new MemoryClient();
    await client.createForMetadata({ plural: 'services' } as ResourceRef, foreignService('podinfo-west'));
    const err = await applyActions(client, 'west', plan().actions).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IsthmusError);
    expect((err as IsthmusError).terminal).toBe(true);
    // Only the test's own create, then the applier's re-read: nothing written over the stranger.
    expect(client.calls).toEqual(['create services/podinfo-west', 'get services/podinfo-west']);
  });

  it('re-creates the Service when it turns headless (clusterIP is immutable)', async () => {
    const client = new MemoryClient();
    await applyActions(client, 'west', plan().actions);
    const existing = await client.get<V1Service>(
      { plural: 'services' } as ResourceRef,
      'default',
      'podinfo-west',
    );
    const headless = planMirror({
      remote: { service: remoteService('podinfo', { headless: true }), readyEndpointCount: 1 },
      link,
      gateway: { alive: true, addresses: [], remote: '10.1.0.1:4143' },
      local: { namespaceExists: true, ...(existing ? { service: existing } : {}) },
      egressPorts: egress,
      target: { type: 'headless', pods: [] },
    });
    const done = await applyActions(client, 'west', headless.actions);
    expect(done[0]?.outcome).toBe('updated');
    expect(client.calls.filter((c) => !c.startsWith('get ')).slice(-3)).toEqual([
      'delete services/podinfo-west',
      'create services/podinfo-west',
      'replace endpointslices/podinfo-west',
    ]);
  });

  it('re-creates the slice when its address family changes (addressType is immutable)', async () => {
    const client = new MemoryClient();
    await applyActions(client, 'west', plan().actions);
    const local = {
      service: await client.get<V1Service>({ plural: 'services' } as ResourceRef, 'default', 'podinfo-west'),
      slice: await client.get<V1EndpointSlice>(
        { plural: 'endpointslices' } as ResourceRef,
        'default',
        'podinfo-west',
      ),
    };
    const ipv6 = planMirror({
      remote: { service: remoteService('podinfo'), readyEndpointCount: 1 },
      link,
      gateway: { alive: true, addresses: ['fd00::5'], remote: '10.1.0.1:4143' },
      local: { namespaceExists: true, service: local.service!, slice: local.slice! },
      egressPorts: egress,
    });
    const done = await applyActions(client, 'west', ipv6.actions);
    expect(done.map((a) => a.outcome)).toEqual(['updated']);
    expect(client.calls.filter((c) => !c.startsWith('get ')).slice(-2)).toEqual([
      'delete endpointslices/podinfo-west',
      'create endpointslices/podinfo-west',
    ]);
    const slice = await client.get<V1EndpointSlice>(
      { plural: 'endpointslices' } as ResourceRef,
      'default',
      'podinfo-west',
    );
    expect(slice).toMatchObject({ addressType: 'IPv6', endpoints: [{ addresses: ['fd00::5'] }] });
    expect(slice?.metadata?.ownerReferences?.[0]?.uid).toBe(local.service?.metadata?.uid);
  });

  it('deletes only what is ours', async () => {
    const client = new MemoryClient();
    await applyActions(client, 'west', plan().actions);
    const stranger = buildMirrorSlice({
      service: foreignService('x-west'),
      cluster: 'north',
      addresses: ['10.0.0.9'],
      ready: true,
      egressPorts: new Map(),
    });
    await client.createForMetadata({ plural: 'endpointslices' } as ResourceRef, stranger);
    const done = await applyActions(client, 'west', [
      { kind: 'deleteSlice', namespace: 'default', name: 'x-west' },
      { kind: 'deleteSlice', namespace: 'default', name: 'podinfo-west' },
      { kind: 'deleteService', namespace: 'default', name: 'podinfo-west' },
    ]);
    expect(done.map((d) => d.outcome)).toEqual(['unchanged', 'deleted', 'deleted']);
  });

  it('deletes a slice of ours for a name a stranger holds only while that very Service holds it', async () => {
    const client = new MemoryClient();
    await applyActions(client, 'west', plan().actions);
    // Linkerd's service mirror rewrote our mirror: the same object, its labels not ours any more.
    const svc = client.objects.get('services/default/podinfo-west')!;
    svc.metadata!.labels = {
      'mirror.linkerd.io/mirrored-service': 'true',
      'mirror.linkerd.io/cluster-name': 'west',
    };
    const del = (heldBy: string) => [
      { kind: 'deleteSlice' as const, namespace: 'default', name: 'podinfo-west', heldBy },
    ];
    // Another Service holds the name by now (our new mirror, say): the slice stays, and says so.
    expect((await applyActions(client, 'west', del('uid-other')))[0]).toMatchObject({
      outcome: 'unchanged',
      stayed: true,
    });
    expect(client.objects.has('endpointslices/default/podinfo-west')).toBe(true);
    const [deleted] = await applyActions(client, 'west', del(svc.metadata!.uid!));
    expect(deleted?.outcome).toBe('deleted');
    expect(deleted?.stayed).toBeUndefined();
    expect(client.objects.has('endpointslices/default/podinfo-west')).toBe(false);
    // Gone already: nothing stayed.
    expect((await applyActions(client, 'west', del(svc.metadata!.uid!)))[0]).toEqual({
      action: 'deleteSlice',
      namespace: 'default',
      name: 'podinfo-west',
      outcome: 'unchanged',
    });
  });

  it('tells of each write as it is done, before a later one fails', async () => {
    const client = new MemoryClient();
    const told: string[] = [];
    // Slice creates meet a 503, as from an API server briefly unavailable.
    const create = client.createForMetadata.bind(client);
    client.createForMetadata = (res, obj) =>
      res.plural === 'endpointslices'
        ? Promise.reject(new IsthmusError('KUBE_API_UNAVAILABLE', 'injected'))
        : create(res, obj);
    const err = await applyActions(client, 'west', plan().actions, undefined, (a) =>
      told.push(`${a.action} ${a.name} ${a.outcome}`),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IsthmusError);
    expect(told).toEqual(['applyService podinfo-west created']);
  });

  describe("a mirror created where Linkerd's mirror was (keepClusterIP)", () => {
    const linkerds: V1Service = {
      ...foreignService('podinfo-west'),
      metadata: {
        name: 'podinfo-west',
        namespace: 'default',
        labels: { 'mirror.linkerd.io/mirrored-service': 'true', 'mirror.linkerd.io/cluster-name': 'west' },
        annotations: { 'mirror.linkerd.io/remote-svc-fq-name': 'podinfo.default.svc.cluster.local' },
      },
      spec: { type: 'ClusterIP', clusterIP: '10.96.0.42', clusterIPs: ['10.96.0.42'], ports: [{ port: 80 }] },
    };
    const handOver = () =>
      planMirror({
        remote: { service: remoteService('podinfo'), readyEndpointCount: 1 },
        link,
        gateway: { alive: true, addresses: ['10.0.0.5'], remote: '10.1.0.1:4143' },
        local: { namespaceExists: true },
        egressPorts: egress,
        vacated: linkerds,
      }).actions;
    const stored = (client: MemoryClient) =>
      client.get<V1Service>({ plural: 'services' } as ResourceRef, 'default', 'podinfo-west');

    it('asks for the address, and says it kept it', async () => {
      const client = new MemoryClient();
      const done = await applyActions(client, 'west', handOver(), { has: () => false });
      expect(done[0]).toMatchObject({ outcome: 'created', clusterIP: { asked: '10.96.0.42' } });
      expect(done[0]?.clusterIP?.refused).toBeUndefined();
      expect((await stored(client))?.spec?.clusterIP).toBe('10.96.0.42');
    });

    it('creates it without when the API server refuses the address (422), and says why', async () => {
      const client = new MemoryClient();
      client.allocated.add('10.96.0.42');
      const done = await applyActions(client, 'west', handOver(), { has: () => false });
      expect(done.map((a) => a.outcome)).toEqual(['created', 'created']);
      expect(done[0]?.clusterIP).toEqual({
        asked: '10.96.0.42',
        refused:
          'Service "podinfo-west" is invalid: spec.clusterIPs: Invalid value: ["10.96.0.42"]: failed to allocate IP 10.96.0.42: provided IP is already allocated',
      });
      expect(client.calls).toEqual([
        'create services/podinfo-west',
        'create services/podinfo-west',
        'create endpointslices/podinfo-west',
      ]);
      const svc = await stored(client);
      expect(svc?.spec?.clusterIP).toBeUndefined();
      expect(svc?.spec?.clusterIPs).toBeUndefined();
    });

    it('gives up as ever on a refusal of anything else', async () => {
      const client = new MemoryClient();
      client.refuseServices = 'spec.ports[0].port: Invalid value: 0';
      const err = await applyActions(client, 'west', handOver(), { has: () => false }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(KubeApiError);
      expect(client.calls).toEqual(['create services/podinfo-west']);
    });
  });

  describe('with a cache view', () => {
    const empty = { has: () => false };

    it('creates what the cache does not hold without reading first', async () => {
      const client = new MemoryClient();
      const done = await applyActions(client, 'west', plan().actions, empty);
      expect(done.map((a) => a.outcome)).toEqual(['created', 'created']);
      expect(client.calls).toEqual(['create services/podinfo-west', 'create endpointslices/podinfo-west']);
    });

    it('runs each write through the view, which sees the server’s answers, and nothing it left alone', async () => {
      const client = new MemoryClient();
      const wrote: string[] = [];
      const view: CacheView = {
        has: () => false,
        track: async (kind, _namespace, name, write) => {
          const o = await write();
          wrote.push(`${kind} ${name} rv=${o.metadata?.resourceVersion !== undefined}`);
          return o;
        },
      };
      await applyActions(client, 'west', plan().actions, view);
      expect(wrote).toEqual(['Service podinfo-west rv=true', 'EndpointSlice podinfo-west rv=true']);
      wrote.length = 0;
      await applyActions(client, 'west', plan().actions, view);
      expect(wrote).toEqual([]);
    });

    it('falls back to read-and-check when the cache was behind (409 AlreadyExists)', async () => {
      const client = new MemoryClient();
      await applyActions(client, 'west', plan().actions);
      client.calls.length = 0;
      const done = await applyActions(client, 'west', plan().actions, empty);
      expect(done.map((a) => a.outcome)).toEqual(['unchanged', 'unchanged']);
      expect(client.calls).toEqual([
        'create services/podinfo-west',
        'get services/podinfo-west',
        'create endpointslices/podinfo-west',
        'get endpointslices/podinfo-west',
      ]);
    });

    it('never overwrites a stranger the cache does not see (terminal KUBE_CONFLICT)', async () => {
      const client = new MemoryClient();
      await client.createForMetadata({ plural: 'services' } as ResourceRef, foreignService('podinfo-west'));
      const err = await applyActions(client, 'west', plan().actions, empty).catch((e: unknown) => e);
      expect((err as IsthmusError).terminal).toBe(true);
      expect(
        (await client.get<V1Service>({ plural: 'services' } as ResourceRef, 'default', 'podinfo-west'))
          ?.metadata?.labels,
      ).toEqual({ app: 'mine' });
    });
  });
});
