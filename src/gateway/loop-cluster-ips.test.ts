/**
 * The tunnel loops through Services that Isthmus fills but that are no mirrors: a `<name>-federated`
 * Service (its slices list mirrors' gateway egress listeners and remote pods) and a TrafficSplit
 * apex whose slices the failover controller writes (a mirror backend's endpoints are the gateway
 * egress). kube-proxy forwards their ClusterIPs there, so an exported Service's slice listing one
 * would chain tunnels as a mirror's ClusterIP does. The ClusterIPs of Isthmus's own Services (its
 * system namespace's: the gateway's admin port among them) are refused the same way. The ingress
 * refuses them, each with its reason, from one keyed set fed by every Service (trimmed) and
 * Isthmus's own slices.
 */
import { describe, expect, it } from 'vitest';
import {
  FEDERATED_SERVICE_LABEL,
  MANAGED_BY_FAILOVER,
  MANAGED_BY_FEDERATION,
  MANAGED_BY_LABEL,
  MANAGED_BY_MIRROR,
  MIRRORED_SERVICE_LABEL,
  SERVICE_NAME_LABEL,
  SYSTEM_NAMESPACE,
} from '../kube/keys.js';
import type { V1EndpointSlice, V1Service } from '../kube/types.js';
import {
  APEX_CLUSTER_IP_REFUSAL,
  FEDERATED_CLUSTER_IP_REFUSAL,
  MIRROR_CLUSTER_IP_REFUSAL,
  SYSTEM_SERVICE_CLUSTER_IP_REFUSAL,
} from './dial-refusal.js';
import { MemorySource } from './e2e/memory-source.js';
import {
  feedLoopClusterIPs,
  loopReason,
  type ServiceClusterIPs,
  trimForwardingSlice,
  trimService,
} from './loop-cluster-ips.js';
import { type RefusedEndpoints, ServiceIndex } from './service-index.js';
import { ownAddresses } from './slice-drain.js';
import { loopIndex } from './test-support/loop-index.js';

const service = (name: string, clusterIP: string, labels: Record<string, string> = {}): V1Service => ({
  metadata: { namespace: 'shop', name, labels, annotations: { note: 'x'.repeat(100) } },
  spec: { clusterIP, clusterIPs: [clusterIP], ports: [{ name: 'http', port: 80 }], selector: { app: name } },
});
const federated = (name: string, clusterIP: string) =>
  service(`${name}-federated`, clusterIP, { [FEDERATED_SERVICE_LABEL]: 'true' });
/** A slice Isthmus wrote for `svc` (`manager`: failover for a split's apex, federation, mirror). */
const isthmusSlice = (
  name: string,
  svc: string,
  manager: string,
  address = '10.244.3.9',
): V1EndpointSlice => ({
  addressType: 'IPv4',
  metadata: {
    namespace: 'shop',
    name,
    labels: { [SERVICE_NAME_LABEL]: svc, [MANAGED_BY_LABEL]: manager, 'failover.isthmus.dev/split': 'web' },
  },
  endpoints: [{ addresses: [address], conditions: { ready: true } }],
  ports: [{ name: 'http', port: 20001 }],
});
const exported: V1Service = {
  metadata: { namespace: 'tenant', name: 'loop', labels: { 'mirror.linkerd.io/exported': 'true' } },
  spec: { ports: [{ name: 'tcp', port: 80 }] },
};
const userSlice = (addresses: string[]): V1EndpointSlice => ({
  addressType: 'IPv4',
  metadata: { namespace: 'tenant', name: 'loop-x', labels: { [SERVICE_NAME_LABEL]: 'loop' } },
  endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready: true } })),
  ports: [{ name: 'tcp', port: 4143 }],
});
const target = { kind: 'service', namespace: 'tenant', service: 'loop', port: 80 } as const;
/** A Service of Isthmus's own (the gateway's admin Service, the identity service), as installed. */
const systemService = (name: string, clusterIPs: string[], namespace = SYSTEM_NAMESPACE): V1Service => ({
  metadata: { namespace, name, labels: { 'app.kubernetes.io/part-of': 'isthmus' } },
  spec: { clusterIP: clusterIPs[0], clusterIPs, ports: [{ name: 'admin', port: 4191 }] },
});
const managers = (...m: string[]): ReadonlySet<string> => new Set(m);

describe('loopReason', () => {
  it.each<[string, V1Service, ReadonlySet<string>, string | null]>([
    [
      'a mirror',
      service('db-east', '10.96.1.1', { [MIRRORED_SERVICE_LABEL]: 'true' }),
      managers(),
      MIRROR_CLUSTER_IP_REFUSAL,
    ],
    [
      'a federated Service, before its slices',
      federated('db', '10.96.1.2'),
      managers(),
      FEDERATED_CLUSTER_IP_REFUSAL,
    ],
    [
      'a Service the federation controller fills',
      service('db-federated', '10.96.1.2'),
      managers(MANAGED_BY_FEDERATION),
      FEDERATED_CLUSTER_IP_REFUSAL,
    ],
    [
      'an apex the failover controller steers',
      service('web', '10.96.1.3'),
      managers(MANAGED_BY_FAILOVER),
      APEX_CLUSTER_IP_REFUSAL,
    ],
    [
      'an apex beside the cluster’s own slices',
      service('web', '10.96.1.3'),
      managers('endpointslice-controller.k8s.io', MANAGED_BY_FAILOVER),
      APEX_CLUSTER_IP_REFUSAL,
    ],
    [
      'a mirror label not "true" (as the selector reads it)',
      service('db', '10.96.1.4', { [MIRRORED_SERVICE_LABEL]: 'false' }),
      managers(),
      null,
    ],
    ['a plain Service', service('web', '10.96.1.5'), managers('endpointslice-controller.k8s.io'), null],
    [
      "the gateway's admin Service (Isthmus's system namespace)",
      systemService('isthmus-gateway-admin', ['10.96.0.50']),
      managers('endpointslice-controller.k8s.io'),
      SYSTEM_SERVICE_CLUSTER_IP_REFUSAL,
    ],
    [
      'any Service of the system namespace, whatever its name or labels',
      {
        ...systemService('isthmus-identity', ['10.96.0.60']),
        metadata: { namespace: SYSTEM_NAMESPACE, name: 'x' },
      },
      managers(),
      SYSTEM_SERVICE_CLUSTER_IP_REFUSAL,
    ],
  ])('%s', (_what, svc, m, want) => {
    expect(loopReason(trimService(svc), m)).toBe(want);
  });
});

describe('loopReason with another system namespace (--system-namespace)', () => {
  it('refuses the Services of the configured namespace, not those of the default one', () => {
    const ours = systemService('isthmus-gateway-admin', ['10.96.0.50'], 'mesh-system');
    expect(loopReason(trimService(ours), managers(), 'mesh-system')).toBe(SYSTEM_SERVICE_CLUSTER_IP_REFUSAL);
    expect(
      loopReason(trimService(systemService('app', ['10.96.0.51'])), managers(), 'mesh-system'),
    ).toBeNull();
  });
});

describe('trimService and trimForwardingSlice', () => {
  it('keep only the ClusterIPs and the labels that say where a Service forwards (every Service is cached)', () => {
    const svc = federated('db', '10.96.1.2');
    svc.metadata!.resourceVersion = '7';
    svc.metadata!.labels!.app = 'db';
    expect(trimService(svc)).toEqual({
      metadata: {
        namespace: 'shop',
        name: 'db-federated',
        resourceVersion: '7',
        labels: { [FEDERATED_SERVICE_LABEL]: 'true' },
      },
      spec: { clusterIP: '10.96.1.2', clusterIPs: ['10.96.1.2'] },
    });
  });

  it('keep of a slice its Service and manager, not its endpoints', () => {
    expect(trimForwardingSlice(isthmusSlice('web-isthmus-1', 'web', MANAGED_BY_FAILOVER))).toEqual({
      metadata: {
        namespace: 'shop',
        name: 'web-isthmus-1',
        labels: { [SERVICE_NAME_LABEL]: 'web', [MANAGED_BY_LABEL]: MANAGED_BY_FAILOVER },
      },
    });
  });

  it('keep of a slice the endpoints at this pod, its own addresses only, for the drain', () => {
    const slice = isthmusSlice('web-federated-west', 'web-federated', MANAGED_BY_FAILOVER, '10.244.3.9');
    slice.endpoints = [
      { addresses: ['10.244.3.9'], conditions: { ready: false, serving: true, terminating: true } },
      { addresses: ['10.244.3.10'], conditions: { ready: true } },
    ];
    expect(trimForwardingSlice(slice, new Set(['10.244.3.9'])).endpoints).toEqual([
      { addresses: ['10.244.3.9'], conditions: { ready: false, serving: true } },
    ]);
    expect(trimForwardingSlice(slice, new Set(['10.244.3.11'])).endpoints).toBeUndefined();
  });

  it("keep this pod's endpoints however the slice spells its addresses (IPv6 in full, upper case)", () => {
    const slice = isthmusSlice('web-isthmus-1', 'web', MANAGED_BY_FAILOVER);
    slice.addressType = 'IPv6';
    slice.endpoints = [
      { addresses: ['FD00:10:244:0:0:0:3:9'], conditions: { ready: true } },
      { addresses: ['fd00:10:244::3:a'], conditions: { ready: true } },
    ];
    expect(trimForwardingSlice(slice, ownAddresses(['fd00:10:244::3:9'])).endpoints).toEqual([
      { addresses: ['FD00:10:244:0:0:0:3:9'], conditions: { ready: true } },
    ]);
  });
});

describe('the ServiceIndex refuses the ClusterIPs of federated Services and steered apexes', () => {
  function fed(opts: { listed?: Promise<unknown> } = {}) {
    const { services, forwarding, slices, ...rest } = loopIndex(exported, opts.listed);
    // Services as the informer caches them (trimmed), to show that is all the feed needs.
    const trimmed = {
      put: (svc: V1Service) => services.put(trimService(svc)),
      remove: (svc: V1Service) => services.remove(trimService(svc)),
    };
    return { services: trimmed, slices: forwarding, userSlices: slices, ...rest };
  }
  const listed = () => new Promise<void>((resolve) => setImmediate(resolve));
  const refusedFor = (reports: RefusedEndpoints[]) => reports.map((r) => r.refused);

  it("refuses a <name>-federated Service's ClusterIP (503, reported once with its reason); served once it is no longer federated", async () => {
    const { services, userSlices, reports, index } = fed();
    services.put(federated('db', '10.96.14.3'));
    await listed();
    userSlices.put(userSlice(['10.96.14.3']));
    expect(index.resolve(target)).toMatchObject({ ok: false, status: 503 });
    expect(refusedFor(reports)).toEqual([[{ address: '10.96.14.3', reason: FEDERATED_CLUSTER_IP_REFUSAL }]]);
    // The label taken off (no longer Isthmus's federated Service): the address is dialled.
    services.put(service('db-federated', '10.96.14.3'));
    expect(index.resolve(target)).toEqual({ ok: true, candidates: [{ host: '10.96.14.3', port: 4143 }] });
    expect(reports).toHaveLength(1);
  });

  it("refuses a steered apex's ClusterIP while the failover controller's slices name it, and learns an apex the other way round", async () => {
    const { services, slices, userSlices, reports, index } = fed();
    const apex = service('web', '10.96.20.7');
    services.put(apex);
    await listed();
    userSlices.put(userSlice(['10.96.20.7', '10.244.1.7']));
    expect(index.resolve(target)).toMatchObject({
      ok: true,
      candidates: [{ host: '10.96.20.7' }, { host: '10.244.1.7' }],
    });
    // The failover controller starts steering web: its ClusterIP now leads to the backends.
    const steering = isthmusSlice('web-isthmus-web-west', 'web', MANAGED_BY_FAILOVER);
    slices.put(steering);
    expect(index.resolve(target)).toEqual({ ok: true, candidates: [{ host: '10.244.1.7', port: 4143 }] });
    expect(refusedFor(reports)).toEqual([[{ address: '10.96.20.7', reason: APEX_CLUSTER_IP_REFUSAL }]]);
    // A second slice of the same apex changes nothing; the last one gone, it is dialled again.
    const second = isthmusSlice('web-isthmus-web-east', 'web', MANAGED_BY_FAILOVER);
    slices.put(second);
    slices.remove(steering);
    expect(index.resolve(target)).toEqual({ ok: true, candidates: [{ host: '10.244.1.7', port: 4143 }] });
    slices.remove(second);
    expect(index.resolve(target)).toMatchObject({
      ok: true,
      candidates: [{ host: '10.96.20.7' }, { host: '10.244.1.7' }],
    });
    // A slice before its Service (watch order is not guaranteed): refused once the Service comes.
    slices.put(isthmusSlice('api-isthmus-api-west', 'api', MANAGED_BY_FAILOVER));
    userSlices.put(userSlice(['10.96.20.8']));
    expect(index.resolve(target)).toMatchObject({ ok: true });
    services.put(service('api', '10.96.20.8'));
    expect(index.resolve(target)).toMatchObject({ ok: false, status: 503 });
    expect(refusedFor(reports).at(-1)).toEqual([{ address: '10.96.20.8', reason: APEX_CLUSTER_IP_REFUSAL }]);
  });

  it('a recreated apex: the new ClusterIP is refused, the old one no longer', async () => {
    const { services, slices, userSlices, index } = fed();
    const old = service('web', '10.96.20.7');
    services.put(old);
    slices.put(isthmusSlice('web-isthmus-web-west', 'web', MANAGED_BY_FAILOVER));
    await listed();
    userSlices.put(userSlice(['10.96.20.7', '10.96.20.9']));
    expect(index.resolve(target)).toEqual({ ok: true, candidates: [{ host: '10.96.20.9', port: 4143 }] });
    services.remove(old);
    services.put(service('web', '10.96.20.9'));
    expect(index.resolve(target)).toEqual({ ok: true, candidates: [{ host: '10.96.20.7', port: 4143 }] });
  });

  it('a slice that moves to another Service (its service-name label changed) moves the refusal', async () => {
    const { services, slices, userSlices, index } = fed();
    services.put(service('web', '10.96.20.7'));
    services.put(service('api', '10.96.20.8'));
    slices.put(isthmusSlice('steer-1', 'web', MANAGED_BY_FAILOVER));
    await listed();
    userSlices.put(userSlice(['10.96.20.7', '10.96.20.8']));
    expect(index.resolve(target)).toEqual({ ok: true, candidates: [{ host: '10.96.20.8', port: 4143 }] });
    slices.put(isthmusSlice('steer-1', 'api', MANAGED_BY_FAILOVER));
    expect(index.resolve(target)).toEqual({ ok: true, candidates: [{ host: '10.96.20.7', port: 4143 }] });
  });

  it('a slice Isthmus wrote for a mirror, or none of its managers, refuses nothing by itself', async () => {
    const { services, slices, userSlices, index } = fed();
    services.put(service('web', '10.96.20.7'));
    slices.put(isthmusSlice('web-1', 'web', MANAGED_BY_MIRROR));
    await listed();
    userSlices.put(userSlice(['10.96.20.7']));
    expect(index.resolve(target)).toMatchObject({ ok: true });
  });

  it('dials nothing until both the Services and the slices are listed', async () => {
    let resolveListed = (): void => {};
    const { services, slices, userSlices, reports, index } = fed({
      listed: new Promise<void>((resolve) => {
        resolveListed = resolve;
      }),
    });
    userSlices.put(userSlice(['10.96.20.7', '10.244.1.7']));
    services.put(service('web', '10.96.20.7'));
    slices.put(isthmusSlice('web-isthmus-web-west', 'web', MANAGED_BY_FAILOVER));
    expect(index.resolve(target)).toMatchObject({
      ok: false,
      status: 503,
      reason: expect.stringMatching(/Services that forward to a gateway are not listed yet/),
    });
    expect(reports).toEqual([]);
    resolveListed();
    await listed();
    expect(index.resolve(target)).toEqual({ ok: true, candidates: [{ host: '10.244.1.7', port: 4143 }] });
    expect(reports).toHaveLength(1);
  });
});

describe("the ServiceIndex refuses the ClusterIPs of Isthmus's own Services (security review: the admin port)", () => {
  const listed = () => new Promise<void>((resolve) => setImmediate(resolve));

  it("never dials the gateway's admin Service or the identity service by ClusterIP, either family; served once gone", async () => {
    const { services, slices, reports, index } = loopIndex(exported);
    services.put(trimService(systemService('isthmus-gateway-admin', ['10.96.0.50'])));
    services.put(trimService(systemService('isthmus-identity', ['10.96.0.70', 'fd00:96::70'])));
    await listed();
    slices.put(userSlice(['10.96.0.50', '10.96.0.70', '10.244.1.7']));
    slices.put({
      ...userSlice(['fd00:96::70']),
      addressType: 'IPv6',
      metadata: { namespace: 'tenant', name: 'loop-v6', labels: { [SERVICE_NAME_LABEL]: 'loop' } },
    });
    expect(index.resolve(target)).toEqual({ ok: true, candidates: [{ host: '10.244.1.7', port: 4143 }] });
    expect(reports.map((r) => r.refused)).toEqual([
      [
        { address: '10.96.0.50', reason: SYSTEM_SERVICE_CLUSTER_IP_REFUSAL },
        { address: '10.96.0.70', reason: SYSTEM_SERVICE_CLUSTER_IP_REFUSAL },
      ],
      [{ address: 'fd00:96::70', reason: SYSTEM_SERVICE_CLUSTER_IP_REFUSAL }],
    ]);
    services.remove(trimService(systemService('isthmus-gateway-admin', ['10.96.0.50'])));
    expect(index.resolve(target)).toEqual({
      ok: true,
      candidates: [
        { host: '10.96.0.50', port: 4143 },
        { host: '10.244.1.7', port: 4143 },
      ],
    });
  });

  it('follows the namespace it is given', async () => {
    const services = new MemorySource<ServiceClusterIPs>();
    // The default namespace's Service is a user's here: the gateway runs in mesh-system.
    services.put(trimService(systemService('isthmus-gateway-admin', ['10.96.0.50'], 'mesh-system')));
    services.put(trimService(systemService('app', ['10.96.0.51'])));
    const reports: RefusedEndpoints['refused'][] = [];
    const index = new ServiceIndex({ onRefused: (r) => reports.push(r.refused), awaitLoopClusterIPs: true });
    feedLoopClusterIPs(index, services, new MemorySource(), Promise.resolve(), {
      systemNamespace: 'mesh-system',
    });
    await listed();
    index.upsertService({
      namespace: 'tenant',
      name: 'loop',
      headless: false,
      ports: [{ name: 'tcp', port: 80 }],
    });
    index.setSliceEndpoints('tenant', 'loop', 'loop-x', [
      { address: '10.96.0.50', ready: true, ports: [{ name: 'tcp', port: 4191 }] },
      { address: '10.96.0.51', ready: true, ports: [{ name: 'tcp', port: 4191 }] },
    ]);
    expect(index.resolve(target)).toEqual({ ok: true, candidates: [{ host: '10.96.0.51', port: 4191 }] });
    expect(reports).toEqual([[{ address: '10.96.0.50', reason: SYSTEM_SERVICE_CLUSTER_IP_REFUSAL }]]);
  });
});
