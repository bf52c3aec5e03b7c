import { describe, expect, it } from 'vitest';
import {
  ALLOWED_CLUSTERS_ANNOTATION,
  CLUSTER_NAME_LABEL,
  EGRESS_PORTS_ANNOTATION,
  EXPORTED_LABEL,
  FEDERATED_LABEL,
  FEDERATED_SERVICE_LABEL,
  FEDERATION_LABEL,
  FEDERATION_MEMBERS_ANNOTATION,
  ISTHMUS_MIRROR_LABEL,
  MANAGED_BY_LABEL,
  MANAGED_BY_MIRROR,
  MIRRORED_SERVICE_LABEL,
  REMOTE_DISCOVERY_LABEL,
  REMOTE_GATEWAY_ANNOTATION,
  REMOTE_RESOURCE_VERSION_ANNOTATION,
  REMOTE_SERVICE_LABEL,
  REMOTE_SVC_FQ_NAME_ANNOTATION,
} from '../kube/keys.js';
import type { Link, V1EndpointSlice, V1Service } from '../kube/types.js';
import { directEndpoints } from './direct-endpoints.js';
import { buildMirrorSlice } from './mirror-objects.js';
import { serviceNeedsRecreate } from './owned-fields.js';
import {
  type Action,
  type GatewayAlive,
  type MirrorPlanInput,
  planDelete,
  planMirror,
} from './plan-mirror.js';
import { foreignService, linkConfig, linkerdMirror, ourLabels, remoteService } from './test-builders.js';

const link = linkConfig('west', { excludedLabels: ['team'], excludedAnnotations: ['secret.example.com/*'] });
const egress = new Map([['http', 20001]]);
const restrictedTo = (clusters: string) =>
  remoteService('podinfo', { annotations: { [ALLOWED_CLUSTERS_ANNOTATION]: clusters } });

function input(over: Partial<MirrorPlanInput> = {}): MirrorPlanInput {
  return {
    remote: { service: remoteService('podinfo'), readyEndpointCount: 2 },
    link,
    gateway: { alive: true, addresses: ['10.0.0.5', '10.0.0.6'], remote: '10.1.0.1:4143' },
    local: { namespaceExists: true },
    egressPorts: egress,
    ...over,
  };
}

/** What the API server would hold after applying a plan (plus server-defaulted fields). */
function stored(plan: ReturnType<typeof planMirror>): { service: V1Service; slice: V1EndpointSlice } {
  const svc = plan.actions.find((a) => a.kind === 'applyService');
  const slice = plan.actions.find((a) => a.kind === 'applySlice');
  if (svc?.kind !== 'applyService' || slice?.kind !== 'applySlice') throw new Error('incomplete plan');
  const service = structuredClone(svc.service);
  service.metadata!.uid = 'uid-1';
  service.spec!.clusterIP = '10.96.0.10';
  service.spec!.sessionAffinity = 'None';
  const storedSlice = structuredClone(slice.slice);
  // The applier points the slice at its Service (ownerReference) once the Service has a uid.
  storedSlice.metadata!.ownerReferences = [
    {
      apiVersion: 'v1',
      kind: 'Service',
      name: service.metadata!.name!,
      uid: 'uid-1',
      controller: true,
      blockOwnerDeletion: true,
    },
  ];
  return { service, slice: storedSlice };
}

const created = stored(planMirror(input()));
/** `podinfo-federated` as west's federation controller writes it, then exported by hand. */
const federatedService = remoteService('podinfo', {
  labels: { [FEDERATED_SERVICE_LABEL]: 'true' },
  annotations: { [FEDERATION_MEMBERS_ANNOTATION]: 'east,west' },
});
/** West's mirror of north's `podinfo`, exported by hand. */
const remoteMirror = remoteService('podinfo', {
  labels: { [MIRRORED_SERVICE_LABEL]: 'true', [CLUSTER_NAME_LABEL]: 'north' },
  annotations: { [EGRESS_PORTS_ANNOTATION]: 'http=20000', [REMOTE_GATEWAY_ANNOTATION]: '10.2.0.1:4143' },
});

describe('planMirror', () => {
  it('creates a selectorless mirror with copied metadata and the egress annotations', () => {
    const plan = planMirror(
      input({
        remote: {
          service: remoteService('podinfo', {
            labels: { app: 'podinfo', team: 'a', 'mirror.linkerd.io/extra': 'x' },
            annotations: {
              note: 'kept',
              'service.kubernetes.io/topology-mode': 'Auto',
              'secret.example.com/token': 'no',
            },
            resourceVersion: '42',
          }),
          readyEndpointCount: 1,
        },
      }),
    );
    expect(plan.status).toEqual({ namespace: 'default', name: 'podinfo', reason: 'Mirrored' });
    expect(plan.actions.map((a) => a.kind)).toEqual(['applyService', 'applySlice']);
    const { service, slice } = stored(plan);
    expect(service.metadata).toMatchObject({ name: 'podinfo-west', namespace: 'default' });
    expect(service.metadata?.labels).toEqual({
      app: 'podinfo',
      [MIRRORED_SERVICE_LABEL]: 'true',
      [CLUSTER_NAME_LABEL]: 'west',
      [ISTHMUS_MIRROR_LABEL]: 'west',
    });
    expect(service.metadata?.annotations).toEqual({
      note: 'kept',
      [REMOTE_SVC_FQ_NAME_ANNOTATION]: 'podinfo.default.svc.cluster.local',
      [REMOTE_RESOURCE_VERSION_ANNOTATION]: '42',
      [REMOTE_GATEWAY_ANNOTATION]: '10.1.0.1:4143',
      [EGRESS_PORTS_ANNOTATION]: 'http=20001',
    });
    expect(service.spec?.selector).toBeUndefined();
    expect(service.spec?.ports).toEqual([{ name: 'http', port: 80, protocol: 'TCP', targetPort: 20001 }]);
    expect(slice.metadata?.labels?.[MANAGED_BY_LABEL]).toBe(MANAGED_BY_MIRROR);
    expect(slice.endpoints).toEqual([
      { addresses: ['10.0.0.5'], conditions: { ready: true } },
      { addresses: ['10.0.0.6'], conditions: { ready: true } },
    ]);
    expect(slice.ports).toEqual([{ name: 'http', port: 20001, protocol: 'TCP' }]);
    expect(plan.ready).toBe(true);
  });

  it.each<[string, Partial<MirrorPlanInput>, string[], string]>([
    ['unchanged', {}, [], 'Mirrored'],
    [
      'remote label change updates the service only',
      { remote: { service: remoteService('podinfo', { labels: { app: 'v2' } }), readyEndpointCount: 2 } },
      ['applyService'],
      'Mirrored',
    ],
    [
      'excluded label change is invisible',
      { remote: { service: remoteService('podinfo', { labels: { team: 'b' } }), readyEndpointCount: 2 } },
      [],
      'Mirrored',
    ],
    [
      'excluded annotation change is invisible',
      {
        remote: {
          service: remoteService('podinfo', { annotations: { 'secret.example.com/a': '1' } }),
          readyEndpointCount: 2,
        },
      },
      [],
      'Mirrored',
    ],
    [
      'topology hints are stripped',
      {
        remote: {
          service: remoteService('podinfo', {
            annotations: { 'service.kubernetes.io/topology-aware-hints': 'auto' },
          }),
          readyEndpointCount: 2,
        },
      },
      [],
      'Mirrored',
    ],
    [
      'port number change updates the service only (the egress port is stable)',
      {
        remote: {
          service: remoteService('podinfo', { ports: [{ name: 'http', port: 8080 }] }),
          readyEndpointCount: 2,
        },
      },
      ['applyService'],
      'Mirrored',
    ],
    [
      'new port gets its egress port on both',
      {
        remote: {
          service: remoteService('podinfo', {
            ports: [
              { name: 'http', port: 80 },
              { name: 'grpc', port: 9000 },
            ],
          }),
          readyEndpointCount: 2,
        },
        egressPorts: new Map([
          ['http', 20001],
          ['grpc', 20002],
        ]),
      },
      ['applyService', 'applySlice'],
      'Mirrored',
    ],
    [
      'gateway dead → slice update',
      { gateway: { alive: false, addresses: ['10.0.0.5', '10.0.0.6'], remote: '10.1.0.1:4143' } },
      ['applySlice'],
      'Mirrored',
    ],
    [
      'gateway unknown keeps ready:true',
      { gateway: { alive: 'unknown', addresses: ['10.0.0.5', '10.0.0.6'], remote: '10.1.0.1:4143' } },
      [],
      'Mirrored',
    ],
    [
      'no ready remote endpoints → slice emptied',
      { remote: { service: remoteService('podinfo'), readyEndpointCount: 0 } },
      ['applySlice'],
      'Mirrored',
    ],
    [
      'local gateway pod gone → slice update',
      { gateway: { alive: true, addresses: ['10.0.0.5'], remote: '10.1.0.1:4143' } },
      ['applySlice'],
      'Mirrored',
    ],
    [
      'remote gateway moved → service update',
      { gateway: { alive: true, addresses: ['10.0.0.5', '10.0.0.6'], remote: '10.1.0.9:4143' } },
      ['applyService'],
      'Mirrored',
    ],
    ['namespace missing', { local: { namespaceExists: false } }, [], 'MissingNamespace'],
    [
      'not ours → Conflict',
      { local: { namespaceExists: true, service: foreignService('podinfo-west') } },
      [],
      'Conflict',
    ],
    [
      "Linkerd's mirror of the same cluster → Conflict",
      { local: { namespaceExists: true, service: linkerdMirror('podinfo-west', 'west') } },
      [],
      'Conflict',
    ],
    [
      'long name → InvalidService',
      {
        remote: { service: remoteService('x'.repeat(60)), readyEndpointCount: 1 },
        local: { namespaceExists: true },
      },
      [],
      'InvalidService',
    ],
    [
      'ExternalName → skipped',
      { remote: { service: remoteService('podinfo', { type: 'ExternalName' }), readyEndpointCount: 1 } },
      ['deleteSlice', 'deleteService'],
      'UnsupportedServiceType',
    ],
    ['egress port missing → PortRangeExhausted', { egressPorts: new Map() }, [], 'PortRangeExhausted'],
    [
      'an export that admits this cluster is mirrored, without the allow-list on the mirror',
      { remote: { service: restrictedTo('north,east'), readyEndpointCount: 2 }, localCluster: 'east' },
      [],
      'Mirrored',
    ],
    [
      'an export that does not admit this cluster → NotAllowed, the mirror goes',
      { remote: { service: restrictedTo('north'), readyEndpointCount: 2 }, localCluster: 'east' },
      ['deleteSlice', 'deleteService'],
      'NotAllowed',
    ],
    [
      'an empty allow-list admits nobody',
      { remote: { service: restrictedTo(''), readyEndpointCount: 2 }, localCluster: 'east' },
      ['deleteSlice', 'deleteService'],
      'NotAllowed',
    ],
    [
      'a federated Service Isthmus made in the remote → OwnedByIsthmus, the mirror goes',
      { remote: { service: federatedService, readyEndpointCount: 2 } },
      ['deleteSlice', 'deleteService'],
      'OwnedByIsthmus',
    ],
    [
      "Isthmus's mirror in the remote → OwnedByIsthmus, the mirror goes",
      { remote: { service: remoteMirror, readyEndpointCount: 2 } },
      ['deleteSlice', 'deleteService'],
      'OwnedByIsthmus',
    ],
    [
      'a controller that does not know its cluster leaves the decision to the remote ingress',
      { remote: { service: restrictedTo('north'), readyEndpointCount: 2 } },
      [],
      'Mirrored',
    ],
  ])('%s', (_name, over, kinds, reason) => {
    const plan = planMirror(input({ local: { namespaceExists: true, ...created }, ...over }));
    expect(plan.actions.map((a) => a.kind)).toEqual(kinds);
    expect(plan.status.reason).toBe(reason);
  });

  it.each([
    [
      'a federated Service',
      federatedService,
      'the Service is a federated Service that Isthmus made in west (isthmus.dev/federated-service): only its members are mirrored',
    ],
    [
      'a mirror',
      remoteMirror,
      "the Service is Isthmus's mirror of north in west (mirror.linkerd.io/mirrored-service): mirrors are not mirrored again",
    ],
  ])(
    'says why %s of the remote Isthmus is not mirrored, in remote discovery too',
    (_name, service, message) => {
      const status = { namespace: 'default', name: 'podinfo', reason: 'OwnedByIsthmus', message };
      expect(planMirror(input({ remote: { service, readyEndpointCount: 2 } })).status).toEqual(status);
      const direct = planMirror(
        input({
          remote: { service, readyEndpointCount: 2 },
          target: { type: 'direct', endpoints: directEndpoints([]) },
        }),
      );
      expect(direct).toMatchObject({ actions: [], status });
    },
  );

  it('carries TCP ports only through the gateways, says which were left out, and refuses a Service with none', () => {
    const dns = (ports: { name: string; port: number; protocol: string }[]) =>
      input({ remote: { service: remoteService('dns', { ports }), readyEndpointCount: 1 } });
    const mixed = planMirror({
      ...dns([
        { name: 'dns', port: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 53, protocol: 'TCP' },
      ]),
      egressPorts: new Map([['dns-tcp', 20007]]),
    });
    expect(mixed.status).toEqual({
      namespace: 'default',
      name: 'dns',
      reason: 'Mirrored',
      message: 'dns (53/UDP) not mirrored: only TCP crosses the gateways',
    });
    const { service, slice } = stored(mixed);
    expect(service.spec?.ports).toEqual([{ name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 20007 }]);
    expect(slice.ports).toEqual([{ name: 'dns-tcp', port: 20007, protocol: 'TCP' }]);

    const udpOnly = planMirror(dns([{ name: 'syslog', port: 514, protocol: 'UDP' }]));
    expect(udpOnly.actions).toEqual([]);
    expect(udpOnly.status).toMatchObject({ reason: 'InvalidService' });
    expect(udpOnly.status.message).toMatch(
      /^no TCP port \(syslog \(514\/UDP\)\): only TCP crosses the gateways; on a flat pod network, export it with mirror\.linkerd\.io\/exported=remote-discovery/,
    );
  });

  it('creates a missing namespace first, labelled as a mirror of the cluster, when the Link enables it', () => {
    const plan = planMirror(
      input({
        link: { ...link, enableNamespaceCreation: true },
        remote: { service: remoteService('api', { namespace: 'shop' }), readyEndpointCount: 1 },
        local: { namespaceExists: false },
      }),
    );
    expect(plan.status.reason).toBe('Mirrored');
    expect(plan.actions.map((a) => a.kind)).toEqual(['createNamespace', 'applyService', 'applySlice']);
    expect(plan.actions[0]).toEqual({
      kind: 'createNamespace',
      namespace: {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: {
          name: 'shop',
          labels: { [MIRRORED_SERVICE_LABEL]: 'true', [CLUSTER_NAME_LABEL]: 'west' },
        },
      },
    });
    // Only a missing namespace is created; and what would not be mirrored creates none.
    const present = planMirror(input({ link: { ...link, enableNamespaceCreation: true } }));
    expect(present.actions.map((a) => a.kind)).toEqual(['applyService', 'applySlice']);
    const tooLong = planMirror(
      input({
        link: { ...link, enableNamespaceCreation: true },
        remote: { service: remoteService('x'.repeat(60), { namespace: 'shop' }), readyEndpointCount: 1 },
        local: { namespaceExists: false },
      }),
    );
    expect(tooLong).toMatchObject({ actions: [], status: { reason: 'InvalidService' } });
  });

  it.each([
    [false, 'namespace default is being deleted locally: mirrored again once it is re-created'],
    [true, 'namespace default is being deleted locally: re-created and mirrored again once it is gone'],
  ])(
    'a namespace being deleted counts as missing (enableNamespaceCreation %s): nothing can be created in it',
    (enableNamespaceCreation, message) => {
      const plan = planMirror(
        input({
          link: { ...link, enableNamespaceCreation },
          // Its mirror is still there: the namespace's deletion removes it.
          local: { namespaceExists: false, namespaceTerminating: true, ...created },
        }),
      );
      expect(plan).toMatchObject({
        actions: [],
        ready: false,
        status: { namespace: 'default', name: 'podinfo', reason: 'MissingNamespace', message },
      });
    },
  );

  it('a dead gateway writes ready:false explicitly', () => {
    const plan = planMirror(input({ gateway: { alive: false, addresses: ['10.0.0.5'], remote: 'g:4143' } }));
    const slice = plan.actions.find((a) => a.kind === 'applySlice');
    expect(slice?.kind === 'applySlice' && slice.slice.endpoints).toEqual([
      { addresses: ['10.0.0.5'], conditions: { ready: false } },
    ]);
    expect(plan.ready).toBe(false);
  });

  it.each([
    ['ready:false', false],
    ['ready:true', true],
  ])('unknown after restart keeps the existing %s', (_n, readiness) => {
    const slice = buildMirrorSlice({
      service: created.service,
      cluster: 'west',
      addresses: ['10.0.0.5', '10.0.0.6'],
      ready: readiness,
      egressPorts: egress,
      ownerUid: 'uid-1',
    });
    const plan = planMirror(
      input({
        gateway: { alive: 'unknown', addresses: ['10.0.0.5', '10.0.0.6'], remote: '10.1.0.1:4143' },
        local: { namespaceExists: true, service: created.service, slice },
      }),
    );
    expect(plan.actions).toEqual([]);
    expect(plan.ready).toBe(readiness);
  });

  it('a new mirror with an unknown gateway starts not ready', () => {
    const plan = planMirror(
      input({ gateway: { alive: 'unknown', addresses: ['10.0.0.5'], remote: 'g:4143' } }),
    );
    const slice = plan.actions.find((a) => a.kind === 'applySlice');
    expect(slice?.kind === 'applySlice' && slice.slice.endpoints?.[0]?.conditions).toEqual({ ready: false });
  });

  it("a plain mirror never takes over another Service's per-pod mirror of the same name", () => {
    const podMirror = structuredClone(created.service);
    podMirror.metadata!.labels!['mirror.linkerd.io/headless-mirror-svc-name'] = 'db-west';
    const plan = planMirror(input({ local: { namespaceExists: true, service: podMirror } }));
    expect(plan.status.reason).toBe('Conflict');
    expect(plan.actions).toEqual([]);
  });

  it("a skipped Service leaves another Service's per-pod mirror of the same name alone", () => {
    const podMirror = structuredClone(created.service);
    podMirror.metadata!.labels!['mirror.linkerd.io/headless-mirror-svc-name'] = 'db-west';
    const plan = planMirror(
      input({
        remote: { service: restrictedTo('north'), readyEndpointCount: 1 },
        local: { namespaceExists: true, service: podMirror, slice: created.slice },
        localCluster: 'east',
      }),
    );
    expect(plan.status.reason).toBe('NotAllowed');
    expect(plan.actions).toEqual([]);
  });

  it('a slice that is not ours is a Conflict', () => {
    const slice = { ...created.slice, metadata: { ...created.slice.metadata, labels: {} } };
    const plan = planMirror(input({ local: { namespaceExists: true, service: created.service, slice } }));
    expect(plan.status.reason).toBe('Conflict');
    expect(plan.actions).toEqual([]);
  });

  it('per-pod mirrors of a headless service carry the pod authority', () => {
    const plan = planMirror(
      input({
        remote: { service: remoteService('db', { headless: true }), readyEndpointCount: 1 },
        target: { type: 'pod', hostname: 'db-0' },
      }),
    );
    const { service } = stored(plan);
    const desired = plan.actions[0]?.kind === 'applyService' ? plan.actions[0].service : undefined;
    expect(service.metadata?.name).toBe('db-0-west');
    expect(service.metadata?.annotations?.[REMOTE_SVC_FQ_NAME_ANNOTATION]).toBe(
      'db-0.db.default.svc.cluster.local',
    );
    expect(service.metadata?.labels?.['mirror.linkerd.io/headless-mirror-svc-name']).toBe('db-west');
    expect(desired?.spec?.clusterIP).toBeUndefined();
  });

  it('the headless parent points at the per-pod mirrors with hostnames', () => {
    const plan = planMirror(
      input({
        remote: { service: remoteService('db', { headless: true }), readyEndpointCount: 2 },
        target: {
          type: 'headless',
          pods: [{ hostname: 'db-0', clusterIP: '10.96.0.20' }, { hostname: 'db-1' }],
        },
        egressPorts: new Map(),
      }),
    );
    const { service, slice } = stored(plan);
    expect(service.spec?.clusterIP).toBe('10.96.0.10'); // set by stored(); the desired one was None
    expect(plan.actions[0]?.kind === 'applyService' && plan.actions[0].service.spec?.clusterIP).toBe('None');
    expect(slice.endpoints).toEqual([
      { addresses: ['10.96.0.20'], conditions: { ready: true }, hostname: 'db-0' },
    ]);
    expect(slice.ports).toEqual([{ name: 'http', port: 80, protocol: 'TCP' }]);
  });

  describe('federated members', () => {
    const member = { [FEDERATED_LABEL]: 'member' };
    const desiredLabels = (actions: Action[]) =>
      actions.find((a) => a.kind === 'applyService')?.service.metadata?.labels ?? {};

    it.each<[string, Parameters<typeof remoteService>[1], Partial<Link['spec']>, string | undefined]>([
      ['exported only: no label', {}, {}, undefined],
      ['member only: labelled with its name', { exported: false, labels: member }, {}, 'podinfo'],
      ['exported and member: one mirror, labelled', { labels: member }, {}, 'podinfo'],
      ['another federated value is not a member', { labels: { [FEDERATED_LABEL]: 'other' } }, {}, undefined],
      ['a remote copy of the label on a non-member', { labels: { [FEDERATION_LABEL]: 'x' } }, {}, undefined],
      [
        'a remote copy of the label on a member',
        { labels: { ...member, [FEDERATION_LABEL]: 'x' } },
        {},
        'podinfo',
      ],
      [
        'federatedServiceSelector {}: no members',
        { labels: member },
        { federatedServiceSelector: {} },
        undefined,
      ],
      [
        'a custom federatedServiceSelector',
        { labels: { federation: 'pay' } },
        { federatedServiceSelector: { matchLabels: { federation: 'pay' } } },
        'podinfo',
      ],
    ])('%s', (_name, remote, spec, federation) => {
      const plan = planMirror(
        input({
          link: linkConfig('west', spec),
          remote: { service: remoteService('podinfo', remote), readyEndpointCount: 1 },
        }),
      );
      expect(plan.status.reason).toBe('Mirrored');
      const labels = desiredLabels(plan.actions);
      expect(labels[FEDERATION_LABEL]).toBe(federation);
      // Linkerd's labels (exported, federated) are still never copied.
      expect(Object.keys(labels).filter((k) => k.startsWith('mirror.linkerd.io/'))).toEqual([
        MIRRORED_SERVICE_LABEL,
        CLUSTER_NAME_LABEL,
      ]);
    });

    const asMember = remoteService('podinfo', { labels: member });
    const memberMirror = stored(planMirror(input({ remote: { service: asMember, readyEndpointCount: 2 } })));
    it.each<
      [string, V1Service, { service: V1Service; slice: V1EndpointSlice }, string[], string | undefined]
    >([
      ['joining the federation updates the service only', asMember, created, ['applyService'], 'podinfo'],
      [
        'leaving it but staying exported drops the label',
        remoteService('podinfo'),
        memberMirror,
        ['applyService'],
        undefined,
      ],
      ['a member unchanged: nothing to write', asMember, memberMirror, [], 'podinfo'],
    ])('%s', (_name, service, local, kinds, federation) => {
      const plan = planMirror(
        input({ remote: { service, readyEndpointCount: 2 }, local: { namespaceExists: true, ...local } }),
      );
      expect(plan.actions.map((a) => a.kind)).toEqual(kinds);
      const labels = kinds.length > 0 ? desiredLabels(plan.actions) : local.service.metadata?.labels;
      expect(labels?.[FEDERATION_LABEL]).toBe(federation);
    });

    it('a headless member: the parent mirror is labelled, its per-pod mirrors are not', () => {
      const db = remoteService('db', { headless: true, labels: member });
      const pod = planMirror(
        input({ remote: { service: db, readyEndpointCount: 1 }, target: { type: 'pod', hostname: 'db-0' } }),
      );
      const parent = planMirror(
        input({
          remote: { service: db, readyEndpointCount: 1 },
          target: { type: 'headless', pods: [{ hostname: 'db-0', clusterIP: '10.96.0.20' }] },
          egressPorts: new Map(),
        }),
      );
      expect(desiredLabels(pod.actions)[FEDERATION_LABEL]).toBeUndefined();
      expect(desiredLabels(parent.actions)[FEDERATION_LABEL]).toBe('db');
    });
  });

  describe('remote discovery (the remote pods as endpoints, no gateway)', () => {
    const discovery = { exported: false, labels: { [EXPORTED_LABEL]: 'remote-discovery' } };
    const db = remoteService('db', discovery);
    const pods = directEndpoints([
      {
        addressType: 'IPv4',
        endpoints: [
          { addresses: ['10.244.1.11'], conditions: { ready: false } },
          { addresses: ['10.244.1.10'], conditions: { ready: true } },
        ],
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
    ]);
    const direct = (over: Partial<MirrorPlanInput> = {}) =>
      planMirror(
        input({
          remote: { service: db, readyEndpointCount: 1 },
          target: { type: 'direct', endpoints: pods },
          egressPorts: new Map(),
          ...over,
        }),
      );

    it("writes a mirror with Linkerd's remote-discovery labels and no gateway annotations", () => {
      const plan = direct();
      expect(plan).toMatchObject({ name: 'db-west', ready: true, status: { reason: 'Mirrored' } });
      const svc = plan.actions.find((a) => a.kind === 'applyService')?.service;
      expect(svc?.metadata?.labels).toMatchObject({
        [REMOTE_DISCOVERY_LABEL]: 'west',
        [REMOTE_SERVICE_LABEL]: 'db',
        [MIRRORED_SERVICE_LABEL]: 'true',
      });
      expect(svc?.metadata?.annotations).not.toHaveProperty(EGRESS_PORTS_ANNOTATION);
      expect(svc?.metadata?.annotations).not.toHaveProperty(REMOTE_GATEWAY_ANNOTATION);
      expect(svc?.metadata?.annotations?.[REMOTE_SVC_FQ_NAME_ANNOTATION]).toBe(
        'db.default.svc.cluster.local',
      );
      expect(svc?.spec?.ports).toEqual([{ name: 'http', port: 80, protocol: 'TCP' }]);
      const slice = plan.actions.find((a) => a.kind === 'applySlice')?.slice;
      expect(slice?.endpoints).toEqual(pods.groups[0]?.endpoints);
      expect(slice?.ports).toEqual([{ name: 'http', port: 8080, protocol: 'TCP' }]);
    });

    it("labels a headless mirror's slice headless, and labels in place one written before the label", () => {
      const kafka = remoteService('kafka', { ...discovery, headless: true });
      const remote = { service: kafka, readyEndpointCount: 1 };
      const { service, slice } = stored(direct({ remote }));
      service.spec!.clusterIP = 'None';
      expect(slice.metadata?.labels?.['service.kubernetes.io/headless']).toBe('');
      expect(direct({ remote, local: { namespaceExists: true, service, slice } }).actions).toEqual([]);
      const { 'service.kubernetes.io/headless': _label, ...older } = slice.metadata?.labels ?? {};
      const unlabelled = { ...slice, metadata: { ...slice.metadata, labels: older } };
      const upgrade = direct({ remote, local: { namespaceExists: true, service, slice: unlabelled } });
      expect(upgrade.actions.map((a) => a.kind)).toEqual(['applySlice']);
    });

    it('keeps UDP ports: its callers reach the remote pods without a tunnel', () => {
      const syslog = remoteService('syslog', {
        exported: false,
        labels: { [EXPORTED_LABEL]: 'remote-discovery' },
        ports: [{ name: 'syslog', port: 514, protocol: 'UDP' }],
      });
      const plan = direct({ remote: { service: syslog, readyEndpointCount: 1 } });
      expect(plan.status).toEqual({ namespace: 'default', name: 'syslog', reason: 'Mirrored' });
      const svc = plan.actions.find((a) => a.kind === 'applyService')?.service;
      expect(svc?.spec?.ports).toEqual([{ name: 'syslog', port: 514, protocol: 'UDP' }]);
    });

    it.each<[string, GatewayAlive]>([
      ['a dead gateway', false],
      ['an unknown gateway', 'unknown'],
    ])("readiness is the remote pods' alone, with %s", (_name, alive) => {
      const plan = direct({ gateway: { alive, addresses: [], remote: '' } });
      expect(plan.ready).toBe(true);
      const slice = plan.actions.find((a) => a.kind === 'applySlice')?.slice;
      expect(slice?.endpoints?.map((e) => e.conditions?.ready)).toEqual([true, false]);
    });

    it('no ready pod: not ready; a headless remote Service: a headless mirror', () => {
      const none = directEndpoints([]);
      expect(direct({ target: { type: 'direct', endpoints: none } }).ready).toBe(false);
      const headless = remoteService('db', { headless: true });
      const svc = direct({ remote: { service: headless, readyEndpointCount: 1 } }).actions.find(
        (a) => a.kind === 'applyService',
      )?.service;
      expect(svc?.spec?.clusterIP).toBe('None');
    });

    it('remote pods only of the other family: a mirror Service of their family, re-created if it had the default', () => {
      const v6pods = directEndpoints([
        {
          addressType: 'IPv6',
          endpoints: [{ addresses: ['fd00:1::10'], conditions: { ready: true } }],
          ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
        },
      ]);
      const serviceOf = (plan: ReturnType<typeof planMirror>) =>
        plan.actions.find((a) => a.kind === 'applyService')?.service;
      const v6 = direct({ target: { type: 'direct', endpoints: v6pods }, clusterFamily: 'IPv4' });
      expect(serviceOf(v6)?.spec).toMatchObject({ ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack' });
      // The cluster's own family, no pods yet, or a headless mirror: the API server's default.
      expect(serviceOf(direct({ clusterFamily: 'IPv4' }))?.spec?.ipFamilies).toBeUndefined();
      const none = { type: 'direct' as const, endpoints: directEndpoints([]) };
      expect(serviceOf(direct({ target: none, clusterFamily: 'IPv6' }))?.spec?.ipFamilies).toBeUndefined();
      const headless = remoteService('db', { headless: true });
      const headlessPlan = direct({
        remote: { service: headless, readyEndpointCount: 1 },
        target: { type: 'direct', endpoints: v6pods },
        clusterFamily: 'IPv4',
      });
      expect(serviceOf(headlessPlan)?.spec?.ipFamilies).toBeUndefined();

      // A mirror made before, of the default family: the primary family cannot change in place.
      const old = stored(direct());
      old.service.spec!.ipFamilies = ['IPv4'];
      expect(serviceNeedsRecreate(old.service, serviceOf(v6)!)).toBe(true);
      const current = stored(v6);
      expect(
        direct({
          local: { namespaceExists: true, ...current },
          target: { type: 'direct', endpoints: v6pods },
          clusterFamily: 'IPv4',
        }).actions,
      ).toEqual([]);
    });

    it('a stored mirror of another family than it must be names that family, so it is re-created: pods back to the default, or moved to the tunnel', () => {
      const serviceOf = (plan: ReturnType<typeof planMirror>) =>
        plan.actions.find((a) => a.kind === 'applyService')?.service;
      const v6mirror = stored(direct({ clusterFamily: 'IPv4' }));
      v6mirror.service.spec!.ipFamilies = ['IPv6'];
      const local = { namespaceExists: true, ...v6mirror };
      // Remote pods back to IPv4, the cluster's family: the API's default would keep it IPv6.
      const back = serviceOf(direct({ local, clusterFamily: 'IPv4' }));
      expect(back?.spec).toMatchObject({ ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack' });
      expect(serviceNeedsRecreate(v6mirror.service, back!)).toBe(true);
      // Through the gateways now, whose slice is of the cluster's family.
      const tunnelled = serviceOf(planMirror(input({ local, clusterFamily: 'IPv4' })));
      expect(tunnelled?.spec?.ipFamilies).toEqual(['IPv4']);
      expect(serviceNeedsRecreate(v6mirror.service, tunnelled!)).toBe(true);
      // Re-created in its family: nothing more to write, and a tunnel mirror of the default family
      // is written as before, without ipFamilies.
      const recreated = stored(direct({ clusterFamily: 'IPv4' }));
      recreated.service.spec!.ipFamilies = ['IPv4'];
      expect(
        direct({ local: { namespaceExists: true, ...recreated }, clusterFamily: 'IPv4' }).actions,
      ).toEqual([]);
      expect(serviceOf(planMirror(input({ clusterFamily: 'IPv4' })))?.spec?.ipFamilies).toBeUndefined();
    });

    it('an existing mirror in the same state writes nothing (the API defaults targetPort to the port)', () => {
      const local = stored(direct());
      local.service.spec!.ports = local.service.spec!.ports!.map((p) => ({
        ...p,
        targetPort: p.port as never,
      }));
      expect(direct({ local: { namespaceExists: true, ...local } }).actions).toEqual([]);
    });

    it('a tunnelled mirror turning into a remote-discovery one is updated in place, and back', () => {
      const asDirect = direct({ local: { namespaceExists: true, ...created } });
      expect(asDirect.actions.map((a) => a.kind)).toEqual(['applyService', 'applySlice']);
      const back = planMirror(input({ local: { namespaceExists: true, ...stored(direct()) } }));
      expect(back.actions.map((a) => a.kind)).toEqual(['applyService', 'applySlice']);
    });

    it('a federated member mirrored this way (a Link without a gateway) carries its federation too', () => {
      const member = remoteService('cart', { exported: false, labels: { [FEDERATED_LABEL]: 'member' } });
      const svc = direct({ remote: { service: member, readyEndpointCount: 1 } }).actions.find(
        (a) => a.kind === 'applyService',
      )?.service;
      expect(svc?.metadata?.labels).toMatchObject({
        [FEDERATION_LABEL]: 'cart',
        [REMOTE_DISCOVERY_LABEL]: 'west',
      });
    });

    it('skip reasons still apply: not allowed here, or a name that is not ours', () => {
      const only = remoteService('db', { annotations: { [ALLOWED_CLUSTERS_ANNOTATION]: 'north' } });
      const refused = direct({ remote: { service: only, readyEndpointCount: 1 }, localCluster: 'east' });
      expect(refused.status.reason).toBe('NotAllowed');
      const stranger = direct({ local: { namespaceExists: true, service: foreignService('db-west') } });
      expect(stranger.status.reason).toBe('Conflict');
      expect(stranger.actions).toEqual([]);
    });
  });

  describe('more endpoints than one EndpointSlice holds (the API server refuses past 1000)', () => {
    // A headless parent: one endpoint per per-pod mirror (a StatefulSet of n pods).
    const db = remoteService('db', { headless: true });
    const pods = (n: number) =>
      Array.from({ length: n }, (_, i) => ({
        hostname: `db-${i}`,
        clusterIP: `10.96.${Math.floor(i / 250)}.${(i % 250) + 1}`,
      }));
    const plan = (n: number, local: MirrorPlanInput['local'] = { namespaceExists: true }) =>
      planMirror(
        input({
          remote: { service: db, readyEndpointCount: n },
          link: linkConfig('west', { mirrorHeadless: true }),
          target: { type: 'headless', pods: pods(n) },
          egressPorts: new Map(),
          local,
        }),
      );
    const slicesOf = (actions: Action[]) =>
      actions.flatMap((a) => (a.kind === 'applySlice' ? [a.slice] : []));
    /** What the API server holds after a plan: its Service and slices, the first as `slice`. */
    const storedAll = (p: ReturnType<typeof planMirror>): MirrorPlanInput['local'] => {
      const [slice, ...extraSlices] = slicesOf(p.actions).map((s) => structuredClone(s));
      const svc = p.actions.find((a) => a.kind === 'applyService');
      return {
        namespaceExists: true,
        ...(svc?.kind === 'applyService' ? { service: svc.service } : {}),
        ...(slice ? { slice } : {}),
        extraSlices,
      };
    };

    it('splits 2001 endpoints over three slices of at most 1000, named after the mirror', () => {
      const p = plan(2001);
      const slices = slicesOf(p.actions);
      expect(slices.map((s) => s.metadata?.name)).toEqual(['db-west', 'db-west.1', 'db-west.2']);
      expect(slices.map((s) => s.endpoints?.length)).toEqual([1000, 1000, 1]);
      for (const s of slices) {
        expect(s.metadata?.labels).toEqual(slices[0]!.metadata?.labels);
        expect(s.ports).toEqual(slices[0]!.ports);
        expect(s.addressType).toBe('IPv4');
      }
      expect(new Set(slices.flatMap((s) => s.endpoints!.map((e) => e.hostname))).size).toBe(2001);
      expect(p.status.reason).toBe('Mirrored');
    });

    it('exactly 1000 endpoints are one slice, as always', () => {
      expect(slicesOf(plan(1000).actions).map((s) => s.metadata?.name)).toEqual(['db-west']);
    });

    it('unchanged slices are not written again; shrinking deletes the slices left over, the last first', () => {
      const local = storedAll(plan(2001));
      expect(plan(2001, local).actions).toEqual([]);
      const smaller = plan(1001, local);
      expect(
        smaller.actions.map(
          (a) => `${a.kind} ${a.kind === 'applySlice' ? a.slice.metadata?.name : 'name' in a ? a.name : ''}`,
        ),
      ).toEqual(['applySlice db-west.1', 'deleteSlice db-west.2']);
      expect(
        plan(10, local)
          .actions.filter((a) => a.kind === 'deleteSlice')
          .map((a) => 'name' in a && a.name),
      ).toEqual(['db-west.2', 'db-west.1']);
    });

    it('a mirror removed takes every slice of it, and never a slice that is not ours', () => {
      const local = storedAll(plan(2001));
      const gone = planMirror(
        input({
          remote: {
            service: remoteService('db', {
              headless: true,
              annotations: { [ALLOWED_CLUSTERS_ANNOTATION]: 'north' },
            }),
            readyEndpointCount: 1,
          },
          link: linkConfig('west', { mirrorHeadless: true }),
          localCluster: 'east',
          local,
        }),
      );
      expect(gone.status.reason).toBe('NotAllowed');
      expect(gone.actions.map((a) => `${a.kind} ${'name' in a ? a.name : ''}`)).toEqual([
        'deleteSlice db-west.2',
        'deleteSlice db-west.1',
        'deleteSlice db-west',
        'deleteService db-west',
      ]);
      const stranger = structuredClone(local.extraSlices![1]!);
      stranger.metadata!.labels = { app: 'mine' };
      const withStranger = { ...local, extraSlices: [local.extraSlices![0]!, stranger] };
      const kept = plan(10, withStranger).actions.filter((a) => a.kind === 'deleteSlice');
      expect(kept.map((a) => 'name' in a && a.name)).toEqual(['db-west.1']);
    });

    describe('a remote-discovery mirror: every remote pod, every port set', () => {
      const flat = remoteService('flat', {
        exported: false,
        labels: { [EXPORTED_LABEL]: 'remote-discovery' },
      });
      /** West's slices of `flat`: `counts[i]` ready pods whose `http` is port `ports[i]`. */
      const remoteSlices = (counts: number[], ports: number[]): V1EndpointSlice[] => {
        let next = 0;
        return counts.map((n, i) => ({
          addressType: 'IPv4',
          endpoints: Array.from({ length: n }, () => {
            const k = next++;
            return { addresses: [`10.244.${k >> 8}.${k & 255}`], conditions: { ready: true } };
          }),
          ports: [{ name: 'http', port: ports[i] ?? 8080, protocol: 'TCP' }],
        }));
      };
      const planFlat = (
        slices: V1EndpointSlice[],
        local: MirrorPlanInput['local'] = { namespaceExists: true },
      ) =>
        planMirror(
          input({
            remote: { service: flat, readyEndpointCount: 1 },
            target: { type: 'direct', endpoints: directEndpoints(slices) },
            egressPorts: new Map(),
            local,
          }),
        );
      const shape = (actions: Action[]) =>
        actions.map((a) =>
          a.kind === 'applySlice'
            ? `${a.slice.metadata?.name} ${a.slice.ports?.[0]?.port} ${a.slice.endpoints?.length}`
            : a.kind === 'deleteSlice'
              ? `deleteSlice ${a.name}`
              : a.kind,
        );

      it('2500 pods: three slices holding all of them; back to 900: the extra slices go, the last first', () => {
        const big = planFlat(remoteSlices([1000, 1000, 500], [8080, 8080, 8080]));
        expect(shape(big.actions)).toEqual([
          'applyService',
          'flat-west 8080 1000',
          'flat-west.1 8080 1000',
          'flat-west.2 8080 500',
        ]);
        const local = storedAll(big);
        expect(planFlat(remoteSlices([1000, 1000, 500], [8080, 8080, 8080]), local).actions).toEqual([]);
        expect(shape(planFlat(remoteSlices([900], [8080]), local).actions)).toEqual([
          'flat-west 8080 900',
          'deleteSlice flat-west.2',
          'deleteSlice flat-west.1',
        ]);
      });

      it('a named targetPort mid-rollout: each port set in its own slice; rollout done: the stale slice goes', () => {
        const rollout = remoteSlices([3, 2], [9090, 8080]);
        const mid = planFlat(rollout);
        expect(mid.ready).toBe(true);
        expect(shape(mid.actions).slice(1)).toEqual(['flat-west 8080 2', 'flat-west.1 9090 3']);
        const local = storedAll(mid);
        // The same remote state, reconciled again: byte for byte the same slices, nothing written.
        expect(planFlat(rollout, local).actions).toEqual([]);
        expect(shape(planFlat(remoteSlices([5, 0], [9090, 8080]), local).actions)).toEqual([
          'flat-west 9090 5',
          'deleteSlice flat-west.1',
        ]);
      });
    });
  });
});

describe('whose mirror (isthmus.dev/mirror)', () => {
  /** A stored mirror as an Isthmus from before the mark wrote it. */
  function unmarked(m: { service: V1Service; slice: V1EndpointSlice }) {
    const service = structuredClone(m.service);
    delete service.metadata!.labels![ISTHMUS_MIRROR_LABEL];
    return { ...m, service };
  }
  const discovery = remoteService('db', {
    exported: false,
    labels: { [EXPORTED_LABEL]: 'remote-discovery' },
  });
  const direct = (local: MirrorPlanInput['local']) =>
    planMirror(
      input({
        remote: { service: discovery, readyEndpointCount: 0 },
        target: { type: 'direct', endpoints: directEndpoints([]) },
        local,
      }),
    );
  const directMirror = stored(direct({ namespaceExists: true }));

  it.each<[string, MirrorPlanInput['target']]>([
    ['a gateway mirror', { type: 'service' }],
    ['a headless parent', { type: 'headless', pods: [{ hostname: 'db-0', clusterIP: '10.96.0.20' }] }],
    ['a per-pod mirror', { type: 'pod', hostname: 'db-0' }],
    ['a remote-discovery mirror', { type: 'direct', endpoints: directEndpoints([]) }],
  ])("marks %s with its cluster, the mark README's `-l '!isthmus.dev/mirror'` relies on", (_kind, target) => {
    const [apply] = planMirror(input({ target })).actions;
    expect(apply?.kind === 'applyService' && apply.service.metadata?.labels?.[ISTHMUS_MIRROR_LABEL]).toBe(
      'west',
    );
  });

  it.each<[string, V1Service, string]>([
    [
      "Linkerd's mirror, as its service mirror writes it",
      linkerdMirror('podinfo-west', 'west'),
      "Service default/podinfo-west is Linkerd's mirror of west: unlink west from Linkerd multicluster first",
    ],
    [
      'a Service labelled as our mirror by hand',
      { metadata: { name: 'podinfo-west', namespace: 'default', labels: ourLabels('west', false) } },
      "Service default/podinfo-west is labelled as a mirror of west, but neither Isthmus (no isthmus.dev/mirror label) nor Linkerd made it, so it is left alone: delete it to have west's Service mirrored here",
    ],
    [
      'any other Service',
      foreignService('podinfo-west'),
      "Service default/podinfo-west exists and is not a mirror of west: delete or rename the local Service default/podinfo-west, or stop exporting west's default/podinfo",
    ],
  ])('leaves %s alone, saying whose it is', (_what, service, message) => {
    const plan = planMirror(input({ local: { namespaceExists: true, service } }));
    expect(plan).toMatchObject({ actions: [], status: { reason: 'Conflict', message } });
  });

  it('marks a gateway mirror written before the mark in place, as its own (its remote gateway says so)', () => {
    const plan = planMirror(input({ local: { namespaceExists: true, ...unmarked(created) } }));
    expect(plan.status.reason).toBe('Mirrored');
    expect(plan.actions).toEqual([
      { kind: 'applyService', service: expect.objectContaining({ metadata: expect.anything() }) },
    ]);
    const [apply] = plan.actions as [Extract<Action, { kind: 'applyService' }>];
    expect(apply.service.metadata?.labels?.[ISTHMUS_MIRROR_LABEL]).toBe('west');
  });

  it('takes a remote-discovery mirror written before the mark for its own by its slice: adopted by uid', () => {
    const legacy = unmarked(directMirror);
    const plan = direct({ namespaceExists: true, ...legacy });
    expect(plan.status.reason).toBe('Mirrored');
    expect(plan.actions).toEqual([{ kind: 'applyService', service: expect.anything(), adopt: 'uid-1' }]);
    expect(planDelete('default', 'db-west', legacy, 'west')).toEqual([
      { kind: 'deleteSlice', namespace: 'default', name: 'db-west' },
      { kind: 'deleteService', namespace: 'default', name: 'db-west', adopt: 'uid-1' },
    ]);
    // Without the slice written for it, it is indistinguishable from Linkerd's: left alone.
    const alone = direct({ namespaceExists: true, service: legacy.service });
    expect(alone.status).toMatchObject({
      reason: 'Conflict',
      message: expect.stringContaining("Linkerd's mirror"),
    });
    expect(planDelete('default', 'db-west', { service: legacy.service }, 'west')).toEqual([]);
  });

  it('adopts nothing that is marked: the applier checks it by its labels', () => {
    expect(planDelete('default', 'db-west', directMirror, 'west')).toEqual([
      { kind: 'deleteSlice', namespace: 'default', name: 'db-west' },
      { kind: 'deleteService', namespace: 'default', name: 'db-west' },
    ]);
  });
});

describe("a mirror name held by a Service that is not Isthmus's (moving from Linkerd)", () => {
  /** Ours, after Linkerd's service mirror rewrote its labels and annotations (same object, same uid). */
  function rewrittenByLinkerd(): V1Service {
    const svc = linkerdMirror('podinfo-west', 'west');
    svc.metadata!.uid = created.service.metadata!.uid!;
    svc.spec = structuredClone(created.service.spec);
    return svc;
  }
  const extra = (i: number) => ({
    ...created.slice,
    metadata: { ...created.slice.metadata, name: `podinfo-west.${i}` },
  });

  it('deletes the slices Isthmus wrote for it, the last first, while that very Service holds the name', () => {
    const holder = rewrittenByLinkerd();
    const plan = planMirror(
      input({
        local: { namespaceExists: true, service: holder, slice: created.slice, extraSlices: [extra(1)] },
      }),
    );
    expect(plan.status).toEqual({
      namespace: 'default',
      name: 'podinfo',
      reason: 'Conflict',
      message:
        "Service default/podinfo-west is Linkerd's mirror of west: unlink west from Linkerd multicluster first",
    });
    expect(plan.ready).toBe(false);
    expect(plan.actions).toEqual([
      { kind: 'deleteSlice', namespace: 'default', name: 'podinfo-west.1', heldBy: 'uid-1' },
      { kind: 'deleteSlice', namespace: 'default', name: 'podinfo-west', heldBy: 'uid-1' },
    ]);
  });

  it("never deletes a slice that is not Isthmus's, of this cluster", () => {
    const labelled = (labels: Record<string, string>): V1EndpointSlice => ({
      ...created.slice,
      metadata: { ...created.slice.metadata, labels },
    });
    const strangers = [
      labelled({ 'kubernetes.io/service-name': 'podinfo-west' }),
      labelled({ ...created.slice.metadata?.labels, [CLUSTER_NAME_LABEL]: 'north' }),
    ];
    for (const slice of strangers) {
      const plan = planMirror(
        input({ local: { namespaceExists: true, service: rewrittenByLinkerd(), slice } }),
      );
      expect(plan.status.reason).toBe('Conflict');
      expect(plan.actions).toEqual([]);
    }
  });

  it('leaves the slice of another of our mirrors holding the name (a per-pod mirror) alone', () => {
    const podMirror = structuredClone(created.service);
    podMirror.metadata!.labels!['mirror.linkerd.io/headless-mirror-svc-name'] = 'db-west';
    const plan = planMirror(
      input({ local: { namespaceExists: true, service: podMirror, slice: created.slice } }),
    );
    expect(plan.status.reason).toBe('Conflict');
    expect(plan.actions).toEqual([]);
  });
});

describe("taking over a name Linkerd's mirror held until just now", () => {
  /** Linkerd's mirror of west's podinfo as the informer last saw it, with the address the API gave it. */
  function linkerds(over: { cluster?: string; clusterIP?: string; type?: string; marked?: boolean } = {}) {
    const svc = linkerdMirror('podinfo-west', over.cluster ?? 'west');
    if (over.marked) svc.metadata!.labels![ISTHMUS_MIRROR_LABEL] = over.cluster ?? 'west';
    svc.metadata!.uid = 'uid-linkerd';
    const ip = over.clusterIP ?? '10.96.0.42';
    svc.spec = {
      ...svc.spec,
      type: over.type ?? 'ClusterIP',
      clusterIP: ip,
      clusterIPs: [ip],
      ipFamilies: [ip.includes(':') ? 'IPv6' : 'IPv4'],
    };
    return svc;
  }
  const applied = (plan: ReturnType<typeof planMirror>) =>
    plan.actions.find((a): a is Extract<Action, { kind: 'applyService' }> => a.kind === 'applyService');

  it('creates the mirror with the ClusterIP callers already hold', () => {
    const plan = planMirror(input({ vacated: linkerds(), clusterFamily: 'IPv4' }));
    const apply = applied(plan);
    expect(apply?.keepClusterIP).toBe('10.96.0.42');
    expect(apply?.service.spec).toMatchObject({ clusterIP: '10.96.0.42', clusterIPs: ['10.96.0.42'] });
    expect(apply?.service.spec?.ipFamilies).toBeUndefined();
    // Its slice is as ever.
    expect(plan.actions.map((a) => a.kind)).toEqual(['applyService', 'applySlice']);
    // Nothing of it is compared once it exists (clusterIP is the server's, and immutable).
    expect(serviceNeedsRecreate(created.service, apply!.service)).toBe(false);
  });

  it.each<[string, Partial<MirrorPlanInput>]>([
    ["Linkerd's mirror of another cluster", { vacated: linkerds({ cluster: 'north' }) }],
    ['a mirror Isthmus made (its mark)', { vacated: linkerds({ marked: true }) }],
    [
      'a Service that is no mirror',
      { vacated: { ...foreignService('podinfo-west'), spec: linkerds().spec } },
    ],
    ['a headless one', { vacated: linkerds({ clusterIP: 'None' }) }],
    ['one of type NodePort', { vacated: linkerds({ type: 'NodePort' }) }],
    [
      'an address of the family the mirror does not get',
      { vacated: linkerds({ clusterIP: 'fd00:10:96::2a' }) },
    ],
    [
      'a headless mirror',
      {
        vacated: linkerds(),
        remote: { service: remoteService('podinfo', { headless: true }), readyEndpointCount: 1 },
        target: { type: 'headless', pods: [] },
      },
    ],
    [
      'a name held now',
      {
        vacated: linkerds(),
        local: { namespaceExists: true, service: created.service, slice: created.slice },
      },
    ],
  ])('asks for no address after %s', (_what, over) => {
    const plan = planMirror(input({ clusterFamily: 'IPv4', ...over }));
    const apply = applied(plan);
    expect(apply?.keepClusterIP).toBeUndefined();
    if (apply?.service.spec?.clusterIP !== 'None') expect(apply?.service.spec?.clusterIP).toBeUndefined();
    expect(apply?.service.spec?.clusterIPs).toBeUndefined();
  });

  it('keeps an IPv6 address on an IPv6 cluster, and any address where the family is not known', () => {
    const v6 = applied(
      planMirror(input({ vacated: linkerds({ clusterIP: 'fd00:10:96::2a' }), clusterFamily: 'IPv6' })),
    );
    expect(v6?.service.spec).toMatchObject({ clusterIP: 'fd00:10:96::2a', clusterIPs: ['fd00:10:96::2a'] });
    const unknown = applied(planMirror(input({ vacated: linkerds() })));
    expect(unknown?.keepClusterIP).toBe('10.96.0.42');
  });
});
