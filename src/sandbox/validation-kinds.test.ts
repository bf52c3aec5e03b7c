import { describe, expect, it } from 'vitest';
import type { StatusCause } from './field-errors.js';
import { nameRuleFor, validateBuiltin } from './validation.js';

const opts = { allowLoopbackEndpoints: false };
const check = (gvk: string, obj: unknown, old?: unknown): StatusCause[] =>
  validateBuiltin(gvk, obj, old, opts);
const meta = { name: 'x', namespace: 'n' };

describe('nameRuleFor', () => {
  it.each([
    ['v1/Service', 'dns1035-label'],
    ['v1/Namespace', 'dns1123-label'],
    ['v1/Secret', 'dns1123-subdomain'],
    ['discovery.k8s.io/v1/EndpointSlice', 'dns1123-subdomain'],
    ['apps/v1/Deployment', 'dns1123-subdomain'],
    ['rbac.authorization.k8s.io/v1/ClusterRole', 'path-segment'],
    ['multicluster.isthmus.dev/v1alpha1/Link', 'dns1123-subdomain'],
  ])('%s → %s', (gvk, rule) => {
    expect(nameRuleFor(gvk)).toBe(rule);
  });
});

describe('kinds without rules here', () => {
  it.each(['v1/ServiceAccount', 'example.com/v1/Thing'])('%s → []', (gvk) => {
    expect(check(gvk, { metadata: meta, anything: 1 })).toEqual([]);
  });
});

describe('Secret', () => {
  it.each<[string, Record<string, unknown>]>([
    [
      'opaque data',
      { data: { kubeconfig: Buffer.from('apiVersion: v1').toString('base64'), 'a.b_c-D': '' } },
    ],
    ['stringData', { stringData: { token: 'abc' } }],
    [
      'a remote kubeconfig type',
      { type: 'mirror.linkerd.io/remote-kubeconfig', data: { kubeconfig: 'eA==' } },
    ],
    [
      'a service-account token with its annotation',
      {
        type: 'kubernetes.io/service-account-token',
        metadata: { ...meta, annotations: { 'kubernetes.io/service-account.name': 'sa' } },
      },
    ],
    ['tls', { type: 'kubernetes.io/tls', data: { 'tls.crt': 'eA==', 'tls.key': 'eA==' } }],
  ])('accepts %s', (_what, fields) => {
    expect(check('v1/Secret', { metadata: meta, ...fields })).toEqual([]);
  });

  it.each<[string, Record<string, unknown>, Partial<StatusCause>]>([
    [
      'a bad key',
      { data: { 'a/b': 'eA==' } },
      {
        field: 'data[a/b]',
        message: expect.stringContaining(
          "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
        ),
      },
    ],
    [
      'a key "."',
      { data: { '.': 'eA==' } },
      { field: 'data[.]', message: expect.stringContaining("must not be '.'") },
    ],
    [
      'a key starting with ".."',
      { data: { '..a': 'eA==' } },
      { field: 'data[..a]', message: expect.stringContaining("must not start with '..'") },
    ],
    ['data that is not base64', { data: { k: 'not base64!' } }, { field: 'data[k]' }],
    [
      'more than 1 MiB',
      { data: { k: Buffer.alloc(1024 * 1024 + 1).toString('base64') } },
      { field: 'data', reason: 'FieldValueTooLong' },
    ],
    [
      'a token without its annotation',
      { type: 'kubernetes.io/service-account-token' },
      { field: 'metadata.annotations[kubernetes.io/service-account.name]', reason: 'FieldValueRequired' },
    ],
    [
      'tls without a key',
      { type: 'kubernetes.io/tls', data: { 'tls.crt': 'eA==' } },
      { field: 'data[tls.key]', reason: 'FieldValueRequired' },
    ],
  ])('refuses %s', (_what, fields, want) => {
    expect(check('v1/Secret', { metadata: meta, ...fields })).toContainEqual(expect.objectContaining(want));
  });

  it('type is immutable', () => {
    expect(check('v1/Secret', { metadata: meta, type: 'a.io/b' }, { metadata: meta })).toContainEqual({
      reason: 'FieldValueInvalid',
      field: 'type',
      message: 'Invalid value: "a.io/b": field is immutable',
    });
  });

  it('immutable data stays put', () => {
    const old = { metadata: meta, immutable: true, data: { a: 'eA==' } };
    expect(check('v1/Secret', { ...old, data: { a: 'eQ==' } }, old)).toContainEqual(
      expect.objectContaining({ field: 'data', reason: 'FieldValueForbidden' }),
    );
    expect(check('v1/Secret', old, old)).toEqual([]);
  });
});

describe('ConfigMap', () => {
  it('accepts data and binaryData', () => {
    expect(
      check('v1/ConfigMap', {
        metadata: meta,
        data: { 'config.yaml': 'a: 1' },
        binaryData: { blob: 'AAE=' },
      }),
    ).toEqual([]);
  });
  it.each<[string, Record<string, unknown>, Partial<StatusCause>]>([
    ['a bad key', { data: { 'x y': '' } }, { field: 'data[x y]', reason: 'FieldValueInvalid' }],
    [
      'a key in both maps',
      { data: { a: '' }, binaryData: { a: 'AA==' } },
      { field: 'binaryData[a]', reason: 'FieldValueInvalid' },
    ],
    ['more than 1 MiB', { data: { a: 'x'.repeat(1024 * 1024 + 1) } }, { reason: 'FieldValueTooLong' }],
  ])('refuses %s', (_what, fields, want) => {
    expect(check('v1/ConfigMap', { metadata: meta, ...fields })).toContainEqual(
      expect.objectContaining(want),
    );
  });
});

describe('Namespace', () => {
  it('accepts the kubernetes finalizer', () => {
    expect(check('v1/Namespace', { metadata: { name: 'n' }, spec: { finalizers: ['kubernetes'] } })).toEqual(
      [],
    );
  });
  it('refuses an unqualified finalizer', () => {
    expect(check('v1/Namespace', { metadata: { name: 'n' }, spec: { finalizers: ['mine'] } })).toContainEqual(
      expect.objectContaining({ field: 'spec.finalizers[0]' }),
    );
  });
});

describe('Pod', () => {
  it('accepts a container with name and image', () => {
    expect(
      check('v1/Pod', {
        metadata: meta,
        spec: { containers: [{ name: 'app', image: 'nginx', ports: [{ containerPort: 80, name: 'http' }] }] },
      }),
    ).toEqual([]);
  });
  it.each<[string, Record<string, unknown>, Partial<StatusCause>]>([
    ['no containers', { containers: [] }, { field: 'spec.containers', reason: 'FieldValueRequired' }],
    [
      'no image',
      { containers: [{ name: 'a' }] },
      { field: 'spec.containers[0].image', reason: 'FieldValueRequired' },
    ],
    [
      'no name',
      { containers: [{ image: 'a' }] },
      { field: 'spec.containers[0].name', reason: 'FieldValueRequired' },
    ],
    [
      'duplicate names',
      {
        containers: [
          { name: 'a', image: 'a' },
          { name: 'a', image: 'b' },
        ],
      },
      { field: 'spec.containers[1].name', reason: 'FieldValueDuplicate' },
    ],
    [
      'containerPort 0',
      { containers: [{ name: 'a', image: 'a', ports: [{ containerPort: 0 }] }] },
      { field: 'spec.containers[0].ports[0].containerPort' },
    ],
  ])('refuses %s', (_what, spec, want) => {
    expect(check('v1/Pod', { metadata: meta, spec })).toContainEqual(expect.objectContaining(want));
  });
});

describe('Deployment', () => {
  const dep = (spec: Record<string, unknown>) => ({
    metadata: meta,
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'a', image: 'a' }] } },
      ...spec,
    },
  });
  it('accepts a matching selector', () => {
    expect(check('apps/v1/Deployment', dep({}))).toEqual([]);
  });
  it.each<[string, Record<string, unknown>, Partial<StatusCause>]>([
    [
      'negative replicas',
      { replicas: -1 },
      { field: 'spec.replicas', message: 'Invalid value: -1: must be greater than or equal to 0' },
    ],
    ['no selector', { selector: undefined }, { field: 'spec.selector', reason: 'FieldValueRequired' }],
    [
      'an empty selector',
      { selector: {} },
      {
        field: 'spec.selector',
        message: expect.stringContaining('empty selector is invalid for deployment'),
      },
    ],
    [
      'a selector that misses the template',
      { selector: { matchLabels: { app: 'db' } } },
      {
        field: 'spec.template.metadata.labels',
        message: expect.stringContaining('`selector` does not match template `labels`'),
      },
    ],
  ])('refuses %s', (_what, spec, want) => {
    expect(check('apps/v1/Deployment', dep(spec))).toContainEqual(expect.objectContaining(want));
  });
  it('selector is immutable', () => {
    const old = dep({});
    const next = dep({
      selector: { matchLabels: { app: 'web', v: '2' } },
      template: {
        metadata: { labels: { app: 'web', v: '2' } },
        spec: { containers: [{ name: 'a', image: 'a' }] },
      },
    });
    expect(check('apps/v1/Deployment', next, old)).toContainEqual(
      expect.objectContaining({
        field: 'spec.selector',
        message: expect.stringContaining('field is immutable'),
      }),
    );
  });
});

describe('PodDisruptionBudget', () => {
  const PDB = 'policy/v1/PodDisruptionBudget';
  const pdb = (spec: Record<string, unknown>) => ({
    metadata: meta,
    spec: { selector: { matchLabels: { app: 'web' } }, ...spec },
  });
  it.each([{ maxUnavailable: 1 }, { minAvailable: '50%' }, { minAvailable: 0 }, { maxUnavailable: '100%' }])(
    'accepts %j',
    (spec) => {
      expect(check(PDB, pdb(spec))).toEqual([]);
    },
  );
  it.each<[string, Record<string, unknown>, Partial<StatusCause>]>([
    [
      'both minAvailable and maxUnavailable',
      { minAvailable: 1, maxUnavailable: 1 },
      {
        field: 'spec',
        message: expect.stringContaining('minAvailable and maxUnavailable cannot be both set'),
      },
    ],
    [
      'a negative number',
      { maxUnavailable: -1 },
      { field: 'spec.maxUnavailable', message: 'Invalid value: -1: must be greater than or equal to 0' },
    ],
    [
      'a string that is not a percent',
      { minAvailable: 'half' },
      { field: 'spec.minAvailable', message: expect.stringContaining('a valid percent string must be') },
    ],
    [
      'over 100%',
      { minAvailable: '150%' },
      { field: 'spec.minAvailable', message: 'Invalid value: "150%": must not be greater than 100%' },
    ],
    [
      'an unknown eviction policy',
      { maxUnavailable: 1, unhealthyPodEvictionPolicy: 'Sometimes' },
      { field: 'spec.unhealthyPodEvictionPolicy', reason: 'FieldValueNotSupported' },
    ],
    [
      'In without values',
      { maxUnavailable: 1, selector: { matchExpressions: [{ key: 'app', operator: 'In' }] } },
      { field: 'spec.selector.matchExpressions[0].values', reason: 'FieldValueRequired' },
    ],
  ])('refuses %s', (_what, spec, want) => {
    expect(check(PDB, pdb(spec))).toContainEqual(expect.objectContaining(want));
  });
});

describe('Lease', () => {
  it('accepts a held lease', () => {
    expect(
      check('coordination.k8s.io/v1/Lease', {
        metadata: meta,
        spec: {
          holderIdentity: 'c-1',
          leaseDurationSeconds: 15,
          renewTime: '2024-01-01T00:00:00.000000Z',
          leaseTransitions: 0,
        },
      }),
    ).toEqual([]);
  });
  it.each<[string, Record<string, unknown>, string]>([
    ['zero duration', { leaseDurationSeconds: 0 }, 'spec.leaseDurationSeconds'],
    ['negative transitions', { leaseTransitions: -1 }, 'spec.leaseTransitions'],
    ['a non-time renewTime', { renewTime: 'yesterday' }, 'spec.renewTime'],
    ['a numeric holder', { holderIdentity: 3 }, 'spec.holderIdentity'],
  ])('refuses %s', (_what, spec, field) => {
    expect(check('coordination.k8s.io/v1/Lease', { metadata: meta, spec })).toContainEqual(
      expect.objectContaining({ field }),
    );
  });
});

describe('Event', () => {
  it('requires involvedObject in the same namespace', () => {
    expect(
      check('v1/Event', { metadata: meta, involvedObject: { kind: 'Link', namespace: 'n', name: 'w' } }),
    ).toEqual([]);
    expect(check('v1/Event', { metadata: meta })).toEqual([
      { reason: 'FieldValueRequired', field: 'involvedObject', message: 'Required value' },
    ]);
    expect(check('v1/Event', { metadata: meta, involvedObject: { namespace: 'other' } })).toContainEqual(
      expect.objectContaining({ field: 'involvedObject.namespace' }),
    );
  });

  it('reports a cluster-scoped object only from "default" (legacyValidateEvent)', () => {
    const node = { kind: 'Namespace', name: 'w' };
    expect(
      check('v1/Event', { metadata: { name: 'e', namespace: 'default' }, involvedObject: node }),
    ).toEqual([]);
    expect(check('v1/Event', { metadata: { name: 'e', namespace: 'n' }, involvedObject: node })).toEqual([
      {
        reason: 'FieldValueInvalid',
        field: 'involvedObject.namespace',
        message: 'Invalid value: "": does not match event.namespace',
      },
    ]);
  });
});

describe('RBAC', () => {
  const R = 'rbac.authorization.k8s.io/v1';
  it('accepts an ordinary Role and ClusterRole', () => {
    expect(
      check(`${R}/Role`, {
        metadata: meta,
        rules: [{ apiGroups: [''], resources: ['services'], verbs: ['get', 'list', 'watch'] }],
      }),
    ).toEqual([]);
    expect(
      check(`${R}/ClusterRole`, {
        metadata: { name: 'r' },
        rules: [{ nonResourceURLs: ['/healthz'], verbs: ['get'] }],
      }),
    ).toEqual([]);
  });
  it.each<[string, string, Record<string, unknown>, string]>([
    ['no verbs', 'Role', { apiGroups: [''], resources: ['pods'], verbs: [] }, 'rules[0].verbs'],
    ['no apiGroups', 'Role', { resources: ['pods'], verbs: ['get'] }, 'rules[0].apiGroups'],
    ['no resources', 'ClusterRole', { apiGroups: [''], verbs: ['get'] }, 'rules[0].resources'],
    [
      'non-resource URLs in a Role',
      'Role',
      { nonResourceURLs: ['/x'], verbs: ['get'] },
      'rules[0].nonResourceURLs',
    ],
  ])('refuses %s', (_what, kind, rule, field) => {
    expect(check(`${R}/${kind}`, { metadata: meta, rules: [rule] })).toContainEqual(
      expect.objectContaining({ field }),
    );
  });

  const binding = (roleRef: unknown, subjects: unknown[] = []) => ({ metadata: meta, roleRef, subjects });
  const ref = { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'r' };
  it('accepts a RoleBinding to a ServiceAccount', () => {
    expect(
      check(`${R}/RoleBinding`, binding(ref, [{ kind: 'ServiceAccount', name: 'sa', namespace: 'n' }])),
    ).toEqual([]);
  });
  it.each<[string, string, unknown, unknown[], string]>([
    ['no roleRef', 'RoleBinding', undefined, [], 'roleRef'],
    ['a Role from a ClusterRoleBinding', 'ClusterRoleBinding', ref, [], 'roleRef.kind'],
    ['a bad subject kind', 'RoleBinding', ref, [{ kind: 'Robot', name: 'x' }], 'subjects[0].kind'],
    [
      'a ServiceAccount without namespace in a ClusterRoleBinding',
      'ClusterRoleBinding',
      { ...ref, kind: 'ClusterRole' },
      [{ kind: 'ServiceAccount', name: 'sa' }],
      'subjects[0].namespace',
    ],
  ])('refuses %s', (_what, kind, roleRef, subjects, field) => {
    expect(check(`${R}/${kind}`, binding(roleRef, subjects))).toContainEqual(
      expect.objectContaining({ field }),
    );
  });
  it('roleRef is immutable', () => {
    expect(check(`${R}/RoleBinding`, binding({ ...ref, name: 'other' }), binding(ref))).toContainEqual(
      expect.objectContaining({
        field: 'roleRef',
        message: expect.stringContaining('cannot change roleRef'),
      }),
    );
  });
});
