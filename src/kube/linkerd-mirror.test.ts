import { describe, expect, it } from 'vitest';
import {
  MANAGED_BY_LABEL,
  MANAGED_BY_MIRROR,
  REMOTE_SVC_FQ_NAME_ANNOTATION,
  SERVICE_NAME_LABEL,
} from './keys.js';
import { isIsthmusMirror, isLinkerdMirror, vouchedNames } from './linkerd-mirror.js';
import type { V1EndpointSlice, V1Service } from './types.js';

const mirrorLabels = {
  'mirror.linkerd.io/mirrored-service': 'true',
  'mirror.linkerd.io/cluster-name': 'west',
};
/** What Linkerd's service mirror writes on the Service of every mirror (cluster_watcher.go). */
const linkerdAnnotations = {
  'mirror.linkerd.io/remote-svc-fq-name': 'web.test.svc.cluster.local',
  'mirror.linkerd.io/remote-resource-version': '4711',
};

function svc(labels: Record<string, string>, annotations: Record<string, string> = {}, name = 'web-west') {
  return { metadata: { name, namespace: 'test', uid: `uid-${name}`, labels, annotations } } as V1Service;
}

/** A slice the mirror controller wrote for `owner` (managed-by, service-name, owner reference). */
function ourSlice(owner: V1Service, managedBy = 'mirror.isthmus.dev'): V1EndpointSlice {
  const name = owner.metadata?.name ?? '';
  return {
    addressType: 'IPv4',
    endpoints: [],
    metadata: {
      name,
      namespace: 'test',
      labels: {
        'endpointslice.kubernetes.io/managed-by': managedBy,
        'kubernetes.io/service-name': name,
        'mirror.linkerd.io/cluster-name': 'west',
      },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name, uid: owner.metadata?.uid ?? '' }],
    },
  };
}

const legacyDirect = svc({
  ...mirrorLabels,
  'mirror.linkerd.io/remote-discovery': 'west',
  'mirror.linkerd.io/remote-service': 'web',
});

describe('who made a mirror', () => {
  it.each<[string, V1Service, 'isthmus' | 'linkerd' | 'neither', V1EndpointSlice[]?]>([
    [
      "Linkerd's gateway mirror, as its service mirror writes it (the identity is on its Endpoints)",
      svc(mirrorLabels, linkerdAnnotations),
      'linkerd',
    ],
    [
      "Linkerd's gateway mirror with a remote export's annotations, isthmus.dev/allowed-clusters among them (Linkerd copies them)",
      svc(mirrorLabels, { ...linkerdAnnotations, 'isthmus.dev/allowed-clusters': 'east' }),
      'linkerd',
    ],
    [
      "Linkerd's per-pod mirror of a headless Service",
      svc({ ...mirrorLabels, 'mirror.linkerd.io/headless-mirror-svc-name': 'db-west' }, linkerdAnnotations),
      'linkerd',
    ],
    [
      "Linkerd's remote-discovery mirror (no Endpoints, no slices)",
      svc(
        {
          ...mirrorLabels,
          'mirror.linkerd.io/remote-discovery': 'west',
          'mirror.linkerd.io/remote-service': 'web',
        },
        linkerdAnnotations,
      ),
      'linkerd',
    ],
    [
      "Linkerd 2.17's federated Service (no cluster-name label)",
      svc(
        { 'mirror.linkerd.io/mirrored-service': 'true', app: 'cart3' },
        { 'multicluster.linkerd.io/remote-discovery': 'cart3@west' },
        'cart3-federated',
      ),
      'linkerd',
    ],
    [
      "Linkerd 2.17's federated Service of the local member only",
      svc(
        { 'mirror.linkerd.io/mirrored-service': 'true' },
        { 'multicluster.linkerd.io/local-discovery': 'cart3' },
        'cart3-federated',
      ),
      'linkerd',
    ],
    [
      'an Isthmus mirror: marked with its cluster',
      svc({ ...mirrorLabels, 'isthmus.dev/mirror': 'west' }, linkerdAnnotations),
      'isthmus',
    ],
    [
      "a mark naming another cluster: copied from a remote mirror (Linkerd's service mirror copies labels)",
      svc({ ...mirrorLabels, 'isthmus.dev/mirror': 'north' }, linkerdAnnotations),
      'linkerd',
    ],
    [
      'a gateway mirror, headless parent or per-pod mirror written before the mark: its remote gateway',
      svc(mirrorLabels, { ...linkerdAnnotations, 'isthmus.dev/remote-gateway': '10.1.0.1:4143' }),
      'isthmus',
    ],
    [
      'a remote-discovery mirror of a federated member written before the mark: its federation label',
      svc({ ...mirrorLabels, 'isthmus.dev/federation': 'cart' }, linkerdAnnotations),
      'isthmus',
    ],
    [
      'a remote-discovery mirror written before the mark, with the slice the controller wrote for it',
      legacyDirect,
      'isthmus',
      [ourSlice(legacyDirect)],
    ],
    [
      "the same without its slices (the caller has none): it looks like Linkerd's",
      svc(legacyDirect.metadata!.labels!, linkerdAnnotations),
      'linkerd',
    ],
    [
      'a slice of ours owned by another Service (same name, re-created) proves nothing',
      legacyDirect,
      'neither',
      [ourSlice(svc(mirrorLabels, {}, 'web-west-other'))].map((s) => ({
        ...s,
        metadata: {
          ...s.metadata,
          name: 'web-west',
          labels: { ...s.metadata!.labels, 'kubernetes.io/service-name': 'web-west' },
        },
      })),
    ],
    [
      "a gateway mirror Linkerd's service mirror took over (rewrote, unmarked) keeps our slice: Linkerd's now",
      svc(mirrorLabels, linkerdAnnotations),
      'linkerd',
      [ourSlice(svc(mirrorLabels, linkerdAnnotations))],
    ],
    [
      "a slice kube mirrored from Linkerd's Endpoints proves nothing",
      legacyDirect,
      'neither',
      [ourSlice(legacyDirect, 'endpointslicemirroring-controller.k8s.io')],
    ],
    ['a hand-made Service with our two labels and nothing else', svc(mirrorLabels), 'neither'],
    ['a Service that is no mirror at all', svc({ app: 'web' }, linkerdAnnotations), 'neither'],
  ])('%s', (_what, service, maker, slices = []) => {
    expect({
      isthmus: isIsthmusMirror(service, slices),
      linkerd: isLinkerdMirror(service, slices),
    }).toEqual({ isthmus: maker === 'isthmus', linkerd: maker === 'linkerd' });
  });

  it('undefined is nobody', () => {
    expect([isIsthmusMirror(undefined), isLinkerdMirror(undefined)]).toEqual([false, false]);
  });
});

describe('vouchedNames', () => {
  const slice = (name: string, fqName: string): V1EndpointSlice => ({
    addressType: 'IPv4',
    endpoints: [],
    metadata: {
      name,
      namespace: 'test',
      labels: {
        [MANAGED_BY_LABEL]: MANAGED_BY_MIRROR,
        [SERVICE_NAME_LABEL]: 'web-west',
      },
      annotations: { [REMOTE_SVC_FQ_NAME_ANNOTATION]: fqName },
    },
  });

  it('decides two slices of one mirror that disagree by slice name, never by list order (a relist reorders)', () => {
    const a = slice('web-west-a', 'web.test.svc.cluster.local');
    const b = slice('web-west-b', 'other.test.svc.cluster.local');
    expect(vouchedNames([a, b]).get('test/web-west')).toBe('other.test.svc.cluster.local');
    expect(vouchedNames([b, a]).get('test/web-west')).toBe('other.test.svc.cluster.local');
  });
});
