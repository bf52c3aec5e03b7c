import { describe, expect, it } from 'vitest';
import { KubeApiError } from '../../kube/errors.js';
import type { V1EndpointSlice, V1Service } from '../../kube/types.js';
import { mirrorFacts, needsLocalGatewayChain, remoteFailure } from './gather.js';

/** Our mirror of `cluster`; without one, a Service that only claims a remote gateway. */
const svc = (name: string, cluster?: string): V1Service => ({
  metadata: {
    name,
    namespace: 'test',
    labels: {
      'mirror.linkerd.io/mirrored-service': 'true',
      ...(cluster ? { 'mirror.linkerd.io/cluster-name': cluster, 'isthmus.dev/mirror': cluster } : {}),
    },
    ...(cluster ? {} : { annotations: { 'isthmus.dev/remote-gateway': '10.1.0.1:4143' } }),
  },
});
/** Endpoints 10.0.0.<first>, <first + 1> …, one per entry of `ready`. */
const slice = (service: string, ready: (boolean | undefined)[], first = 1): V1EndpointSlice => ({
  addressType: 'IPv4',
  metadata: { name: `${service}-x`, namespace: 'test', labels: { 'kubernetes.io/service-name': service } },
  endpoints: ready.map((r, i) => ({
    addresses: [`10.0.0.${i + first}`],
    conditions: r === undefined ? {} : { ready: r },
  })),
});

describe('mirrorFacts', () => {
  it.each<[string, V1EndpointSlice[], { endpoints: number; readyEndpoints: number }]>([
    ['no slice', [], { endpoints: 0, readyEndpoints: 0 }],
    ['one ready endpoint', [slice('a-west', [true])], { endpoints: 1, readyEndpoints: 1 }],
    ['not ready (gateway dead)', [slice('a-west', [false])], { endpoints: 1, readyEndpoints: 0 }],
    ['absent ready reads as ready', [slice('a-west', [undefined])], { endpoints: 1, readyEndpoints: 1 }],
    [
      'counts across slices',
      [slice('a-west', [true, false]), slice('a-west', [true], 3)],
      { endpoints: 3, readyEndpoints: 2 },
    ],
    ['slices of other services do not count', [slice('b-west', [true])], { endpoints: 0, readyEndpoints: 0 }],
    [
      // A remote-discovery mirror lists a pod once per port set (a targetPort rollout): one pod.
      'a pod in two slices counts once, ready if either lists it ready',
      [slice('a-west', [false, true]), slice('a-west', [true])],
      { endpoints: 2, readyEndpoints: 2 },
    ],
  ])('%s', (_name, slices, counts) => {
    expect(mirrorFacts([svc('a-west', 'west')], slices)).toEqual([
      { namespace: 'test', name: 'a-west', cluster: 'west', egressPorts: [], listedPorts: [], ...counts },
    ]);
  });

  it('marks remote-discovery mirrors', () => {
    const mirror = svc('a-west', 'west');
    mirror.metadata!.labels!['mirror.linkerd.io/remote-discovery'] = 'west';
    expect(mirrorFacts([mirror, svc('b-west', 'west')], []).map((m) => m.remoteDiscovery)).toEqual([
      true,
      undefined,
    ]);
  });

  it('reads the egress ports a mirror advertises', () => {
    const mirror = svc('a-west', 'west');
    mirror.metadata!.annotations = { 'isthmus.dev/egress-ports': 'http=20001,9999=20002' };
    expect(mirrorFacts([mirror], [])[0]?.egressPorts).toEqual([20001, 20002]);
  });

  it('reads the ports its slices list, where kube-proxy sends callers (the controller lists one once the gateways listen)', () => {
    const mirror = svc('a-west', 'west');
    mirror.metadata!.annotations = { 'isthmus.dev/egress-ports': 'http=20001,9999=20002' };
    const listed = { ...slice('a-west', [false]), ports: [{ name: 'http', port: 20001, protocol: 'TCP' }] };
    expect(mirrorFacts([mirror], [listed])[0]).toMatchObject({
      egressPorts: [20001, 20002],
      listedPorts: [20001],
    });
  });

  it("leaves out what Isthmus did not make: Linkerd's mirrors and federated Services (mid-migration), a hand-made one", () => {
    const labels = { 'mirror.linkerd.io/mirrored-service': 'true', 'mirror.linkerd.io/cluster-name': 'west' };
    const linkerds: V1Service = {
      metadata: {
        name: 'b-west',
        namespace: 'test',
        labels,
        annotations: {
          'mirror.linkerd.io/remote-svc-fq-name': 'b.test.svc.cluster.local',
          'mirror.linkerd.io/remote-resource-version': '4711',
        },
      },
    };
    const federated: V1Service = {
      metadata: {
        name: 'cart3-federated',
        namespace: 'test',
        labels: { 'mirror.linkerd.io/mirrored-service': 'true' },
        annotations: { 'multicluster.linkerd.io/remote-discovery': 'cart3@west' },
      },
    };
    const handMade: V1Service = { metadata: { name: 'c-west', namespace: 'test', labels } };
    const names = mirrorFacts([svc('a-west', 'west'), linkerds, federated, handMade], []).map((m) => m.name);
    expect(names).toEqual(['a-west']);
  });

  it('keeps a remote-discovery mirror written before isthmus.dev/mirror by the slice the controller wrote for it', () => {
    const legacy: V1Service = {
      metadata: {
        name: 'd-west',
        namespace: 'test',
        uid: 'uid-d',
        labels: {
          'mirror.linkerd.io/mirrored-service': 'true',
          'mirror.linkerd.io/cluster-name': 'west',
          'mirror.linkerd.io/remote-discovery': 'west',
        },
        annotations: { 'mirror.linkerd.io/remote-svc-fq-name': 'd.test.svc.cluster.local' },
      },
    };
    const written = slice('d-west', [true]);
    written.metadata!.labels!['endpointslice.kubernetes.io/managed-by'] = 'mirror.isthmus.dev';
    written.metadata!.ownerReferences = [{ apiVersion: 'v1', kind: 'Service', name: 'd-west', uid: 'uid-d' }];
    expect(mirrorFacts([legacy], [written]).map((m) => [m.name, m.readyEndpoints])).toEqual([['d-west', 1]]);
    expect(mirrorFacts([legacy], [])).toEqual([]);
  });

  it('sorts by namespace/name and keeps mirrors without a cluster label', () => {
    expect(mirrorFacts([svc('z'), svc('a', 'west')], []).map((m) => [m.name, m.cluster])).toEqual([
      ['a', 'west'],
      ['z', ''],
    ]);
  });
});

describe('remoteFailure', () => {
  it('tells a remote API that answers 5xx from one that cannot be reached', () => {
    const answered = new KubeApiError(
      'KUBE_API_UNAVAILABLE',
      'GET /version: 503',
      503,
      'ServiceUnavailable',
      [],
      undefined,
    );
    expect(remoteFailure(answered)).toMatchObject({ ok: false, kind: 'server-error' });
    const network = new KubeApiError(
      'KUBE_API_UNAVAILABLE',
      'GET /version: ECONNREFUSED',
      undefined,
      'ECONNREFUSED',
      [],
      undefined,
    );
    expect(remoteFailure(network)).toMatchObject({ ok: false, kind: 'unreachable' });
  });
});

describe("needsLocalGatewayChain: when check dials this cluster's own gateway", () => {
  const PEM = '-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n';
  const none = { ok: true as const, value: undefined };
  const crl = { ok: true as const, value: 'crl' };
  const one = { ok: true as const, value: PEM };
  const two = { ok: true as const, value: PEM + PEM };
  const failed = { ok: false as const, error: 'forbidden' };
  it.each<
    [
      string,
      boolean,
      Parameters<typeof needsLocalGatewayChain>[1],
      Parameters<typeof needsLocalGatewayChain>[2],
      boolean,
    ]
  >([
    ['no CRL, one anchor: nothing to look for', true, none, one, false],
    ['a CRL that could revoke it', true, crl, one, true],
    ['an anchor rotation (two anchors), no CRL', true, none, two, true],
    ['neither readable', true, failed, failed, false],
    ['no gateway installed', false, crl, two, false],
  ])('%s', (_, installed, crlPem, anchorPem, expected) => {
    expect(needsLocalGatewayChain(installed, crlPem, anchorPem)).toBe(expected);
  });
});
