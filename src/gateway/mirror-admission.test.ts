/**
 * Which mirror Services become egress routes (`admitRoutes`): only mirrors of a linked cluster,
 * leading to a gateway that cluster's Link names, on a port of the egress range; a port two
 * Services claim stays with the one that held it, else the older. Nothing here is dialled: the
 * addresses are documentation ones (RFC 5737, RFC 3849).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { vouchedPorts } from '../kube/linkerd-mirror.js';
import type { Link, V1EndpointSlice, V1Service } from '../kube/types.js';
import { link } from './e2e/fixtures.js';
import { vouchAll } from './test-support/mirror-slices.js';
import {
  type AdmittedMirror,
  admitRoutes,
  lastingRefusals,
  type RefusedRoute,
  type RouteAdmission,
} from './watch-mirrors.js';

const RANGE = { first: 20000, last: 29999 };
const WEST_GW = '203.0.113.10';

function service(
  ns: string,
  name: string,
  opts: {
    gateway?: string;
    egress?: string;
    cluster?: string;
    fq?: string;
    created?: string;
    uid?: string;
  } = {},
): V1Service {
  return {
    metadata: {
      namespace: ns,
      name,
      uid: opts.uid ?? `uid-${ns}-${name}`,
      creationTimestamp: (opts.created ?? '2024-05-01T10:00:00Z') as never,
      labels: {
        'mirror.linkerd.io/mirrored-service': 'true',
        'mirror.linkerd.io/cluster-name': opts.cluster ?? 'west',
      },
      annotations: {
        'isthmus.dev/egress-ports': opts.egress ?? 'http=20000',
        'isthmus.dev/remote-gateway': opts.gateway ?? `${WEST_GW}:4143`,
        'mirror.linkerd.io/remote-svc-fq-name': opts.fq ?? 'podinfo.test.svc.cluster.local',
      },
    },
    spec: { ports: [{ name: 'http', port: 9898 }] },
  };
}

/** The real mirror: `test/podinfo-west`, egress port 20000, made by the controller long ago. */
const real = (opts: Parameters<typeof service>[2] = {}): V1Service =>
  service('test', 'podinfo-west', { created: '2024-05-01T10:00:00Z', ...opts });
/** A tenant's Service in a namespace that sorts first, claiming the real mirror's port. */
const forged = (opts: Parameters<typeof service>[2] = {}): V1Service =>
  service('aaa', 'x', { created: '2024-06-01T08:00:00Z', fq: 'sink.evil.svc.cluster.local', ...opts });

function withStatus(l: Link, addresses: string[]): Link {
  return { ...l, status: { gatewayAddresses: addresses } };
}

const westLink = (): Link => link('west', WEST_GW);
/** As the gateway admits them once the controller has written each one's slice (unless `extra` says). */
const admit = (services: V1Service[], extra: Partial<RouteAdmission> = {}) =>
  admitRoutes(services, { links: [westLink()], vouched: vouchAll(services), egressRange: RANGE, ...extra });

describe('admitRoutes', () => {
  it('a forged mirror in a namespace that sorts first does not get the real mirror’s port', () => {
    for (const list of [
      [real(), forged()],
      [forged(), real()],
    ]) {
      const result = admit(list);
      expect(result.routes.map((r) => [r.port, r.mirror, r.authority])).toEqual([
        [20000, 'test/podinfo-west', 'podinfo.test.svc.cluster.local:9898'],
      ]);
      expect(result.refused).toEqual([
        {
          mirror: 'aaa/x',
          port: 20000,
          reason: 'egress port 20000 is already held by test/podinfo-west, an older claim',
        },
      ]);
    }
  });

  it('the holder of a port keeps it against a claim created in the same second that sorts first', () => {
    const first = admit([real()]);
    const tie = forged({ created: '2024-05-01T10:00:00Z' });
    // Without a holder the tie goes by namespace/name...
    expect(admit([real(), tie]).routes[0]?.mirror).toBe('aaa/x');
    // ...but a port held is never taken.
    const result = admit([tie, real()], { previous: first.admitted });
    expect(result.routes.map((r) => r.mirror)).toEqual(['test/podinfo-west']);
    expect(result.refused.map((r) => r.mirror)).toEqual(['aaa/x']);
  });

  it('refuses a remote gateway that the Link does not name: the gateway dials no address a tenant picks', () => {
    const result = admit([forged({ gateway: '10.96.0.1:443', egress: 'http=20005' })]);
    expect(result.routes).toEqual([]);
    expect(result.refused).toEqual([
      {
        mirror: 'aaa/x',
        reason:
          'remote gateway 10.96.0.1:443 is not one the Link to cluster "west" names (spec.gatewayAddress and gatewayPort, or status.gatewayAddresses)',
      },
    ]);
  });

  it('refuses the Link’s address on another port than its gatewayPort', () => {
    expect(admit([real({ gateway: `${WEST_GW}:4191` })]).routes).toEqual([]);
  });

  it('refuses an egress port outside the range and keeps the others of the mirror', () => {
    const svc = real({ egress: 'http=20000,grpc=4191' });
    svc.spec!.ports = [
      { name: 'http', port: 9898 },
      { name: 'grpc', port: 9999 },
    ];
    const result = admit([svc]);
    expect(result.routes.map((r) => r.port)).toEqual([20000]);
    expect(result.refused).toEqual([
      {
        mirror: 'test/podinfo-west',
        port: 4191,
        reason: 'egress port 4191 is outside the egress port range 20000-29999',
      },
    ]);
  });

  it('refuses a mirror of a cluster that has no Link, and one whose Link is being deleted', () => {
    const north = service('test', 'podinfo-north', { cluster: 'north' });
    expect(admit([north]).refused).toEqual([
      {
        mirror: 'test/podinfo-north',
        reason: 'cluster "north" has no Link: only the mirrors the controller writes for a Link are routed',
      },
    ]);
    const deleting = { ...westLink(), metadata: { ...westLink().metadata, deletionTimestamp: new Date() } };
    expect(admit([real()], { links: [deleting] }).routes).toEqual([]);
  });

  it('refuses a gateway another cluster’s Link names: the gateway must be the mirror’s own cluster’s', () => {
    const links = [westLink(), link('north', '198.51.100.20')];
    expect(admit([real({ gateway: '198.51.100.20:4143' })], { links }).routes).toEqual([]);
  });

  it.each<[string, Link, string]>([
    [
      'status address',
      withStatus(link('west', 'gw.west.example.com'), ['198.51.100.7']),
      '198.51.100.7:4143',
    ],
    ['spec DNS name, any case', link('west', 'GW.West.Example.com'), 'gw.west.example.com:4143'],
    ['spec address among several', link('west', '192.0.2.1, 192.0.2.2', 14143), '192.0.2.2:14143'],
    ['IPv6 in status, bracketed', withStatus(link('west', WEST_GW), ['2001:db8:0::a']), '[2001:db8::a]:4143'],
    ['IPv6 in spec, any spelling', link('west', '2001:DB8::A'), '[2001:db8:0:0::a]:4143'],
  ])('admits the gateway as the controller writes it: %s', (_name, l, gateway) => {
    const result = admit([real({ gateway })], { links: [l] });
    expect(result.refused).toEqual([]);
    expect(result.routes.map((r) => r.port)).toEqual([20000]);
  });

  describe('a remote gateway address change', () => {
    const before = withStatus(westLink(), ['198.51.100.7']);
    const after = withStatus(westLink(), ['198.51.100.8']);
    const served = (links: Link[], svc: V1Service, previous?: ReadonlyMap<string, AdmittedMirror>) =>
      admit([svc], { links, ...(previous ? { previous } : {}) });

    it('mirror first: its last admitted route serves until the Link status names the new address', () => {
      const first = served([before], real({ gateway: '198.51.100.7:4143' }));
      const moved = served([before], real({ gateway: '198.51.100.8:4143' }), first.admitted);
      expect(moved.routes.map((r) => r.remote)).toEqual([{ host: '198.51.100.7', port: 4143 }]);
      expect(moved.refused[0]?.reason).toContain('its last admitted routes (to 198.51.100.7:4143) serve');
      const settled = served([after], real({ gateway: '198.51.100.8:4143' }), moved.admitted);
      expect(settled.routes.map((r) => r.remote)).toEqual([{ host: '198.51.100.8', port: 4143 }]);
      expect(settled.refused).toEqual([]);
    });

    it('Link first: the mirror keeps its route until its annotation follows', () => {
      const first = served([before], real({ gateway: '198.51.100.7:4143' }));
      const moved = served([after], real({ gateway: '198.51.100.7:4143' }), first.admitted);
      expect(moved.routes.map((r) => r.remote)).toEqual([{ host: '198.51.100.7', port: 4143 }]);
      const settled = served([after], real({ gateway: '198.51.100.8:4143' }), moved.admitted);
      expect(settled.routes.map((r) => r.remote)).toEqual([{ host: '198.51.100.8', port: 4143 }]);
    });

    it('keeps nothing for a Service created again under the name, nor once the Link is gone', () => {
      const first = served([before], real({ gateway: '198.51.100.7:4143' }));
      const again = real({ gateway: '10.96.0.1:443', uid: 'another-uid' });
      expect(served([before], again, first.admitted).routes).toEqual([]);
      expect(served([], real({ gateway: '198.51.100.8:4143' }), first.admitted).routes).toEqual([]);
    });
  });
});

describe('claims the mirror controller vouches for (its EndpointSlices)', () => {
  const UNVOUCHED = (port: number) =>
    `no EndpointSlice of the mirror controller (endpointslice.kubernetes.io/managed-by=mirror.isthmus.dev) lists egress port ${port} for it: only ports the controller gave a mirror are routed`;

  it("an older tenant Service claiming a mirror's port never takes it, with no holder to remember (a restarted gateway)", () => {
    // Made long before the mirror, relabelled as a "mirror" later: the oldest claim, and no `previous`.
    const old = forged({ created: '2020-01-01T00:00:00Z' });
    for (const list of [
      [old, real()],
      [real(), old],
    ]) {
      const result = admit(list, { vouched: vouchAll([real()]) });
      expect(result.routes.map((r) => [r.port, r.mirror, r.authority])).toEqual([
        [20000, 'test/podinfo-west', 'podinfo.test.svc.cluster.local:9898'],
      ]);
      expect(result.refused).toEqual([
        { mirror: 'aaa/x', port: 20000, reason: UNVOUCHED(20000), unvouched: true },
      ]);
    }
  });

  it('a Service claiming a free port, with an authority of its choosing, opens no listener', () => {
    const result = admit([forged({ egress: 'http=20500', fq: 'db.hidden.svc.cluster.local' })], {
      vouched: new Map(),
    });
    expect(result.routes).toEqual([]);
    expect(result.refused).toEqual([
      { mirror: 'aaa/x', port: 20500, reason: UNVOUCHED(20500), unvouched: true },
    ]);
  });

  it("a port the mirror's slice does not list (yet) waits, and the ports it lists serve", () => {
    const two = real({ egress: 'http=20000,grpc=20001' });
    two.spec!.ports!.push({ name: 'grpc', port: 9999 });
    const result = admit([two], { vouched: new Map([['test/podinfo-west', new Set([20000])]]) });
    expect(result.routes.map((r) => r.port)).toEqual([20000]);
    expect(result.refused).toEqual([
      { mirror: 'test/podinfo-west', port: 20001, reason: UNVOUCHED(20001), unvouched: true },
    ]);
  });

  it("a mirror whose remote name was edited is not routed: the name its slice records is the controller's", () => {
    const edited = real({ fq: 'hidden.other.svc.cluster.local' });
    const recorded = new Map([['test/podinfo-west', 'podinfo.test.svc.cluster.local']]);
    const result = admit([edited], { vouchedNames: recorded });
    expect(result.routes).toEqual([]);
    expect(result.refused).toEqual([
      {
        mirror: 'test/podinfo-west',
        reason:
          'its mirror.linkerd.io/remote-svc-fq-name "hidden.other.svc.cluster.local" is not the remote name the mirror controller\'s EndpointSlice records ("podinfo.test.svc.cluster.local")',
      },
    ]);
    // As recorded, it is routed; a slice of an older controller, with no name, vouches for the ports.
    expect(admit([real()], { vouchedNames: recorded }).routes).toHaveLength(1);
    expect(admit([edited], { vouchedNames: new Map() }).routes).toHaveLength(1);
  });

  it("vouchedPorts takes only the mirror controller's slices, by the Service they belong to", () => {
    const slice = (ns: string, service: string, managedBy: string, ports: number[]): V1EndpointSlice => ({
      metadata: {
        namespace: ns,
        name: `${service}-abc`,
        labels: {
          'endpointslice.kubernetes.io/managed-by': managedBy,
          'kubernetes.io/service-name': service,
        },
      },
      addressType: 'IPv4',
      endpoints: [],
      ports: ports.map((port) => ({ port })),
    });
    const vouched = vouchedPorts([
      slice('test', 'podinfo-west', 'mirror.isthmus.dev', [20000]),
      slice('test', 'podinfo-west', 'mirror.isthmus.dev', [20001]),
      slice('aaa', 'x', 'endpointslice-controller.k8s.io', [20002]),
      slice('aaa', 'y', 'failover.isthmus.dev', [20003]),
    ]);
    expect([...vouched]).toEqual([['test/podinfo-west', new Set([20000, 20001])]]);
  });
});

describe('lastingRefusals', () => {
  afterEach(() => {
    vi.useRealTimers();
  });
  const refusal = (mirror: string, port: number): RefusedRoute => ({
    mirror,
    port,
    reason: 'unvouched',
    unvouched: true,
  });

  // Every apply calls update(), refused or not, as run-gateway does.
  it('reports an unvouched refusal once it lasts, never one that a slice resolves meanwhile, and again if it comes back', () => {
    vi.useFakeTimers();
    let now: RefusedRoute[] = [refusal('test/new-west', 20001), refusal('aaa/x', 20000)];
    const reports: string[][] = [];
    const lasting = lastingRefusals(
      () => now,
      10_000,
      (r) => reports.push(r.map((x) => x.mirror)),
    );
    lasting.update();
    vi.advanceTimersByTime(5_000);
    now = [refusal('aaa/x', 20000)]; // test/new-west's slice came
    lasting.update(); // a timer runs: no second one
    vi.advanceTimersByTime(5_000);
    expect(reports).toEqual([['aaa/x']]);
    vi.advanceTimersByTime(60_000);
    expect(reports).toEqual([['aaa/x']]); // once
    now = [];
    lasting.update();
    vi.advanceTimersByTime(10_000);
    now = [refusal('aaa/x', 20000)];
    lasting.update();
    vi.advanceTimersByTime(10_000);
    expect(reports).toEqual([['aaa/x'], ['aaa/x']]);
    // Settled refusals (a gateway the Link does not name) are the watcher's to log at once.
    now = [{ mirror: 'bbb/y', reason: 'remote gateway …' }];
    lasting.update();
    vi.advanceTimersByTime(60_000);
    expect(reports).toHaveLength(2);
    lasting.stop();
  });
});

describe('a retargeted Link (a typo in targetClusterName)', () => {
  it("routes the mirrors the controller keeps for it (status.mirroredClusterName) to the gateway it names, and nothing of another Link's", () => {
    const typo: Link = { ...link('north', WEST_GW), status: { mirroredClusterName: 'west' } };
    expect(
      admitRoutes([real()], { links: [typo], vouched: vouchAll([real()]), egressRange: RANGE }).refused,
    ).toEqual([]);
    // Without the status (the controller has not held anything for it), west has no Link.
    expect(
      admitRoutes([real()], {
        links: [link('north', WEST_GW)],
        vouched: vouchAll([real()]),
        egressRange: RANGE,
      }).refused,
    ).toHaveLength(1);
  });
});
