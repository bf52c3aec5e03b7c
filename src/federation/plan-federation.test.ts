import { describe, expect, it } from 'vitest';
import { service, slice } from '../failover/test-builders.js';
import {
  CILIUM_AFFINITY_ANNOTATION,
  CLUSTER_NAME_LABEL,
  FEDERATED_LABEL,
  FEDERATED_SERVICE_LABEL,
  FEDERATION_AFFINITY_ANNOTATION,
  FEDERATION_LABEL,
  FEDERATION_MEMBERS_ANNOTATION,
  FEDERATION_NO_MATCHING_PORT_ANNOTATION,
  MANAGED_BY_FAILOVER,
  MANAGED_BY_LABEL,
  MIRRORED_SERVICE_LABEL,
} from '../kube/keys.js';
import type { V1EndpointSlice, V1Service } from '../kube/types.js';
import { federationWeights, planFederationSlices, standbyClusters } from './federation-slices.js';
import { federationNameHeldBy, federationsOf, memberFederation, planFederation } from './plan-federation.js';

const ns = 'shop';
const withLabels = (svc: V1Service, labels: Record<string, string>): V1Service => ({
  ...svc,
  metadata: { ...svc.metadata, labels },
});
const withAnnotations = (svc: V1Service, annotations: Record<string, string>): V1Service => ({
  ...svc,
  metadata: { ...svc.metadata, annotations },
});
const local = withLabels(service(ns, 'cart', [{ name: 'http', port: 8080 }], { app: 'cart' }), {
  [FEDERATED_LABEL]: 'member',
});
const mirror = (cluster: string, ports: { name?: string; port: number }[] = [{ name: 'http', port: 8080 }]) =>
  withLabels(service(ns, `cart-${cluster}`, ports), {
    [MIRRORED_SERVICE_LABEL]: 'true',
    [CLUSTER_NAME_LABEL]: cluster,
    [FEDERATION_LABEL]: 'cart',
  });
const base = { namespace: ns, name: 'cart', localCluster: 'east' };
/** `cart-federated` as the API server stores it in a single-stack IPv4 cluster. */
const federated: V1Service = {
  ...service(ns, 'cart-federated', [{ name: 'http', port: 8080 }]),
  metadata: { namespace: ns, name: 'cart-federated', uid: 'uid-1' },
};
federated.spec!.ipFamilies = ['IPv4'];

describe('planFederation', () => {
  it('a local member and two remote ones: cart-federated with the local ports, members local first', () => {
    const plan = planFederation({ ...base, local, mirrors: [mirror('west'), mirror('north')] });
    expect(plan).toMatchObject({
      kind: 'service',
      members: [
        { cluster: 'east', local: true, service: 'cart' },
        { cluster: 'north', local: false, service: 'cart-north' },
        { cluster: 'west', local: false, service: 'cart-west' },
      ],
      problems: [],
      service: {
        metadata: {
          name: 'cart-federated',
          namespace: ns,
          labels: { [FEDERATED_SERVICE_LABEL]: 'true' },
          annotations: { [FEDERATION_MEMBERS_ANNOTATION]: 'east,north,west' },
        },
        spec: { type: 'ClusterIP', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] },
      },
    });
    expect(plan.kind === 'service' && plan.service.spec?.selector).toBeUndefined();
  });

  it('remote members only: the first cluster by name defines the ports', () => {
    const plan = planFederation({
      ...base,
      mirrors: [mirror('west', [{ name: 'grpc', port: 9090 }]), mirror('north')],
    });
    expect(plan.kind === 'service' && plan.service.spec?.ports).toEqual([
      { name: 'http', port: 8080, protocol: 'TCP' },
    ]);
    expect(plan.kind === 'service' && plan.problems).toEqual([
      'member cart-west (cluster west) has ports grpc=9090, not http=8080: only ports of the same name carry its traffic',
    ]);
  });

  it('without a local member, cart-federated keeps its ports while each is a member port by name, so callers keep their port when the local member leaves', () => {
    // The local member had http on 80; the remote ones have http on 81 and 82, which carry it.
    const west = mirror('west', [{ name: 'http', port: 81 }]);
    const north = mirror('north', [{ name: 'http', port: 82 }]);
    const existing: V1Service = {
      metadata: { ...federated.metadata, labels: { [FEDERATED_SERVICE_LABEL]: 'true' } },
      spec: { ...federated.spec, ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
    };
    const plan = planFederation({ ...base, mirrors: [west, north], existing });
    expect(plan.kind === 'service' && plan.service.spec?.ports).toEqual([
      { name: 'http', port: 80, protocol: 'TCP' },
    ]);
    // No member has a port of that name any more: the first cluster by name decides again.
    const grpc = mirror('north', [{ name: 'grpc', port: 9090 }]);
    const gone = planFederation({ ...base, mirrors: [grpc], existing });
    expect(gone.kind === 'service' && gone.service.spec?.ports).toEqual([
      { name: 'grpc', port: 9090, protocol: 'TCP' },
    ]);
    // A local member decides whatever cart-federated has.
    const withLocal = planFederation({ ...base, local, mirrors: [west, north], existing });
    expect(withLocal.kind === 'service' && withLocal.service.spec?.ports).toEqual([
      { name: 'http', port: 8080, protocol: 'TCP' },
    ]);
  });

  describe('a headless member without ports (a ClusterIP Service needs one: 422)', () => {
    const headless = (svc: V1Service): V1Service => ({
      ...svc,
      spec: { ...svc.spec, clusterIP: 'None', ports: [] },
    });
    const noPorts =
      "member cart (cluster east) has no ports (a headless Service without ports): it carries none of cart-federated's traffic";

    it('the local one: the remote members define the ports; it is reported on itself and on cart-federated', () => {
      const plan = planFederation({ ...base, local: headless(local), mirrors: [mirror('west')] });
      expect(plan).toMatchObject({
        kind: 'service',
        members: [{ cluster: 'east' }, { cluster: 'west' }],
        problems: [noPorts],
        invalidMembers: [{ service: 'cart', reason: 'NoPorts', message: noPorts }],
        service: { spec: { ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] } },
      });
    });

    it('every member: no cart-federated can exist, each member is told why', () => {
      const plan = planFederation({
        ...base,
        local: headless(local),
        mirrors: [headless(mirror('west'))],
      });
      const message =
        'no member of cart has a port (headless Services without ports), and cart-federated, a ClusterIP Service, needs one: it is not written until a member has one';
      expect(plan).toEqual({
        kind: 'conflict',
        reason: 'NoPorts',
        message,
        invalidMembers: [
          { service: 'cart', reason: 'NoPorts', message },
          { service: 'cart-west', reason: 'NoPorts', message },
        ],
      });
    });
  });

  it('no member left: absent', () => {
    expect(planFederation({ ...base, mirrors: [] })).toEqual({ kind: 'absent', invalidMembers: [] });
  });

  describe('an ExternalName local member (a DNS alias: no endpoints, as the mirror side says UnsupportedServiceType)', () => {
    const alias: V1Service = {
      ...local,
      spec: { type: 'ExternalName', externalName: 'shop.example.com', ports: [{ name: 'other', port: 443 }] },
    };
    const unsupported =
      'member cart (cluster east) is an ExternalName Service, a DNS alias without endpoints: it is no member of cart-federated';

    it('is no member and never decides the ports: the remote members do, and it is told why', () => {
      const plan = planFederation({ ...base, local: alias, mirrors: [mirror('west', [{ port: 80 }])] });
      expect(plan).toMatchObject({
        kind: 'service',
        members: [{ cluster: 'west', local: false, service: 'cart-west' }],
        problems: [unsupported],
        invalidMembers: [{ service: 'cart', reason: 'UnsupportedServiceType', message: unsupported }],
        service: {
          metadata: { annotations: { [FEDERATION_MEMBERS_ANNOTATION]: 'west' } },
          spec: { ports: [{ port: 80, protocol: 'TCP' }] },
        },
      });
    });

    it('the only one: no cart-federated, and it is told why', () => {
      expect(planFederation({ ...base, local: alias, mirrors: [] })).toEqual({
        kind: 'absent',
        invalidMembers: [{ service: 'cart', reason: 'UnsupportedServiceType', message: unsupported }],
      });
    });

    it("its affinity is nobody's: it has no endpoints to prefer", () => {
      const annotated = withAnnotations(alias, { [FEDERATION_AFFINITY_ANNOTATION]: 'local' });
      expect(planFederation({ ...base, local: annotated, mirrors: [mirror('west')] })).toMatchObject({
        kind: 'service',
        affinity: 'none',
      });
    });
  });

  it('a local member without a selector and without slices (endpoints written by hand) still defines the ports', () => {
    // Kept on purpose (docs/design.md): ports that followed endpoints would change with readiness.
    const manual = { ...local, spec: { ports: [{ name: 'db', port: 5432, protocol: 'TCP' }] } };
    const plan = planFederation({ ...base, local: manual, mirrors: [mirror('west')] });
    expect(plan.kind === 'service' && plan.service.spec?.ports).toEqual([
      { name: 'db', port: 5432, protocol: 'TCP' },
    ]);
  });

  describe('members none of whose ports is named as a port of cart-federated', () => {
    it.each<
      [string, { name?: string; port: number }[], { name?: string; port: number }[], string | undefined]
    >([
      ['an unnamed port against a named one', [{ port: 80 }], [{ name: 'http', port: 80 }], 'west'],
      [
        'one port of the same name of two',
        [{ name: 'http', port: 8080 }],
        [
          { name: 'http', port: 8080 },
          { name: 'admin', port: 9000 },
        ],
        undefined,
      ],
      ['the same ports', [{ name: 'http', port: 8080 }], [{ name: 'http', port: 8080 }], undefined],
    ])('%s', (_name, localPorts, westPorts, unmatched) => {
      const plan = planFederation({
        ...base,
        local: {
          ...local,
          spec: { ...local.spec, ports: localPorts.map((p) => ({ ...p, protocol: 'TCP' })) },
        },
        mirrors: [mirror('west', westPorts)],
      });
      expect(
        plan.kind === 'service' &&
          plan.service.metadata?.annotations?.[FEDERATION_NO_MATCHING_PORT_ANNOTATION],
      ).toBe(unmatched);
    });
  });

  it("a Service of that name that is not Isthmus's is never taken over", () => {
    const stranger = service(ns, 'cart-federated');
    expect(planFederation({ ...base, local, mirrors: [], existing: stranger })).toMatchObject({
      kind: 'conflict',
      reason: 'NotOwned',
    });
  });

  it('a name that cannot take the -federated suffix is refused with the reason', () => {
    const long = 'x'.repeat(60);
    const plan = planFederation({
      ...base,
      name: long,
      local: withLabels(service(ns, long), { [FEDERATED_LABEL]: 'member' }),
      mirrors: [],
    });
    expect(plan).toMatchObject({ kind: 'conflict', reason: 'NameTooLong' });
  });
});

describe('federation membership', () => {
  it.each<[string, V1Service, string | undefined, string[]]>([
    ['the local member', local, 'cart', ['cart']],
    ['a mirror of a remote member', mirror('west'), 'cart', ['cart']],
    ['a plain Service', service(ns, 'cart'), undefined, []],
    [
      'our federated Service serves its federation',
      withLabels(service(ns, 'cart-federated'), { [FEDERATED_SERVICE_LABEL]: 'true' }),
      undefined,
      ['cart'],
    ],
    [
      "a mirror carrying Linkerd's member label is still only a mirror",
      withLabels(mirror('west'), { [MIRRORED_SERVICE_LABEL]: 'true', [FEDERATED_LABEL]: 'member' }),
      undefined,
      [],
    ],
  ])('%s', (_name, svc, member, federations) => {
    expect(memberFederation(svc)).toBe(member);
    expect(federationsOf(svc)).toEqual(federations);
  });

  it.each<[string, V1Service, string | undefined]>([
    ["a stranger's cart-federated holds cart's name", service(ns, 'cart-federated'), 'cart'],
    [
      'our own cart-federated holds nothing of another',
      withLabels(service(ns, 'cart-federated'), { [FEDERATED_SERVICE_LABEL]: 'true' }),
      undefined,
    ],
    ['a Service of another name', service(ns, 'cart'), undefined],
    ['a Service named only the suffix', service(ns, '-federated'), undefined],
  ])('name held: %s', (_name, svc, federation) => {
    expect(federationNameHeldBy(svc)).toBe(federation);
  });
});

describe('federationWeights', () => {
  it('weighs each member by its ready endpoints, so every one of them is listed', () => {
    const members = [
      { cluster: 'east', local: true, service: 'cart' },
      { cluster: 'west', local: false, service: 'cart-west' },
      { cluster: 'north', local: false, service: 'cart-north' },
    ];
    const slices = new Map([
      ['cart', [slice(ns, 'cart', { ready: ['10.1.0.7', '10.1.0.8'], notReady: ['10.1.0.9'] })]],
      ['cart-west', [slice(ns, 'cart-west', { mirror: true, ready: ['10.0.0.5'], port: 20001 })]],
      ['cart-north', [slice(ns, 'cart-north', { mirror: true, notReady: ['10.0.0.5'], port: 20002 })]],
    ]);
    expect(federationWeights(federated, members, slices)).toEqual([
      { service: 'cart', weight: 2 },
      { service: 'cart-west', weight: 1 },
      { service: 'cart-north', weight: 0 },
    ]);
  });

  it("leaves out a member's failover apex slices: they point at other clusters, not at its pods", () => {
    const steered = {
      ...slice(ns, 'cart', { ready: ['10.0.0.5'], port: 20001, name: 'cart-isthmus-cart-west' }),
    };
    steered.metadata!.labels![MANAGED_BY_LABEL] = MANAGED_BY_FAILOVER;
    const slices = new Map([['cart', [slice(ns, 'cart', { notReady: ['10.1.0.7'] }), steered]]]);
    expect(federationWeights(federated, [{ cluster: 'east', local: true, service: 'cart' }], slices)).toEqual(
      [{ service: 'cart', weight: 0 }],
    );
  });

  it('affinity local: local pods that are all terminating (serving still) hand the traffic to the remote members', () => {
    const draining = slice(ns, 'cart', { ready: ['10.1.0.7', '10.1.0.8'] });
    draining.endpoints = draining.endpoints.map((e) => ({
      ...e,
      conditions: { ready: false, serving: true, terminating: true },
    }));
    const slices = new Map([
      ['cart', [draining]],
      ['cart-west', [slice(ns, 'cart-west', { mirror: true, ready: ['10.0.0.5'], port: 20001 })]],
    ]);
    const members = [
      { cluster: 'east', local: true, service: 'cart' },
      { cluster: 'west', local: false, service: 'cart-west' },
    ];
    expect(federationWeights(federated, members, slices, 'local').map((w) => w.weight)).toEqual([0, 1]);
  });

  describe('with an affinity', () => {
    const members = [
      { cluster: 'east', local: true, service: 'cart' },
      { cluster: 'west', local: false, service: 'cart-west' },
    ];
    const slices = (localReady: string[], westReady: boolean) =>
      new Map([
        ['cart', [slice(ns, 'cart', { ready: localReady, notReady: localReady.length ? [] : ['10.1.0.9'] })]],
        [
          'cart-west',
          [slice(ns, 'cart-west', { mirror: true, [westReady ? 'ready' : 'notReady']: ['10.0.0.5'] })],
        ],
      ]);
    it.each<[string, 'local' | 'remote', string[], boolean, number[]]>([
      ['local: the local pods alone while one is ready', 'local', ['10.1.0.7', '10.1.0.8'], true, [2, 0]],
      ['local: the remote members once no local pod is ready', 'local', [], true, [0, 1]],
      ['remote: the remote members alone while one serves', 'remote', ['10.1.0.7'], true, [0, 1]],
      ['remote: the local pods once no remote member serves', 'remote', ['10.1.0.7'], false, [1, 0]],
    ])('%s', (_name, affinity, localReady, westReady, weights) => {
      expect(
        federationWeights(federated, members, slices(localReady, westReady), affinity).map((w) => w.weight),
      ).toEqual(weights);
    });
  });
});

describe('standbyClusters', () => {
  const members = [
    { cluster: 'east', local: true, service: 'cart' },
    { cluster: 'west', local: false, service: 'cart-west' },
    { cluster: 'north', local: false, service: 'cart-north' },
  ];
  const slices = (eastReady: boolean, northReady: boolean) =>
    new Map([
      ['cart', [slice(ns, 'cart', { [eastReady ? 'ready' : 'notReady']: ['10.1.0.7'], port: 8080 })]],
      ['cart-west', [slice(ns, 'cart-west', { mirror: true, ready: ['10.0.0.5'], port: 20001 })]],
      [
        'cart-north',
        [
          slice(ns, 'cart-north', {
            mirror: true,
            [northReady ? 'ready' : 'notReady']: ['10.0.0.5'],
            port: 20002,
          }),
        ],
      ],
    ]);
  it.each<[string, 'none' | 'local' | 'remote', boolean, boolean, string[]]>([
    ['none: nobody', 'none', true, true, []],
    ['local, a local pod ready: the ready remote members', 'local', true, false, ['west']],
    [
      'local, no local pod ready: nobody (east has no ready endpoint, it is not on standby)',
      'local',
      false,
      true,
      [],
    ],
    ['remote, a remote member serves: the local member', 'remote', true, true, ['east']],
    ['remote, the local member not ready either: nobody', 'remote', false, true, []],
  ])('%s', (_name, affinity, eastReady, northReady, standby) => {
    expect(standbyClusters(federated, members, slices(eastReady, northReady), affinity)).toEqual(standby);
  });
});

describe('federation affinity', () => {
  const annotated = (value: string) => ({
    ...local,
    metadata: { ...local.metadata, annotations: { [FEDERATION_AFFINITY_ANNOTATION]: value } },
  });
  it('is read from the local member and shown on the federated Service', () => {
    const plan = planFederation({ ...base, local: annotated('local'), mirrors: [mirror('west')] });
    expect(plan).toMatchObject({
      kind: 'service',
      affinity: 'local',
      problems: [],
      service: { metadata: { annotations: { [FEDERATION_AFFINITY_ANNOTATION]: 'local' } } },
    });
  });

  it.each<[string, Record<string, string>, string]>([
    [
      "Cilium's service.cilium.io/affinity, when Isthmus's is absent",
      { [CILIUM_AFFINITY_ANNOTATION]: 'local' },
      'local',
    ],
    ['a value in another case', { [FEDERATION_AFFINITY_ANNOTATION]: 'Remote' }, 'remote'],
    ["Cilium's in another case", { [CILIUM_AFFINITY_ANNOTATION]: 'LOCAL' }, 'local'],
    [
      "Isthmus's wins when both are set",
      { [FEDERATION_AFFINITY_ANNOTATION]: 'none', [CILIUM_AFFINITY_ANNOTATION]: 'local' },
      'none',
    ],
  ])('%s', (_name, annotations, affinity) => {
    const member = withAnnotations(local, annotations);
    const plan = planFederation({ ...base, local: member, mirrors: [mirror('west')] });
    expect(plan).toMatchObject({ kind: 'service', affinity, problems: [] });
    expect(
      plan.kind === 'service' && plan.service.metadata?.annotations?.[FEDERATION_AFFINITY_ANNOTATION],
    ).toBe(affinity === 'none' ? undefined : affinity);
  });

  it("an unknown value of Cilium's annotation is reported under its name", () => {
    const member = withAnnotations(local, { [CILIUM_AFFINITY_ANNOTATION]: 'nearby' });
    expect(planFederation({ ...base, local: member, mirrors: [mirror('west')] })).toMatchObject({
      kind: 'service',
      affinity: 'none',
      problems: ['service.cilium.io/affinity "nearby" is not one of none, local, remote: using none'],
    });
  });

  it('an unknown value is reported and treated as none', () => {
    const plan = planFederation({ ...base, local: annotated('nearby'), mirrors: [mirror('west')] });
    expect(plan).toMatchObject({
      kind: 'service',
      affinity: 'none',
      problems: ['isthmus.dev/federation-affinity "nearby" is not one of none, local, remote: using none'],
    });
    expect(plan.kind === 'service' && plan.service.metadata?.annotations).not.toHaveProperty(
      FEDERATION_AFFINITY_ANNOTATION,
    );
  });
});

describe('planFederationSlices', () => {
  /** `member:address:port` of every endpoint the federated Service's slices list. */
  function listed(
    local: V1Service | undefined,
    mirrors: V1Service[],
    slices: Map<string, V1EndpointSlice[]>,
  ): string[] {
    const plan = planFederation({ ...base, ...(local ? { local } : {}), mirrors });
    if (plan.kind !== 'service') throw new Error(plan.kind);
    const planned = planFederationSlices({
      namespace: ns,
      name: 'cart',
      apex: federated,
      members: plan.members,
      affinity: plan.affinity,
      slicesByService: slices,
    });
    if (!planned.ok) throw new Error(planned.message);
    return planned.slices
      .flatMap((s) =>
        s.endpoints.map(
          (e) => `${s.metadata?.labels?.[CLUSTER_NAME_LABEL]}:${e.addresses[0]}:${s.ports?.[0]?.port}`,
        ),
      )
      .sort();
  }

  it('lists every ready endpoint of every member when the local member is dual-stack', () => {
    // The EndpointSlice controller of a dual-stack cluster: one slice per family, the same pod in both.
    const slices = new Map<string, V1EndpointSlice[]>([
      [
        'cart',
        [
          slice(ns, 'cart', { ready: ['10.1.0.7'], port: 8080, name: 'cart-v4' }),
          slice(ns, 'cart', { ready: ['fd00::7'], port: 8080, name: 'cart-v6' }),
        ],
      ],
      ['cart-west', [slice(ns, 'cart-west', { mirror: true, ready: ['10.0.0.5', '10.0.0.6'], port: 20001 })]],
      [
        'cart-north',
        [slice(ns, 'cart-north', { mirror: true, ready: ['10.0.0.5', '10.0.0.6'], port: 20002 })],
      ],
    ]);
    expect(listed(local, [mirror('west'), mirror('north')], slices)).toEqual([
      'east:10.1.0.7:8080',
      'north:10.0.0.5:20002',
      'north:10.0.0.6:20002',
      'west:10.0.0.5:20001',
      'west:10.0.0.6:20001',
    ]);
  });

  it("a member whose only port has another name carries none of the federated Service's traffic", () => {
    // West's cart serves `admin` (its metrics port), not `http`: planFederation warns about it.
    const slices = new Map<string, V1EndpointSlice[]>([
      ['cart-north', [slice(ns, 'cart-north', { mirror: true, ready: ['10.0.0.5'], port: 20002 })]],
      [
        'cart-west',
        [slice(ns, 'cart-west', { mirror: true, ready: ['10.0.0.5'], port: 20001, portName: 'admin' })],
      ],
    ]);
    expect(
      listed(undefined, [mirror('west', [{ name: 'admin', port: 9000 }]), mirror('north')], slices),
    ).toEqual(['north:10.0.0.5:20002']);
  });

  it('with remote affinity, a remote member with no port of that name does not hold the local pods on standby', () => {
    const annotated = {
      ...local,
      metadata: { ...local.metadata, annotations: { [FEDERATION_AFFINITY_ANNOTATION]: 'remote' } },
    };
    const slices = new Map<string, V1EndpointSlice[]>([
      ['cart', [slice(ns, 'cart', { ready: ['10.1.0.7'], port: 8080 })]],
      [
        'cart-west',
        [slice(ns, 'cart-west', { mirror: true, ready: ['10.0.0.5'], port: 20001, portName: 'admin' })],
      ],
    ]);
    expect(listed(annotated, [mirror('west', [{ name: 'admin', port: 9000 }])], slices)).toEqual([
      'east:10.1.0.7:8080',
    ]);
  });
});
