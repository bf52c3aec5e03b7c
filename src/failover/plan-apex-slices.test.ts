import { describe, expect, it } from 'vitest';
import { MANAGED_BY_FAILOVER, MANAGED_BY_LABEL, SERVICE_NAME_LABEL } from '../kube/keys.js';
import type { V1EndpointSlice, V1Service } from '../kube/types.js';
import type { ParsedBackend } from './parse-split.js';
import {
  apexSliceName,
  BACKEND_LABEL,
  listableEndpointCount,
  planApexSlices,
  SPLIT_LABEL,
  splitLabelValue,
  splitSliceLabels,
} from './plan-apex-slices.js';
import { podIPs, podSlices, service, slice } from './test-builders.js';

const ns = 'test';
const owner = {
  apiVersion: 'split.smi-spec.io/v1alpha2',
  kind: 'TrafficSplit',
  name: 'podinfo',
  uid: 'uid-1',
  labels: splitSliceLabels('podinfo'),
};
const apex = service(ns, 'podinfo', [{ name: 'http', port: 9898 }], { app: 'podinfo' });
const gateway = '10.0.0.5';

function slices(primaryReady: string[], opts: { westReady?: boolean; northReady?: boolean } = {}) {
  return new Map<string, V1EndpointSlice[]>([
    [
      'podinfo',
      [slice(ns, 'podinfo', { ready: primaryReady, notReady: primaryReady.length ? [] : ['10.1.0.7'] })],
    ],
    [
      'podinfo-west',
      [
        slice(ns, 'podinfo-west', {
          mirror: true,
          port: 20001,
          [opts.westReady === false ? 'notReady' : 'ready']: [gateway],
        }),
      ],
    ],
    [
      'podinfo-north',
      [
        slice(ns, 'podinfo-north', {
          mirror: true,
          port: 20002,
          [opts.northReady === false ? 'notReady' : 'ready']: [gateway],
        }),
      ],
    ],
  ]);
}

const w = (p: number, west: number, north: number): ParsedBackend[] => [
  { service: 'podinfo', weight: p },
  { service: 'podinfo-west', weight: west },
  { service: 'podinfo-north', weight: north },
];

const summary = (s: V1EndpointSlice) => ({
  name: s.metadata?.name,
  ports: s.ports?.map((p) => `${p.name}=${p.port}`),
  endpoints: s.endpoints.map((e) => `${e.addresses[0]}:${e.conditions?.ready}`),
});

describe('planApexSlices', () => {
  it.each<[string, ParsedBackend[], Map<string, V1EndpointSlice[]>, object[]]>([
    ['primary has all the weight: no Isthmus slice', w(1, 0, 0), slices(['10.1.0.7']), []],
    [
      'fallback to two backups: one slice each, apex port names mapped to each egress port',
      w(0, 1, 1),
      slices([]),
      [
        { name: 'podinfo-isthmus-podinfo-west', ports: ['http=20001'], endpoints: ['10.0.0.5:true'] },
        { name: 'podinfo-isthmus-podinfo-north', ports: ['http=20002'], endpoints: ['10.0.0.5:true'] },
      ],
    ],
    [
      'a backup whose gateway is dead gets no slice',
      w(0, 1, 1),
      slices([], { northReady: false }),
      [{ name: 'podinfo-isthmus-podinfo-west', ports: ['http=20001'], endpoints: ['10.0.0.5:true'] }],
    ],
    ['nothing ready: no slice to write', w(0, 1, 1), slices([], { westReady: false, northReady: false }), []],
  ])('%s', (_name, weights, slicesByService, expected) => {
    const plan = planApexSlices({ namespace: ns, apex, owner, weights, slicesByService });
    expect(plan.ok && plan.slices.map(summary)).toEqual(expected);
  });

  it('labels slices for the apex, as Isthmus-managed, owned by the split', () => {
    const plan = planApexSlices({
      namespace: ns,
      apex,
      owner,
      weights: w(0, 1, 0),
      slicesByService: slices([]),
    });
    const [s] = plan.ok ? plan.slices : [];
    expect(s?.metadata?.labels).toEqual({
      [SERVICE_NAME_LABEL]: 'podinfo',
      [MANAGED_BY_LABEL]: MANAGED_BY_FAILOVER,
      [SPLIT_LABEL]: 'podinfo',
      [BACKEND_LABEL]: 'podinfo-west',
    });
    const { labels: _labels, ...reference } = owner;
    expect(s?.metadata?.ownerReferences).toEqual([{ ...reference, controller: true }]);
  });

  it('ignores its own slices when counting the primary, so a dead primary stays dead', () => {
    const bySvc = slices([]);
    const first = planApexSlices({ namespace: ns, apex, owner, weights: w(0, 1, 0), slicesByService: bySvc });
    bySvc.set('podinfo', [...(bySvc.get('podinfo') ?? []), ...(first.ok ? first.slices : [])]);
    const again = planApexSlices({ namespace: ns, apex, owner, weights: w(0, 1, 0), slicesByService: bySvc });
    expect(again.ok && again.shares.map((s) => s.endpoints)).toEqual([0, 1, 0]);
  });

  it('50/50 over a selector-managed primary with two pods can only reach 67/33, and says so', () => {
    const plan = planApexSlices({
      namespace: ns,
      apex,
      owner,
      weights: w(50, 50, 0),
      slicesByService: slices(['10.1.0.7', '10.1.0.8']),
    });
    expect(plan.ok && plan.shares.map((s) => [s.service, s.endpoints])).toEqual([
      ['podinfo', 2],
      ['podinfo-west', 1],
      ['podinfo-north', 0],
    ]);
    expect(plan.ok && plan.maxError).toBeCloseTo(1 / 6);
  });

  it('50/50 over a selector-less apex lists the primary too and is exact', () => {
    const global = service(ns, 'podinfo-global');
    const weights: ParsedBackend[] = [
      { service: 'podinfo', weight: 50 },
      { service: 'podinfo-west', weight: 50 },
    ];
    const plan = planApexSlices({
      namespace: ns,
      apex: global,
      owner,
      weights,
      slicesByService: slices(['10.1.0.7', '10.1.0.8']),
    });
    expect(plan.ok && plan.slices.map(summary)).toEqual([
      { name: 'podinfo-global-isthmus-podinfo', ports: ['http=9898'], endpoints: ['10.1.0.7:true'] },
      { name: 'podinfo-global-isthmus-podinfo-west', ports: ['http=20001'], endpoints: ['10.0.0.5:true'] },
    ]);
    expect(plan.ok && plan.maxError).toBe(0);
  });

  it('an apex with no ports is refused with a reason', () => {
    const bare: V1Service = { metadata: { namespace: ns, name: 'podinfo' }, spec: { ports: [] } };
    expect(
      planApexSlices({ namespace: ns, apex: bare, owner, weights: w(0, 1, 0), slicesByService: slices([]) }),
    ).toEqual({
      ok: false,
      reason: 'ApexHasNoPorts',
      message: 'apex Service podinfo has no ports',
    });
  });

  const twoPorts = service(ns, 'podinfo', [
    { name: 'http', port: 9898 },
    { name: 'grpc', port: 9999 },
  ]);

  it('a backend without a matching port is reported, the others still served', () => {
    const bySvc = slices([]);
    bySvc.set('podinfo-north', [
      slice(ns, 'podinfo-north', { mirror: true, portName: 'metrics', ready: [gateway] }),
    ]);
    const plan = planApexSlices({
      namespace: ns,
      apex: twoPorts,
      owner,
      weights: w(0, 1, 1),
      slicesByService: bySvc,
    });
    expect(plan.ok && plan.problems).toEqual([
      "backend podinfo-west: no port for the apex's grpc",
      "backend podinfo-north: no port matches the apex's (http, grpc)",
    ]);
    expect(plan.ok && plan.problemReason).toBe('PortMismatch');
    expect(plan.ok && plan.slices.map((s) => s.metadata?.name)).toEqual(['podinfo-isthmus-podinfo-west']);
  });

  it("a backend that carries only some of the apex's ports is reported: callers of the others get nothing from it", () => {
    const plan = planApexSlices({
      namespace: ns,
      apex: twoPorts,
      owner,
      weights: w(0, 1, 0),
      slicesByService: slices([]),
    });
    expect(plan.ok && plan.slices.map(summary)[0]?.ports).toEqual(['http=20001']);
    expect(plan.ok && plan.problems).toEqual([
      "backend podinfo-west: no port for the apex's grpc",
      "backend podinfo-north: no port for the apex's grpc",
    ]);
    expect(plan.ok && plan.problemReason).toBe('PortMismatch');
  });

  it("a federated Service as a backup: its federation's slices are its endpoints", () => {
    const federated = {
      ...slice(ns, 'podinfo-federated', { ready: ['10.1.0.9', gateway], port: 9898 }),
      metadata: {
        namespace: ns,
        name: 'podinfo-federated-isthmus-podinfo',
        labels: { [SERVICE_NAME_LABEL]: 'podinfo-federated', [MANAGED_BY_LABEL]: 'federation.isthmus.dev' },
      },
    };
    const bySvc = slices([]);
    bySvc.set('podinfo-federated', [federated]);
    const weights = [
      { service: 'podinfo', weight: 0 },
      { service: 'podinfo-federated', weight: 1 },
    ];
    const plan = planApexSlices({ namespace: ns, apex, owner, weights, slicesByService: bySvc });
    expect(plan.ok && plan.slices.map(summary)).toEqual([
      {
        name: 'podinfo-isthmus-podinfo-federated',
        ports: ['http=9898'],
        endpoints: ['10.0.0.5:true', '10.1.0.9:true'],
      },
    ]);
  });
});

describe('planApexSlices: a backend without endpoints is not ready, never a port mismatch', () => {
  /** What the EndpointSlice controller writes for a Service that selects no pod (a Deployment scaled to 0). */
  const emptySlice = (svc: string): V1EndpointSlice => ({ ...slice(ns, svc, {}), ports: [], endpoints: [] });
  const apexSlices = (svc: string): V1EndpointSlice => ({
    ...slice(ns, svc, { ready: [gateway], port: 20001 }),
    metadata: {
      namespace: ns,
      name: `${svc}-isthmus-${svc}-west`,
      labels: { [SERVICE_NAME_LABEL]: svc, [MANAGED_BY_LABEL]: MANAGED_BY_FAILOVER },
    },
  });
  const selectorless = service(ns, 'pm', [{ name: 'http', port: 9898 }]);
  const onWest = w(0, 1, 0);
  const planOver = (
    weights: ParsedBackend[],
    slicesByService: Map<string, V1EndpointSlice[]>,
    matchByNameOnly: boolean,
  ) =>
    planApexSlices({ namespace: ns, apex: selectorless, owner, weights, slicesByService, matchByNameOnly });
  it.each<[string, V1EndpointSlice[], boolean]>([
    ['an empty slice (no ports, no endpoints): scaled to 0', [emptySlice('podinfo')], false],
    ['the same, by name only (a federation member)', [emptySlice('podinfo')], true],
    [
      'a slice of a port of another name but no endpoint, by name only',
      [{ ...slice(ns, 'podinfo', { portName: 'metrics', port: 9797 }), endpoints: [] }],
      true,
    ],
    ["only Isthmus's apex slices of it (it is another split's apex)", [apexSlices('podinfo')], false],
  ])('%s', (_name, podinfoSlices, matchByNameOnly) => {
    const bySvc = slices([]);
    bySvc.set('podinfo', podinfoSlices);
    const plan = planOver(onWest, bySvc, matchByNameOnly);
    expect(plan.ok && plan.problems).toEqual([]);
    expect(plan.ok && plan.slices.map((s) => s.metadata?.labels?.[BACKEND_LABEL])).toEqual(['podinfo-west']);
    expect(listableEndpointCount(selectorless, podinfoSlices, { matchByNameOnly })).toBe(0);
  });

  it('a backend whose endpoints are on another port is still a port mismatch', () => {
    const bySvc = slices([]);
    bySvc.set('podinfo', [slice(ns, 'podinfo', { portName: 'metrics', port: 9797, notReady: ['10.1.0.7'] })]);
    bySvc.set('podinfo-west', [emptySlice('podinfo-west')]);
    const plan = planOver(w(1, 0, 0), bySvc, true);
    expect(plan.ok && plan.problems).toEqual(["backend podinfo: no port matches the apex's (http)"]);
  });
});

describe('planApexSlices in dual-stack clusters', () => {
  const planFor = (
    apex: V1Service,
    weights: ParsedBackend[],
    slicesByService: Map<string, V1EndpointSlice[]>,
  ) => planApexSlices({ namespace: ns, apex, owner, weights, slicesByService });
  const v6apex = (
    families: string[],
    name = 'podinfo',
    selector: Record<string, string> | undefined = { app: 'podinfo' },
  ) => {
    const svc = service(ns, name, [{ name: 'http', port: 9898 }], selector);
    svc.spec!.ipFamilies = families;
    return svc;
  };
  /** The primary's pods as the EndpointSlice controller lists a dual-stack Service: one slice per family. */
  const dualStackPrimary = (n: number) => [
    slice(ns, 'podinfo', {
      name: 'podinfo-v4',
      ready: Array.from({ length: n }, (_, i) => `10.1.0.${i + 7}`),
    }),
    slice(ns, 'podinfo', {
      name: 'podinfo-v6',
      ready: Array.from({ length: n }, (_, i) => `fd00:1::${i + 7}`),
    }),
  ];

  it('counts a dual-stack pod once: 50/50 against two pods is 2 : 1, not 4 : 1', () => {
    const bySvc = new Map([
      ['podinfo', dualStackPrimary(2)],
      ['podinfo-west', [slice(ns, 'podinfo-west', { mirror: true, port: 20001, ready: ['fd00:2::5'] })]],
    ]);
    const plan = planFor(
      v6apex(['IPv6', 'IPv4']),
      [
        { service: 'podinfo', weight: 50 },
        { service: 'podinfo-west', weight: 50 },
      ],
      bySvc,
    );
    expect(plan.ok && plan.shares.map((s) => [s.service, s.endpoints])).toEqual([
      ['podinfo', 2],
      ['podinfo-west', 1],
    ]);
  });

  it("lists, for each family the apex serves, the share of that family's endpoints", () => {
    const bySvc = new Map([
      ['podinfo', []],
      [
        'podinfo-backup',
        dualStackPrimary(2).map((s) => ({
          ...s,
          metadata: { ...s.metadata, labels: { [SERVICE_NAME_LABEL]: 'podinfo-backup' } },
        })),
      ],
    ]);
    const weights = [
      { service: 'podinfo', weight: 0 },
      { service: 'podinfo-backup', weight: 1 },
    ];
    const dual = planFor(v6apex(['IPv6', 'IPv4']), weights, bySvc);
    expect(dual.ok && dual.slices.map(summary)).toEqual([
      {
        name: 'podinfo-isthmus-podinfo-backup',
        ports: ['http=9898'],
        endpoints: ['fd00:1::7:true', 'fd00:1::8:true'],
      },
      {
        name: expect.stringMatching(/^podinfo-isthmus-podinfo-backup\.[0-9a-f]{10}$/),
        ports: ['http=9898'],
        endpoints: ['10.1.0.7:true', '10.1.0.8:true'],
      },
    ]);
    expect(dual.ok && dual.slices.map((s) => s.addressType)).toEqual(['IPv6', 'IPv4']);
    // A single-stack IPv6 apex gets IPv6 endpoints only: kube-proxy would ignore IPv4 ones.
    const v6 = planFor(v6apex(['IPv6']), weights, bySvc);
    expect(v6.ok && v6.slices.map((s) => s.addressType)).toEqual(['IPv6']);
  });

  it("a backup with endpoints of one of a dual-stack apex's families is reported: the other family's callers never reach it", () => {
    const bySvc = new Map([
      ['podinfo', dualStackPrimary(2)],
      ['podinfo-west', [slice(ns, 'podinfo-west', { mirror: true, port: 20001, ready: ['fd00:2::5'] })]],
    ]);
    const plan = planFor(v6apex(['IPv6', 'IPv4']), w(0, 1, 0), bySvc);
    expect(plan.ok && plan.slices.map((s) => s.addressType)).toEqual(['IPv6']);
    expect(plan.ok && plan.problems).toEqual([
      "backend podinfo-west: no IPv4 endpoint, so the apex's IPv4 callers never reach it",
    ]);
    expect(plan.ok && plan.problemReason).toBe('FamilyMismatch');
  });

  it('a backup whose endpoints are all of a family the apex does not serve is reported and gets nothing', () => {
    const bySvc = new Map([
      ['podinfo', [slice(ns, 'podinfo', { notReady: ['10.1.0.7'] })]],
      ['podinfo-west', [slice(ns, 'podinfo-west', { mirror: true, port: 20001, ready: ['fd00:2::5'] })]],
    ]);
    const plan = planFor(v6apex(['IPv4']), w(0, 1, 0), bySvc);
    expect(plan.ok && plan.problems).toEqual([
      'backend podinfo-west: its ready endpoints are IPv6, the apex serves IPv4',
    ]);
    expect(plan.ok && plan.problemReason).toBe('FamilyMismatch');
    expect(plan.ok && plan.slices).toEqual([]);
    expect(plan.ok && plan.shares.find((s) => s.service === 'podinfo-west')?.endpoints).toBe(0);
  });
});

describe('apex slice names', () => {
  /** Mirrors of clusters `west` and `west-1`: `web-west`'s second slice once was `web-west-1`'s first. */
  const dualStackWest = () =>
    new Map<string, V1EndpointSlice[]>([
      ['web', []],
      [
        'web-west',
        [
          slice(ns, 'web-west', { mirror: true, ready: ['10.0.0.5'], port: 20001, name: 'web-west-v4' }),
          slice(ns, 'web-west', { mirror: true, ready: ['fd00::5'], port: 20001, name: 'web-west-v6' }),
        ],
      ],
      ['web-west-1', [slice(ns, 'web-west-1', { mirror: true, ready: ['10.0.0.5'], port: 20002 })]],
    ]);
  const web = service(ns, 'web', [{ name: 'http', port: 9898 }]);
  web.spec!.ipFamilies = ['IPv4', 'IPv6'];
  const names = (slicesByService: Map<string, V1EndpointSlice[]>) => {
    const weights = [
      { service: 'web', weight: 0 },
      { service: 'web-west', weight: 1 },
      { service: 'web-west-1', weight: 1 },
    ];
    const plan = planApexSlices({ namespace: ns, apex: web, owner, weights, slicesByService });
    return plan.ok ? plan.slices.map((s) => s.metadata?.name ?? '') : [];
  };

  it('are distinct for every planned slice, valid DNS-1123 subdomains, and the same on every reconcile', () => {
    const planned = names(dualStackWest());
    expect(planned).toHaveLength(3);
    expect(new Set(planned).size).toBe(3);
    for (const name of planned) {
      expect(name.length).toBeLessThanOrEqual(253);
      expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/);
    }
    expect(names(dualStackWest())).toEqual(planned);
  });

  it("keep a backend's first slice at <apex>-isthmus-<backend>", () => {
    expect(names(dualStackWest())).toEqual(
      expect.arrayContaining(['web-isthmus-web-west', 'web-isthmus-web-west-1']),
    );
  });
});

describe('planApexSlices for a backend over 1000 endpoints (the API refuses a larger slice)', () => {
  const web = (families: string[] = ['IPv4']) => {
    const svc = service(ns, 'web', [{ name: 'http', port: 8080 }]);
    svc.spec!.ipFamilies = families;
    return svc;
  };
  const plan = (
    apex: V1Service,
    weights: ParsedBackend[],
    slicesByService: Map<string, V1EndpointSlice[]>,
  ) => {
    const p = planApexSlices({ namespace: ns, apex, owner, weights, slicesByService });
    if (!p.ok) throw new Error(p.message);
    return p;
  };
  const sizes = (slices: V1EndpointSlice[]) => slices.map((s) => [s.metadata?.name, s.endpoints.length]);
  const addresses = (slices: V1EndpointSlice[]) =>
    slices.flatMap((s) => s.endpoints.map((e) => e.addresses[0]));

  it('splits a 1500-pod backend into slices of 1000 and 500, every endpoint listed once', () => {
    const pods = podIPs(1500);
    const p = plan(
      web(),
      [
        { service: 'web', weight: 0 },
        { service: 'web-big', weight: 1 },
      ],
      new Map([['web-big', podSlices(ns, 'web-big', pods, { port: 8080 })]]),
    );
    expect(sizes(p.slices)).toEqual([
      ['web-isthmus-web-big', 1000],
      ['web-isthmus-web-big.1', 500],
    ]);
    expect(addresses(p.slices).sort()).toEqual([...pods].sort());
    expect(p.shares.find((s) => s.service === 'web-big')?.endpoints).toBe(1500);
    for (const s of p.slices) {
      expect(s.metadata?.labels?.[BACKEND_LABEL]).toBe('web-big');
      expect(s.ports).toEqual([{ name: 'http', port: 8080, protocol: 'TCP' }]);
    }
  });

  it('chunks after the share is chosen: 50/50 between 1500 and 1200 pods lists 1200 of each', () => {
    const p = plan(
      web(),
      [
        { service: 'web-a', weight: 1 },
        { service: 'web-b', weight: 1 },
      ],
      new Map([
        ['web-a', podSlices(ns, 'web-a', podIPs(1500, '10.1'), { port: 8080 })],
        ['web-b', podSlices(ns, 'web-b', podIPs(1200, '10.2'), { port: 8080 })],
      ]),
    );
    expect(p.shares.map((s) => [s.service, s.endpoints])).toEqual([
      ['web-a', 1200],
      ['web-b', 1200],
    ]);
    expect(p.maxError).toBe(0);
    expect(sizes(p.slices)).toEqual([
      ['web-isthmus-web-a', 1000],
      ['web-isthmus-web-a.1', 200],
      ['web-isthmus-web-b', 1000],
      ['web-isthmus-web-b.1', 200],
    ]);
  });

  it('chunks each family of a dual-stack backend on its own', () => {
    const p = plan(
      web(['IPv4', 'IPv6']),
      [
        { service: 'web', weight: 0 },
        { service: 'web-big', weight: 1 },
      ],
      new Map([
        [
          'web-big',
          [
            ...podSlices(ns, 'web-big', podIPs(1200, '10.1'), { port: 8080 }),
            ...podSlices(ns, 'web-big', podIPs(1200, 'fd00:1'), { port: 8080 }).map((s) => ({
              ...s,
              metadata: { ...s.metadata, name: `${s.metadata?.name}-v6` },
            })),
          ],
        ],
      ]),
    );
    expect(p.shares.find((s) => s.service === 'web-big')?.endpoints).toBe(1200);
    expect(p.slices.map((s) => [s.metadata?.name, s.addressType, s.endpoints.length])).toEqual([
      ['web-isthmus-web-big', 'IPv4', 1000],
      ['web-isthmus-web-big.1', 'IPv4', 200],
      [expect.stringMatching(/^web-isthmus-web-big\.[0-9a-f]{10}$/), 'IPv6', 1000],
      [expect.stringMatching(/^web-isthmus-web-big\.[0-9a-f]{10}\.1$/), 'IPv6', 200],
    ]);
  });

  it("names every chunk apart from any other backend's slices (web-west's vs web-west-1's), the same on every reconcile", () => {
    const dual = (svc: string, count: number, v4: string, v6: string) => [
      ...podSlices(ns, svc, podIPs(count, v4), { port: 8080 }),
      ...podSlices(ns, svc, podIPs(count, v6), { port: 8080 }).map((s) => ({
        ...s,
        metadata: { ...s.metadata, name: `${s.metadata?.name}-v6` },
      })),
    ];
    const names = () =>
      plan(
        web(['IPv4', 'IPv6']),
        [
          { service: 'web', weight: 0 },
          { service: 'web-west', weight: 1 },
          { service: 'web-west-1', weight: 1 },
        ],
        new Map([
          ['web-west', dual('web-west', 2500, '10.1', 'fd00:1')],
          ['web-west-1', dual('web-west-1', 2500, '10.2', 'fd00:2')],
        ]),
      ).slices.map((s) => s.metadata?.name ?? '');
    const planned = names();
    expect(planned).toHaveLength(12);
    expect(new Set(planned).size).toBe(12);
    for (const name of planned) {
      expect(name.length).toBeLessThanOrEqual(253);
      expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/);
    }
    expect(names()).toEqual(planned);
  });

  it('apexSliceName: two apex/backend pairs that would spell one name get different ones', () => {
    const pairs: [string, string][] = [
      ['a-isthmus-b', 'c'],
      ['a', 'b-isthmus-c'],
      ['a-isthmus', 'b'],
      ['a', 'isthmus-b'],
    ];
    const names = pairs.map(([apex, backend]) => apexSliceName(apex, backend));
    expect(new Set(names).size).toBe(pairs.length);
    for (const n of names)
      expect(n).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/);
    // A name that splits one way only keeps the form it always had.
    expect(apexSliceName('web', 'web-west')).toBe('web-isthmus-web-west');
  });

  it('apexSliceName: a chunk index after the name, the first chunk keeps the name it always had', () => {
    expect(apexSliceName('web', 'web-west')).toBe('web-isthmus-web-west');
    expect(apexSliceName('web', 'web-west', undefined, 0)).toBe('web-isthmus-web-west');
    expect(apexSliceName('web', 'web-west', undefined, 2)).toBe('web-isthmus-web-west.2');
    expect(apexSliceName('web', 'web-west', 'IPv6|[]', 1)).toBe(
      `${apexSliceName('web', 'web-west', 'IPv6|[]')}.1`,
    );
  });
});

describe('apex port mapping', () => {
  const dns: V1Service = {
    ...service(ns, 'dns'),
    spec: { ports: [{ name: 'dns', port: 53, protocol: 'TCP' }], ipFamilies: ['IPv4'] },
  };
  const backend = (name: string, protocol: string) => {
    const s = slice(ns, 'dns-west', { mirror: true, ready: [gateway], port: 20001 });
    s.ports = [{ name, port: 20001, protocol }];
    return s;
  };
  it.each<[string, V1EndpointSlice, boolean, string[]]>([
    ['same name and protocol', backend('dns', 'TCP'), false, ['dns=20001/TCP']],
    [
      'sole ports of the same protocol, another name (failover)',
      backend('domain', 'TCP'),
      false,
      ['dns=20001/TCP'],
    ],
    ['sole ports, another name, by name only (federation)', backend('domain', 'TCP'), true, []],
    ['never TCP onto UDP, even by name', backend('dns', 'UDP'), false, []],
    ['never TCP onto UDP as the sole ports', backend('domain', 'UDP'), false, []],
  ])('%s', (_name, backendSlice, matchByNameOnly, expected) => {
    const plan = planApexSlices({
      namespace: ns,
      apex: dns,
      owner,
      weights: [
        { service: 'dns', weight: 0 },
        { service: 'dns-west', weight: 1 },
      ],
      slicesByService: new Map([
        ['dns', []],
        ['dns-west', [backendSlice]],
      ]),
      matchByNameOnly,
    });
    expect(
      plan.ok && plan.slices.flatMap((s) => (s.ports ?? []).map((p) => `${p.name}=${p.port}/${p.protocol}`)),
    ).toEqual(expected);
    if (expected.length === 0) expect(plan.ok && plan.problemReason).toBe('PortMismatch');
  });
});

describe('splitLabelValue', () => {
  it('is the name when a label value can hold it, else 52 characters and a hash: valid and distinct', () => {
    expect(splitLabelValue('podinfo')).toBe('podinfo');
    const long = (tail: string) => `${'a-very-long-traffic-split-name-'.repeat(3)}${tail}`;
    const [a, b] = [splitLabelValue(long('one')), splitLabelValue(long('two'))];
    for (const value of [a, b]) {
      expect(value).toHaveLength(63);
      expect(value).toMatch(/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/);
    }
    expect(a).not.toBe(b);
    expect(splitLabelValue(long('one'))).toBe(a);
  });
});
