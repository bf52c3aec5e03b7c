import { describe, expect, it } from 'vitest';
import type { V1EndpointSlice, V1Service, V1ServicePort } from '../kube/types.js';
import { MemorySource } from './e2e/memory-source.js';
import { ServiceIndex } from './service-index.js';
import { feedServiceIndex, toEndpointViews, toExportedService } from './watch-exports.js';

const service = (ports: V1ServicePort[], clusterIP?: string) =>
  ({
    metadata: { namespace: 'test', name: 'podinfo', labels: { 'mirror.linkerd.io/exported': 'true' } },
    spec: { ports, ...(clusterIP === undefined ? {} : { clusterIP }) },
  }) satisfies V1Service;

const slice = (
  endpoints: V1EndpointSlice['endpoints'],
  ports: V1EndpointSlice['ports'] = [{ name: 'http', port: 8080 }],
  name = 'podinfo-abc',
  serviceName = 'podinfo',
): V1EndpointSlice => ({
  addressType: 'IPv4',
  metadata: { namespace: 'test', name, labels: { 'kubernetes.io/service-name': serviceName } },
  endpoints,
  ports,
});

describe('toExportedService', () => {
  it('keeps names, numbers and protocols of the ports and spots headless services', () => {
    expect(toExportedService(service([{ name: 'http', port: 9898, protocol: 'TCP' }, { port: 53 }]))).toEqual(
      {
        namespace: 'test',
        name: 'podinfo',
        ports: [{ name: 'http', port: 9898, protocol: 'TCP' }, { port: 53 }],
        headless: false,
      },
    );
    expect(toExportedService(service([], 'None'))?.headless).toBe(true);
    const restricted = {
      ...service([]),
      metadata: {
        namespace: 'test',
        name: 'p',
        annotations: { 'isthmus.dev/allowed-clusters': ' east, north ,' },
      },
    };
    expect(toExportedService(restricted)?.allowedClusters).toEqual(['east', 'north']);
    expect(toExportedService(service([]))).not.toHaveProperty('allowedClusters');
    expect(toExportedService({ metadata: { name: 'x' } })).toBeNull();
  });
});

describe('toEndpointViews', () => {
  const ports = [{ name: 'http', port: 8080 }];
  it.each<
    [
      string,
      V1EndpointSlice['endpoints'],
      { address: string; ready: boolean; hostname?: string; servingTerminating?: true }[],
    ]
  >([
    ['ready absent counts as ready', [{ addresses: ['10.0.0.1'] }], [{ address: '10.0.0.1', ready: true }]],
    [
      'conditions absent counts as ready',
      [{ addresses: ['10.0.0.1'], conditions: {} }],
      [{ address: '10.0.0.1', ready: true }],
    ],
    [
      'ready false',
      [{ addresses: ['10.0.0.1'], conditions: { ready: false } }],
      [{ address: '10.0.0.1', ready: false }],
    ],
    [
      'serving and terminating do not make a not-ready endpoint ready, only a fallback',
      [{ addresses: ['10.0.0.1'], conditions: { ready: false, serving: true, terminating: true } }],
      [{ address: '10.0.0.1', ready: false, servingTerminating: true }],
    ],
    [
      'terminating without serving is no fallback (its readiness probe fails)',
      [{ addresses: ['10.0.0.1'], conditions: { ready: false, serving: false, terminating: true } }],
      [{ address: '10.0.0.1', ready: false }],
    ],
    [
      'serving absent means what ready says: no fallback',
      [{ addresses: ['10.0.0.1'], conditions: { ready: false, terminating: true } }],
      [{ address: '10.0.0.1', ready: false }],
    ],
    [
      'serving but not terminating is no fallback',
      [{ addresses: ['10.0.0.1'], conditions: { ready: false, serving: true } }],
      [{ address: '10.0.0.1', ready: false }],
    ],
    [
      'terminating does not make a ready endpoint unready',
      [{ addresses: ['10.0.0.1'], conditions: { ready: true, terminating: true } }],
      [{ address: '10.0.0.1', ready: true }],
    ],
    ['first address only', [{ addresses: ['10.0.0.1', '10.0.0.2'] }], [{ address: '10.0.0.1', ready: true }]],
    ['no address is skipped', [{ addresses: [] }], []],
    [
      'hostname kept for per-pod authorities',
      [{ addresses: ['10.0.0.3'], hostname: 'web-0' }],
      [{ address: '10.0.0.3', ready: true, hostname: 'web-0' }],
    ],
  ])('%s', (_name, endpoints, expected) => {
    const views = toEndpointViews(slice(endpoints));
    expect(views?.endpoints.map(({ ports: _p, ...rest }) => rest)).toEqual(expected);
    for (const v of views?.endpoints ?? []) expect(v.ports).toEqual(ports);
  });

  it('keeps ports by name, unnamed ports, and skips ports without a number', () => {
    const views = toEndpointViews(
      slice([{ addresses: ['10.0.0.1'] }], [{ name: 'http', port: 8080 }, { port: 9090 }, { name: 'any' }]),
    );
    expect(views?.endpoints[0]?.ports).toEqual([{ name: 'http', port: 8080 }, { port: 9090 }]);
  });

  it('dials IPs only, as kube-proxy: no FQDN slice, no name in an IP slice, an IPv6 slice its IPv6 addresses', () => {
    const fqdn = { ...slice([{ addresses: ['db.example.com'] }]), addressType: 'FQDN' };
    expect(toEndpointViews(fqdn)?.endpoints).toEqual([]);
    const named = slice([
      { addresses: ['metadata.internal'] },
      { addresses: ['fd00::1'] },
      { addresses: ['10.0.0.1'] },
    ]);
    expect(toEndpointViews(named)?.endpoints.map((e) => e.address)).toEqual(['10.0.0.1']);
    const v6 = { ...slice([{ addresses: ['fd00::1'] }, { addresses: ['10.0.0.1'] }]), addressType: 'IPv6' };
    expect(toEndpointViews(v6)?.endpoints.map((e) => e.address)).toEqual(['fd00::1']);
  });

  it('returns null for a slice of no Service', () => {
    const s = slice([{ addresses: ['10.0.0.1'] }]);
    s.metadata = { namespace: 'test', name: 'orphan' };
    expect(toEndpointViews(s)).toBeNull();
  });
});

describe('feedServiceIndex', () => {
  const target = { kind: 'service', namespace: 'test', service: 'podinfo', port: 9898 } as const;

  it('follows services and slices, including slices seen before their service', () => {
    const index = new ServiceIndex();
    const services = new MemorySource<V1Service>();
    const slices = new MemorySource<V1EndpointSlice>();
    slices.put(slice([{ addresses: ['10.0.0.1'] }]));
    const stop = feedServiceIndex(index, services, slices);
    expect(index.resolve(target)).toMatchObject({ ok: false, status: 403 });

    services.put(service([{ name: 'http', port: 9898 }]));
    expect(index.resolve(target)).toEqual({ ok: true, candidates: [{ host: '10.0.0.1', port: 8080 }] });

    slices.put(slice([{ addresses: ['10.0.0.1'], conditions: { ready: false } }]));
    expect(index.resolve(target)).toMatchObject({ ok: false, status: 503 });

    services.remove(service([{ name: 'http', port: 9898 }]));
    expect(index.resolve(target)).toMatchObject({ ok: false, status: 403 });

    stop();
    services.put(service([{ name: 'http', port: 9898 }]));
    expect(index.size()).toBe(0);
  });

  it('moves a relabelled slice and forgets a deleted one', () => {
    const index = new ServiceIndex();
    const services = new MemorySource<V1Service>();
    const slices = new MemorySource<V1EndpointSlice>();
    feedServiceIndex(index, services, slices);
    services.put(service([{ name: 'http', port: 9898 }]));
    const s = slice([{ addresses: ['10.0.0.1'] }]);
    slices.put(s);
    slices.put(slice([{ addresses: ['10.0.0.1'] }], undefined, 'podinfo-abc', 'other'));
    expect(index.resolve(target)).toMatchObject({ ok: false, status: 503 });
    slices.put(s);
    expect(index.resolve(target).ok).toBe(true);
    slices.remove(s);
    expect(index.resolve(target)).toMatchObject({ ok: false, status: 503 });
  });
});
