import { beforeEach, describe, expect, it } from 'vitest';
import { parseAuthority } from './authority.js';
import { type EndpointView, ServiceIndex } from './service-index.js';

const D = 'cluster.local';

function target(authority: string) {
  const r = parseAuthority(authority, D);
  if (!r.ok) throw new Error(r.reason);
  return r.target;
}

const ep = (
  address: string,
  ports: EndpointView['ports'],
  extra: Partial<EndpointView> = {},
): EndpointView => ({
  address,
  ready: true,
  ports,
  ...extra,
});

describe('ServiceIndex.resolve', () => {
  let index: ServiceIndex;
  beforeEach(() => {
    index = new ServiceIndex();
    index.upsertService({
      namespace: 'test',
      name: 'podinfo',
      headless: false,
      ports: [
        { name: 'http', port: 9898 },
        { name: 'grpc', port: 9999 },
      ],
    });
    index.setSliceEndpoints('test', 'podinfo', 'podinfo-a', [
      ep('10.0.0.1', [
        { name: 'http', port: 8080 },
        { name: 'grpc', port: 9090 },
      ]),
      ep('10.0.0.2', [
        { name: 'http', port: 8080 },
        { name: 'grpc', port: 9090 },
      ]),
      ep('10.0.0.3', [{ name: 'http', port: 8080 }], { ready: false }),
    ]);
    index.setSliceEndpoints('test', 'podinfo', 'podinfo-b', [
      // the same endpoint in two slices during a hand-over
      ep('10.0.0.2', [{ name: 'http', port: 8080 }]),
    ]);
    index.upsertService({ namespace: 'test', name: 'single', headless: false, ports: [{ port: 80 }] });
    index.setSliceEndpoints('test', 'single', 's1', [ep('10.0.1.1', [{ name: '', port: 8000 }])]);
    index.upsertService({
      namespace: 'db',
      name: 'web',
      headless: true,
      ports: [{ name: 'pg', port: 5432 }],
    });
    index.setSliceEndpoints('db', 'web', 'w1', [
      ep('10.0.2.1', [{ name: 'pg', port: 5432 }], { hostname: 'web-0' }),
      ep('10.0.2.2', [{ name: 'pg', port: 5432 }], { hostname: 'web-1', ready: false }),
    ]);
    index.upsertService({
      namespace: 'test',
      name: 'empty',
      headless: false,
      ports: [{ name: 'http', port: 80 }],
    });
  });

  it.each([
    [
      'podinfo.test.svc.cluster.local:9898',
      {
        ok: true,
        candidates: [
          { host: '10.0.0.1', port: 8080 },
          { host: '10.0.0.2', port: 8080 },
        ],
      },
    ],
    [
      'podinfo.test.svc.cluster.local:9999',
      {
        ok: true,
        candidates: [
          { host: '10.0.0.1', port: 9090 },
          { host: '10.0.0.2', port: 9090 },
        ],
      },
    ],
    ['single.test.svc.cluster.local:80', { ok: true, candidates: [{ host: '10.0.1.1', port: 8000 }] }],
    ['web.db.svc.cluster.local:5432', { ok: true, candidates: [{ host: '10.0.2.1', port: 5432 }] }],
    ['web-0.web.db.svc.cluster.local:5432', { ok: true, candidates: [{ host: '10.0.2.1', port: 5432 }] }],
    ['web-1.web.db.svc.cluster.local:5432', { ok: false, status: 503 }],
    ['web-9.web.db.svc.cluster.local:5432', { ok: false, status: 503 }],
    ['podinfo.test.svc.cluster.local:8080', { ok: false, status: 403 }], // a target port is not a service port
    ['podinfo.other.svc.cluster.local:9898', { ok: false, status: 403 }],
    ['kubernetes.default.svc.cluster.local:443', { ok: false, status: 403 }],
    ['empty.test.svc.cluster.local:80', { ok: false, status: 503 }],
  ])('%s → %o', (authority, expected) => {
    expect(index.resolve(target(authority))).toMatchObject(expected);
  });

  it('reaches the TCP port of a number that a UDP port shares, and refuses a UDP-only port', () => {
    index.upsertService({
      namespace: 'kube-system',
      name: 'dns',
      headless: false,
      ports: [
        { name: 'dns', port: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 53, protocol: 'TCP' },
        { name: 'syslog', port: 514, protocol: 'UDP' },
      ],
    });
    index.setSliceEndpoints('kube-system', 'dns', 'd1', [
      ep('10.0.3.1', [
        { name: 'dns', port: 5353 },
        { name: 'dns-tcp', port: 5354 },
        { name: 'syslog', port: 514 },
      ]),
    ]);
    expect(index.resolve(target('dns.kube-system.svc.cluster.local:53'))).toEqual({
      ok: true,
      candidates: [{ host: '10.0.3.1', port: 5354 }],
    });
    expect(index.resolve(target('dns.kube-system.svc.cluster.local:514'))).toEqual({
      ok: false,
      status: 403,
      reason: 'port 514 of service kube-system/dns is UDP: only TCP crosses the tunnel',
    });
  });

  it('admits only the clusters of isthmus.dev/allowed-clusters when the Service names them', () => {
    index.upsertService({
      namespace: 'test',
      name: 'podinfo',
      headless: false,
      ports: [{ name: 'http', port: 9898 }],
      allowedClusters: ['east', 'north'],
    });
    const podinfo = target('podinfo.test.svc.cluster.local:9898');
    expect(index.resolve(podinfo, 'east')).toMatchObject({ ok: true });
    expect(index.resolve(podinfo, 'west')).toEqual({
      ok: false,
      status: 403,
      reason: 'cluster west may not reach test/podinfo (isthmus.dev/allowed-clusters: east,north)',
    });
    index.upsertService({
      namespace: 'test',
      name: 'podinfo',
      headless: false,
      ports: [],
      allowedClusters: [],
    });
    expect(index.resolve(podinfo, 'east')).toMatchObject({ ok: false, status: 403 });
  });

  it('stops resolving a service once it is no longer exported, even with slices left', () => {
    index.removeService('test', 'podinfo');
    expect(index.resolve(target('podinfo.test.svc.cluster.local:9898'))).toMatchObject({
      ok: false,
      status: 403,
    });
  });

  it('keeps slices that arrive before their service', () => {
    index.setSliceEndpoints('late', 'svc', 's', [ep('10.1.0.1', [{ name: 'http', port: 80 }])]);
    expect(index.resolve(target('svc.late.svc.cluster.local:80'))).toMatchObject({ ok: false, status: 403 });
    index.upsertService({
      namespace: 'late',
      name: 'svc',
      headless: false,
      ports: [{ name: 'http', port: 80 }],
    });
    expect(index.resolve(target('svc.late.svc.cluster.local:80'))).toEqual({
      ok: true,
      candidates: [{ host: '10.1.0.1', port: 80 }],
    });
  });

  it('drops endpoints of a removed slice', () => {
    index.removeSlice('test', 'podinfo', 'podinfo-a');
    expect(index.resolve(target('podinfo.test.svc.cluster.local:9898'))).toEqual({
      ok: true,
      candidates: [{ host: '10.0.0.2', port: 8080 }],
    });
    index.removeSlice('test', 'podinfo', 'podinfo-b');
    expect(index.resolve(target('podinfo.test.svc.cluster.local:9898'))).toMatchObject({
      ok: false,
      status: 503,
    });
  });

  it('answers from what it resolved until the Service or one of its slices changes', () => {
    const podinfo = target('podinfo.test.svc.cluster.local:9898');
    const first = index.resolve(podinfo);
    expect(index.resolve(podinfo)).toBe(first);
    const hosts = () => {
      const r = index.resolve(podinfo, 'east');
      return r.ok ? r.candidates.map((c) => c.host) : r.status;
    };
    index.setSliceEndpoints('test', 'podinfo', 'podinfo-b', [
      ep('10.0.0.2', [{ name: 'http', port: 8080 }]),
      ep('10.0.0.4', [{ name: 'http', port: 8080 }]),
    ]);
    expect(hosts()).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.4']);
    index.setSliceEndpoints('test', 'podinfo', 'podinfo-a', [
      ep('10.0.0.1', [{ name: 'http', port: 8080 }], { ready: false }),
    ]);
    expect(hosts()).toEqual(['10.0.0.2', '10.0.0.4']);
    // A cached answer does not outlive the Service's admission rules or its ports.
    index.upsertService({
      namespace: 'test',
      name: 'podinfo',
      headless: false,
      ports: [{ name: 'http', port: 9898 }],
      allowedClusters: ['north'],
    });
    expect(hosts()).toBe(403);
    expect(index.resolve(podinfo, 'north')).toMatchObject({ ok: true });
    index.upsertService({
      namespace: 'test',
      name: 'podinfo',
      headless: false,
      ports: [{ name: 'http', port: 80 }],
    });
    expect(hosts()).toBe(403);
    index.upsertService({
      namespace: 'test',
      name: 'podinfo',
      headless: false,
      ports: [{ name: 'http', port: 9898 }],
    });
    expect(hosts()).toEqual(['10.0.0.2', '10.0.0.4']);
    index.removeSlice('test', 'podinfo', 'podinfo-b');
    expect(hosts()).toBe(503);
    index.removeService('test', 'podinfo');
    expect(hosts()).toBe(403);
  });

  it('keeps a pod target’s answer apart from its service’s', () => {
    const pod = target('web-0.web.db.svc.cluster.local:5432');
    const service = target('web.db.svc.cluster.local:5432');
    expect(index.resolve(service)).toMatchObject({ ok: true, candidates: [{ host: '10.0.2.1' }] });
    expect(index.resolve(pod)).toMatchObject({ ok: true, candidates: [{ host: '10.0.2.1' }] });
    expect(index.resolve(target('web-1.web.db.svc.cluster.local:5432'))).toMatchObject({ status: 503 });
    index.setSliceEndpoints('db', 'web', 'w1', [
      ep('10.0.2.2', [{ name: 'pg', port: 5432 }], { hostname: 'web-1' }),
    ]);
    expect(index.resolve(pod)).toMatchObject({ ok: false, status: 503 });
    expect(index.resolve(service)).toMatchObject({ ok: true, candidates: [{ host: '10.0.2.2' }] });
  });

  it('refuses the pod form for a Service that is not headless: kube DNS names no pod of it', () => {
    // A hostname in a ClusterIP Service's slice (a StatefulSet's pods behind it) must not let a peer
    // pin one pod and bypass the Service's balancing: only a headless Service's pods have DNS names.
    index.setSliceEndpoints('test', 'podinfo', 'podinfo-a', [
      ep('10.0.0.1', [{ name: 'http', port: 8080 }], { hostname: 'web-0' }),
      ep('10.0.0.2', [{ name: 'http', port: 8080 }], { hostname: 'web-1' }),
    ]);
    expect(index.resolve(target('web-1.podinfo.test.svc.cluster.local:9898'))).toEqual({
      ok: false,
      status: 403,
      reason: expect.stringMatching(/test\/podinfo is not headless/),
    });
    expect(index.resolve(target('podinfo.test.svc.cluster.local:9898'))).toMatchObject({
      ok: true,
      candidates: [{ host: '10.0.0.1' }, { host: '10.0.0.2' }],
    });
    // The same pods behind a headless Service: each is reachable by its name.
    index.upsertService({
      namespace: 'test',
      name: 'podinfo',
      headless: true,
      ports: [{ name: 'http', port: 9898 }],
    });
    expect(index.resolve(target('web-1.podinfo.test.svc.cluster.local:9898'))).toEqual({
      ok: true,
      candidates: [{ host: '10.0.0.2', port: 8080 }],
    });
  });

  it('falls back to serving terminating endpoints only when none is ready, as kube-proxy (KEP-1669)', () => {
    const svc = target('podinfo.test.svc.cluster.local:9898');
    const leaving = (address: string) =>
      ep(address, [{ name: 'http', port: 8080 }], { ready: false, servingTerminating: true });
    // A rollout's last old pods: terminating, still serving, nothing new ready yet.
    index.setSliceEndpoints('test', 'podinfo', 'podinfo-a', [
      leaving('10.0.0.7'),
      ep('10.0.0.8', [{ name: 'http', port: 8080 }], { ready: false }),
    ]);
    index.removeSlice('test', 'podinfo', 'podinfo-b');
    expect(index.resolve(svc)).toEqual({ ok: true, candidates: [{ host: '10.0.0.7', port: 8080 }] });
    // One ready endpoint anywhere (another slice): the terminating ones are left alone again.
    index.setSliceEndpoints('test', 'podinfo', 'podinfo-b', [ep('10.0.0.9', [{ name: 'http', port: 8080 }])]);
    expect(index.resolve(svc)).toEqual({ ok: true, candidates: [{ host: '10.0.0.9', port: 8080 }] });
    // A headless Service is reached through DNS, which lists ready pods only: no fallback.
    index.setSliceEndpoints('db', 'web', 'w1', [
      ep('10.0.2.1', [{ name: 'pg', port: 5432 }], {
        hostname: 'web-0',
        ready: false,
        servingTerminating: true,
      }),
    ]);
    expect(index.resolve(target('web.db.svc.cluster.local:5432'))).toMatchObject({ ok: false, status: 503 });
    expect(index.resolve(target('web-0.web.db.svc.cluster.local:5432'))).toMatchObject({
      ok: false,
      status: 503,
    });
  });

  it('counts exported services and forgets fully removed ones', () => {
    expect(index.size()).toBe(4);
    index.removeService('test', 'empty');
    expect(index.size()).toBe(3);
  });
});
