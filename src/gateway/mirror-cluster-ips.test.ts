/**
 * The tunnel loop of the security review through a mirror: an exported Service's hand-written
 * EndpointSlice lists the ClusterIP of a mirror Service of this cluster, which kube-proxy forwards
 * to this cluster's gateway egress, so each tunnel opens another, cluster to cluster. The ingress
 * never dials any ClusterIP of a mirror, told by its label among every Service the gateway caches
 * (loop-cluster-ips.ts; decided when a mirror comes or goes, reported once, 503 when nothing else
 * is left); until the Services are listed, nothing is dialled.
 */
import { describe, expect, it } from 'vitest';
import type { V1EndpointSlice, V1Service } from '../kube/types.js';
import { MIRROR_CLUSTER_IP_REFUSAL } from './dial-refusal.js';
import { MemorySource } from './e2e/memory-source.js';
import { clusterIPsOf, gatewayMirrorsOnly } from './mirror-cluster-ips.js';
import { ServiceIndex } from './service-index.js';
import { loopIndex } from './test-support/loop-index.js';

const exported = (name: string): V1Service => ({
  metadata: { namespace: 'tenant', name, labels: { 'mirror.linkerd.io/exported': 'true' } },
  spec: { ports: [{ name: 'tcp', port: 80 }] },
});
const slice = (
  name: string,
  service: string,
  addresses: string[],
  addressType: 'IPv4' | 'IPv6' = 'IPv4',
): V1EndpointSlice => ({
  addressType,
  metadata: { namespace: 'tenant', name, labels: { 'kubernetes.io/service-name': service } },
  endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready: true } })),
  ports: [{ name: 'tcp', port: 4143 }],
});
const mirror = (name: string, clusterIPs: string[] | undefined, clusterIP?: string): V1Service => ({
  metadata: {
    namespace: 'shop',
    name,
    labels: { 'mirror.linkerd.io/mirrored-service': 'true', 'mirror.linkerd.io/cluster-name': 'east' },
  },
  spec: {
    ...(clusterIP === undefined ? {} : { clusterIP }),
    ...(clusterIPs === undefined ? {} : { clusterIPs }),
    ports: [{ name: 'tcp', port: 80 }],
  },
});
const target = { kind: 'service', namespace: 'tenant', service: 'loop', port: 80 } as const;

describe('clusterIPsOf', () => {
  it.each<[string, V1Service, string[]]>([
    ['one ClusterIP', mirror('a', ['10.96.14.3'], '10.96.14.3'), ['10.96.14.3']],
    [
      'dual-stack: every entry of spec.clusterIPs',
      mirror('a', ['10.96.14.3', 'fd00:10:96::e03'], '10.96.14.3'),
      ['10.96.14.3', 'fd00:10:96::e03'],
    ],
    ['only spec.clusterIP (an older writer)', mirror('a', undefined, '10.96.14.3'), ['10.96.14.3']],
    ['headless (None): no address', mirror('a', ['None'], 'None'), []],
    ['not allocated yet', mirror('a', undefined), []],
  ])('%s', (_what, svc, want) => {
    expect(clusterIPsOf(svc)).toEqual(want);
  });
});

describe("the ServiceIndex refuses this cluster's mirror ClusterIPs", () => {
  function fed(opts: { listed?: Promise<unknown> } = {}) {
    // Mirrors among every Service, by their label; no slice of Isthmus's is needed to tell them.
    const { services: mirrors, ...rest } = loopIndex(exported('loop'), opts.listed);
    return { mirrors, ...rest };
  }
  const listed = () => new Promise<void>((resolve) => setImmediate(resolve));

  it('refuses a mirror ClusterIP listed in an exported Service slice (the loop), 503 when nothing else is left; reported once', async () => {
    const { slices, mirrors, reports, index } = fed();
    mirrors.put(mirror('db-east', ['10.96.14.3'], '10.96.14.3'));
    await listed();
    slices.put(slice('loop-x', 'loop', ['10.96.14.3']));
    expect(index.resolve(target)).toMatchObject({ ok: false, status: 503 });
    expect(reports).toEqual([
      {
        namespace: 'tenant',
        service: 'loop',
        slice: 'loop-x',
        refused: [{ address: '10.96.14.3', reason: MIRROR_CLUSTER_IP_REFUSAL }],
      },
    ]);
    // Another endpoint of the slice is still dialled.
    slices.put(slice('loop-x', 'loop', ['10.96.14.3', '10.244.1.7']));
    expect(index.resolve(target)).toEqual({ ok: true, candidates: [{ host: '10.244.1.7', port: 4143 }] });
  });

  it('refuses every ClusterIP of a dual-stack mirror, in any spelling, IPv4-mapped and through NAT64', async () => {
    const { slices, mirrors, index } = fed();
    mirrors.put(mirror('db-east', ['10.96.14.3', 'fd00:10:96::e03'], '10.96.14.3'));
    await listed();
    slices.put(slice('loop-v4', 'loop', ['10.96.14.3']));
    slices.put(
      slice(
        'loop-v6',
        'loop',
        ['FD00:10:96:0::E03', '::ffff:10.96.14.3', '64:ff9b::a60:e03', '64:ff9b::10.96.14.3'],
        'IPv6',
      ),
    );
    expect(index.resolve(target)).toMatchObject({ ok: false, status: 503 });
  });

  it('follows the mirrors: an address no mirror holds any more is dialled, refused again when a mirror gets it', async () => {
    const { slices, mirrors, reports, index } = fed();
    const db = mirror('db-east', ['10.96.14.3'], '10.96.14.3');
    mirrors.put(db);
    await listed();
    slices.put(slice('loop-x', 'loop', ['10.96.14.3']));
    expect(index.resolve(target)).toMatchObject({ ok: false, status: 503 });
    mirrors.remove(db);
    expect(index.resolve(target)).toEqual({ ok: true, candidates: [{ host: '10.96.14.3', port: 4143 }] });
    // A new mirror allocated the freed ClusterIP: refused again, and reported once more.
    mirrors.put(mirror('web-east', ['10.96.14.3'], '10.96.14.3'));
    expect(index.resolve(target)).toMatchObject({ ok: false, status: 503 });
    expect(reports).toHaveLength(2);
    // Another mirror coming or going changes nothing here: not reported again.
    mirrors.put(mirror('api-east', ['10.96.200.9'], '10.96.200.9'));
    mirrors.remove(mirror('api-east', ['10.96.200.9'], '10.96.200.9'));
    expect(reports).toHaveLength(2);
  });

  it('dials nothing until the mirrors are listed (no endpoint admitted, then refused)', async () => {
    let resolveListed = (): void => {};
    const { slices, mirrors, reports, index } = fed({
      listed: new Promise<void>((resolve) => {
        resolveListed = resolve;
      }),
    });
    slices.put(slice('loop-x', 'loop', ['10.96.14.3', '10.244.1.7']));
    mirrors.put(mirror('db-east', ['10.96.14.3'], '10.96.14.3'));
    expect(index.resolve(target)).toMatchObject({
      ok: false,
      status: 503,
      reason: expect.stringMatching(/Services that forward to a gateway are not listed yet: mirrors/),
    });
    expect(reports).toEqual([]);
    resolveListed();
    await listed();
    expect(index.resolve(target)).toEqual({ ok: true, candidates: [{ host: '10.244.1.7', port: 4143 }] });
    expect(reports).toHaveLength(1);
  });

  it('a slice of a Service exported later is judged against the mirrors too', async () => {
    const { slices, mirrors, index } = fed();
    mirrors.put(mirror('db-east', ['10.96.14.3'], '10.96.14.3'));
    await listed();
    slices.put(slice('late-x', 'late', ['10.96.14.3']));
    index.upsertService({
      namespace: 'tenant',
      name: 'late',
      headless: false,
      ports: [{ name: 'tcp', port: 80 }],
    });
    expect(index.resolve({ ...target, service: 'late' })).toMatchObject({ ok: false, status: 503 });
  });

  it('stops following the mirrors once unsubscribed', async () => {
    const { slices, mirrors, index, stop } = fed();
    await listed();
    slices.put(slice('loop-x', 'loop', ['10.96.14.3']));
    stop();
    mirrors.put(mirror('db-east', ['10.96.14.3'], '10.96.14.3'));
    expect(index.resolve(target)).toMatchObject({ ok: true });
  });
});

describe('ServiceIndex without awaitLoopClusterIPs', () => {
  it('dials before any mirror ClusterIP is set (tests and tools that feed no mirrors)', () => {
    const index = new ServiceIndex();
    index.upsertService({
      namespace: 'tenant',
      name: 'loop',
      headless: false,
      ports: [{ name: 'tcp', port: 80 }],
    });
    index.setSliceEndpoints('tenant', 'loop', 'loop-x', [
      { address: '10.96.14.3', ready: true, ports: [{ name: 'tcp', port: 4143 }] },
    ]);
    expect(index.resolve(target)).toMatchObject({ ok: true });
    index.setLoopClusterIPs([['10.96.14.3', MIRROR_CLUSTER_IP_REFUSAL]]);
    expect(index.resolve(target)).toMatchObject({ ok: false, status: 503 });
  });
});

describe('gatewayMirrorsOnly', () => {
  it("keeps remote-discovery mirrors out of the egress's view, their events as deletes", () => {
    const mirrors = new MemorySource<V1Service>();
    const gatewayMirror = mirror('db-east', ['10.96.14.3'], '10.96.14.3');
    const discovery = mirror('cache-east', ['10.96.14.4'], '10.96.14.4');
    discovery.metadata!.labels!['mirror.linkerd.io/remote-discovery'] = 'east';
    const view = gatewayMirrorsOnly(mirrors);
    const events: string[] = [];
    view.onEvent((ev) => events.push(`${ev.type} ${ev.object.metadata?.name}`));
    mirrors.put(gatewayMirror);
    mirrors.put(discovery);
    expect(view.list().map((m) => m.metadata?.name)).toEqual(['db-east']);
    expect(view.get('shop', 'db-east')).toBe(gatewayMirror);
    expect(view.get('shop', 'cache-east')).toBeUndefined();
    // A mirror moved to remote discovery leaves the egress: the watcher hears of it as a delete. A
    // write to a remote-discovery mirror is a delete of what the view never held: no admission pass.
    mirrors.put({
      ...gatewayMirror,
      metadata: { ...gatewayMirror.metadata, labels: discovery.metadata?.labels },
    });
    expect(view.list()).toEqual([]);
    expect(events).toEqual(['add db-east', 'delete cache-east', 'delete db-east']);
  });
});
