import { describe, expect, it } from 'vitest';
import {
  EGRESS_PORTS_ANNOTATION,
  FEDERATED_LABEL,
  FEDERATED_SERVICE_LABEL,
  FEDERATION_AFFINITY_ANNOTATION,
  FEDERATION_LABEL,
  FEDERATION_MEMBERS_ANNOTATION,
  FEDERATION_STANDBY_ANNOTATION,
  LINKERD_GATEWAY_IDENTITY_ANNOTATION,
  MANAGED_BY_LABEL,
  MANAGED_BY_MIRROR,
  REMOTE_SVC_FQ_NAME_ANNOTATION,
  SERVICE_NAME_LABEL,
} from '../kube/keys.js';
import type { V1Service } from '../kube/types.js';
import {
  buildDirectSlices,
  buildMirrorSlice,
  copiedAnnotations,
  federationLabel,
  formatEgressPorts,
  matchesPattern,
  mirrorLabels,
  parseEgressPorts,
  splitSlices,
} from './mirror-objects.js';
import { remoteKeyOf } from './mirror-sync.js';
import { mergeSlice, sliceDiffers } from './owned-fields.js';
import { foreignService, linkConfig, linkerdMirror, ourLabels, remoteService } from './test-builders.js';

describe('mirror objects', () => {
  it.each([
    ['team', ['team'], true],
    ['team', ['tea'], false],
    ['secret.example.com/token', ['secret.example.com/*'], true],
    ['secret.example.com', ['secret.example.com/*'], false],
    ['other.io/x', ['secret.example.com/*'], false],
  ])('%s against %j → %s', (key, patterns, expected) => expect(matchesPattern(key, patterns)).toBe(expected));

  it('round-trips the egress ports annotation and ignores malformed entries', () => {
    const ports = new Map([
      ['http', 20000],
      ['9000', 20001],
    ]);
    expect(formatEgressPorts(ports)).toBe('http=20000,9000=20001');
    expect(parseEgressPorts('http=20000,9000=20001')).toEqual(ports);
    expect(parseEgressPorts('http=,=5,grpc=70000,ok=20002')).toEqual(new Map([['ok', 20002]]));
    expect(parseEgressPorts(undefined)).toEqual(new Map());
  });

  it("copies no Linkerd annotation of the remote: a remote mirror's would make ours look like Linkerd's", () => {
    const remote = remoteService('api', {
      annotations: {
        team: 'a',
        [LINKERD_GATEWAY_IDENTITY_ANNOTATION]: 'gw.linkerd',
        [REMOTE_SVC_FQ_NAME_ANNOTATION]: 'x',
      },
    });
    expect(copiedAnnotations(remote, linkConfig('west'))).toEqual({ team: 'a' });
  });

  it("copies none of Isthmus's own keys: a remote federated Service's would make ours look like one", () => {
    const remote = remoteService('api', {
      labels: {
        app: 'api',
        [FEDERATED_SERVICE_LABEL]: 'true',
        'failover.isthmus.dev/split': 'x',
        'example.com/isthmus.dev': 'kept',
        'notisthmus.dev/x': 'kept',
      },
      annotations: {
        note: 'kept',
        [FEDERATION_MEMBERS_ANNOTATION]: 'east,west',
        [FEDERATION_AFFINITY_ANNOTATION]: 'local',
        [FEDERATION_STANDBY_ANNOTATION]: 'north',
        [EGRESS_PORTS_ANNOTATION]: 'http=20000',
        'failover.isthmus.dev/restore-after': '1m',
      },
    });
    expect(mirrorLabels(remote, linkConfig('west'))).toEqual({
      app: 'api',
      'example.com/isthmus.dev': 'kept',
      'notisthmus.dev/x': 'kept',
      ...ourLabels('west'),
    });
    expect(copiedAnnotations(remote, linkConfig('west'))).toEqual({ note: 'kept' });
  });

  it('copies neither Linkerd labels nor a remote federation label: both are ours to set', () => {
    const remote = remoteService('api', {
      labels: { app: 'api', [FEDERATED_LABEL]: 'member', [FEDERATION_LABEL]: 'other' },
    });
    expect(mirrorLabels(remote, linkConfig('west'))).toEqual({ app: 'api', ...ourLabels('west') });
    expect(federationLabel('api')).toEqual({ [FEDERATION_LABEL]: 'api' });
  });

  const svc = (name: string, labels: Record<string, string>): V1Service => ({
    metadata: { name, namespace: 'shop', labels },
  });
  it.each<[string, V1Service, string | undefined]>([
    ['our mirror', svc('api-west', ourLabels('west')), 'shop/api'],
    [
      'a per-pod mirror maps to its parent',
      svc('db-0-west', { ...ourLabels('west'), 'mirror.linkerd.io/headless-mirror-svc-name': 'db-west' }),
      'shop/db',
    ],
    ["another cluster's mirror", svc('api-west', ourLabels('north')), undefined],
    ['a stranger holding a mirror name', { ...foreignService('api-west', 'shop') }, 'shop/api'],
    [
      "Linkerd's mirror of this cluster, which ours replaces once it goes",
      linkerdMirror('api-west', 'west', 'shop'),
      'shop/api',
    ],
    ["Linkerd's mirror of another cluster", linkerdMirror('api-west', 'north', 'shop'), undefined],
    [
      'a Service labelled as our mirror by hand, which ours replaces once it goes',
      svc('api-west', ourLabels('west', false)),
      'shop/api',
    ],
    ['an unrelated service', svc('api', {}), undefined],
  ])('remoteKeyOf: %s', (_n, service, key) => expect(remoteKeyOf(service, 'west')).toBe(key));

  const HEADLESS = 'service.kubernetes.io/headless';
  const clusterLabel = { 'mirror.linkerd.io/cluster-name': 'west' };

  it("labels the headless parent's slice headless, and no gateway mirror's", () => {
    const slice = (clusterIP?: string) =>
      buildMirrorSlice({
        service: { metadata: { name: 'db-west', namespace: 'shop' }, spec: clusterIP ? { clusterIP } : {} },
        cluster: 'west',
        addresses: ['10.96.0.20'],
        ready: true,
        egressPorts: new Map(),
      });
    expect(slice('None').metadata?.labels?.[HEADLESS]).toBe('');
    expect(slice().metadata?.labels).not.toHaveProperty(HEADLESS);
  });

  it("records a gateway mirror's remote name on its slice, and a slice of an older controller is rewritten with it", () => {
    const service: V1Service = {
      metadata: {
        name: 'web-west',
        namespace: 'shop',
        annotations: { 'mirror.linkerd.io/remote-svc-fq-name': 'web.shop.svc.cluster.local' },
      },
      spec: { ports: [{ name: 'http', port: 80 }] },
    };
    const slice = buildMirrorSlice({
      service,
      cluster: 'west',
      addresses: ['10.96.0.20'],
      ready: true,
      egressPorts: new Map([['http', 20000]]),
    });
    expect(slice.metadata?.annotations).toEqual({
      'mirror.linkerd.io/remote-svc-fq-name': 'web.shop.svc.cluster.local',
      'isthmus.dev/egress-ports': 'http=20000',
    });
    const { annotations: _none, ...older } = slice.metadata ?? {};
    const stored = { ...slice, metadata: { ...older, annotations: { 'example.com/keep': 'x' } } };
    expect(sliceDiffers(stored, slice)).toBe(true);
    expect(mergeSlice(stored, slice).metadata?.annotations).toEqual({
      'example.com/keep': 'x',
      'mirror.linkerd.io/remote-svc-fq-name': 'web.shop.svc.cluster.local',
      'isthmus.dev/egress-ports': 'http=20000',
    });
    expect(sliceDiffers(mergeSlice(stored, slice), slice)).toBe(false);
  });

  describe("a remote-discovery mirror's slices", () => {
    const web: V1Service = { metadata: { name: 'web-west', namespace: 'shop' } };
    const pods = (n: number, ready = true) =>
      Array.from({ length: n }, (_, i) => ({
        addresses: [`10.244.${i >> 8}.${i & 255}`],
        conditions: { ready },
      }));
    const http = (port: number) => [{ name: 'http', port, protocol: 'TCP' }];

    it('one slice per port set, each split at 1000 endpoints, named <mirror>, <mirror>.1, … in order', () => {
      const slices = splitSlices(
        buildDirectSlices(
          web,
          'west',
          {
            addressType: 'IPv4',
            groups: [
              { ports: http(8080), endpoints: pods(1500) },
              { ports: http(9090), endpoints: pods(10, false) },
            ],
          },
          'uid-1',
        ),
      );
      expect(slices.map((s) => [s.metadata?.name, s.ports?.[0]?.port, s.endpoints?.length])).toEqual([
        ['web-west', 8080, 1000],
        ['web-west.1', 8080, 500],
        ['web-west.2', 9090, 10],
      ]);
      for (const s of slices) {
        expect(s.addressType).toBe('IPv4');
        expect(s.metadata?.labels).toEqual(slices[0]!.metadata?.labels);
        expect(s.metadata?.ownerReferences?.[0]?.uid).toBe('uid-1');
      }
    });

    it("are labelled headless, as kube's EndpointSlice controller labels a headless Service's, so kube-proxy skips them", () => {
      const group = { ports: http(8080), endpoints: pods(1001) };
      const headless = { ...web, spec: { clusterIP: 'None' } };
      const slices = splitSlices(
        buildDirectSlices(headless, 'west', { addressType: 'IPv4', groups: [group] }),
      );
      expect(slices.map((s) => s.metadata?.labels)).toEqual([
        {
          [MANAGED_BY_LABEL]: MANAGED_BY_MIRROR,
          [SERVICE_NAME_LABEL]: 'web-west',
          ...clusterLabel,
          [HEADLESS]: '',
        },
        {
          [MANAGED_BY_LABEL]: MANAGED_BY_MIRROR,
          [SERVICE_NAME_LABEL]: 'web-west',
          ...clusterLabel,
          [HEADLESS]: '',
        },
      ]);
      const withClusterIP = buildDirectSlices(web, 'west', { addressType: 'IPv4', groups: [group] });
      expect(withClusterIP[0]?.metadata?.labels).not.toHaveProperty(HEADLESS);
    });

    it('no pod at all: the mirror keeps its one empty slice', () => {
      const none = splitSlices(buildDirectSlices(web, 'west', { addressType: 'IPv4', groups: [] }));
      expect(none.map((s) => [s.metadata?.name, s.endpoints, s.ports])).toEqual([['web-west', [], []]]);
    });
  });
});
