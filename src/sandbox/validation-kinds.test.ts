import { describe, expect, it } from 'vitest';
import type { StatusCause } from '../kube/validation/field-errors.js';
import { applyDefaults } from './kind-defaults.js';
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
      'a minReadySeconds the default progressDeadlineSeconds does not exceed',
      { minReadySeconds: 600 },
      {
        field: 'spec.progressDeadlineSeconds',
        message: 'Invalid value: 600: must be greater than minReadySeconds',
      },
    ],
    [
      'a progressDeadlineSeconds not above minReadySeconds',
      { minReadySeconds: 30, progressDeadlineSeconds: 30 },
      {
        field: 'spec.progressDeadlineSeconds',
        message: 'Invalid value: 30: must be greater than minReadySeconds',
      },
    ],
    [
      'a negative minReadySeconds',
      { minReadySeconds: -1 },
      { field: 'spec.minReadySeconds', message: 'Invalid value: -1: must be greater than or equal to 0' },
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

describe('NetworkPolicy', () => {
  const NP = 'networking.k8s.io/v1/NetworkPolicy';
  const web = { matchLabels: { app: 'web' } };
  const policy = (spec: Record<string, unknown>) => ({ metadata: meta, spec: { podSelector: web, ...spec } });
  /** One ingress rule with these ports and peers. */
  const ingress = (rule: Record<string, unknown>) => policy({ ingress: [rule] });

  it.each<[string, Record<string, unknown>]>([
    ['an empty podSelector and no rules', { podSelector: {} }],
    ['no podSelector at all (it decodes to {})', { podSelector: undefined }],
    [
      'ingress and egress with every kind of peer and port',
      {
        policyTypes: ['Ingress', 'Egress'],
        ingress: [
          {
            from: [
              { podSelector: {} },
              { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
              { podSelector: web, namespaceSelector: {} },
              { ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16', '10.2.3.4/32'] } },
              { ipBlock: { cidr: '2001:db8::/32', except: ['2001:db8:1::/48'] } },
            ],
            ports: [
              { protocol: 'TCP', port: 4143 },
              { protocol: 'UDP', port: 'dns' },
              { protocol: 'SCTP', port: 20000, endPort: 29999 },
              { port: 1, endPort: 1 },
              {},
            ],
          },
        ],
        egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }], ports: [{ port: 65535 }] }],
      },
    ],
    // policyTypes is +listType=atomic and ValidateNetworkPolicySpec only counts and checks values.
    ['a repeated policy type', { policyTypes: ['Egress', 'Egress'] }],
  ])('accepts %s', (_what, spec) => {
    expect(check(NP, policy(spec))).toEqual([]);
  });

  it.each<[string, ReturnType<typeof policy>, StatusCause]>([
    [
      'a podSelector with a bad operator',
      policy({ podSelector: { matchExpressions: [{ key: 'app', operator: 'Equals', values: ['a'] }] } }),
      {
        reason: 'FieldValueInvalid',
        field: 'spec.podSelector.matchExpressions[0].operator',
        message: 'Invalid value: "Equals": not a valid selector operator',
      },
    ],
    [
      'a podSelector expression with a bad key',
      policy({ podSelector: { matchExpressions: [{ key: '-app', operator: 'Exists' }] } }),
      {
        reason: 'FieldValueInvalid',
        field: 'spec.podSelector.matchExpressions[0].key',
        message:
          "Invalid value: \"-app\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
      },
    ],
    [
      'a podSelector expression with a bad value',
      policy({ podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['ok', 'a/b'] }] } }),
      {
        reason: 'FieldValueInvalid',
        field: 'spec.podSelector.matchExpressions[0].values[1]',
        message: expect.stringContaining('Invalid value: "a/b": a valid label must be an empty string'),
      },
    ],
    [
      'a bad matchLabels value in a peer',
      ingress({ from: [{ namespaceSelector: { matchLabels: { team: 'a b' } } }] }),
      {
        reason: 'FieldValueInvalid',
        field: 'spec.ingress[0].from[0].namespaceSelector.matchLabels',
        message: expect.stringContaining('Invalid value: "a b": a valid label must be an empty string'),
      },
    ],
    [
      'an unknown policy type',
      policy({ policyTypes: ['Ingress', 'Both'] }),
      {
        reason: 'FieldValueNotSupported',
        field: 'spec.policyTypes[1]',
        message: 'Unsupported value: "Both": supported values: "Ingress", "Egress"',
      },
    ],
    [
      'three policy types',
      policy({ policyTypes: ['Ingress', 'Egress', 'Ingress'] }),
      {
        reason: 'FieldValueInvalid',
        field: 'spec.policyTypes',
        message: 'Invalid value: ["Ingress","Egress","Ingress"]: may not specify more than two policyTypes',
      },
    ],
    [
      'an unknown protocol',
      ingress({ ports: [{ protocol: 'ICMP', port: 80 }] }),
      {
        reason: 'FieldValueNotSupported',
        field: 'spec.ingress[0].ports[0].protocol',
        message: 'Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"',
      },
    ],
    [
      'port 0',
      ingress({ ports: [{ port: 0 }] }),
      {
        reason: 'FieldValueInvalid',
        field: 'spec.ingress[0].ports[0].port',
        message: 'Invalid value: 0: must be between 1 and 65535, inclusive',
      },
    ],
    [
      'port 65536 (egress)',
      policy({ egress: [{ ports: [{ port: 65536 }] }] }),
      {
        reason: 'FieldValueInvalid',
        field: 'spec.egress[0].ports[0].port',
        message: 'Invalid value: 65536: must be between 1 and 65535, inclusive',
      },
    ],
    [
      'a port name that is no IANA_SVC_NAME',
      ingress({ ports: [{ port: 'http--alt' }] }),
      {
        reason: 'FieldValueInvalid',
        field: 'spec.ingress[0].ports[0].port',
        message: 'Invalid value: "http--alt": must not contain consecutive hyphens',
      },
    ],
    [
      'endPort with a named port',
      ingress({ ports: [{ port: 'http', endPort: 90 }] }),
      {
        reason: 'FieldValueInvalid',
        field: 'spec.ingress[0].ports[0].endPort',
        message: 'Invalid value: 90: may not be specified when `port` is non-numeric',
      },
    ],
    [
      'endPort without port',
      ingress({ ports: [{ endPort: 90 }] }),
      {
        reason: 'FieldValueInvalid',
        field: 'spec.ingress[0].ports[0].endPort',
        message: 'Invalid value: 90: may not be specified when `port` is not specified',
      },
    ],
    [
      'endPort below port',
      ingress({ ports: [{ port: 90, endPort: 80 }] }),
      {
        reason: 'FieldValueInvalid',
        field: 'spec.ingress[0].ports[0].endPort',
        message: 'Invalid value: 80: must be greater than or equal to `port`',
      },
    ],
    [
      'endPort above 65535',
      ingress({ ports: [{ port: 90, endPort: 65536 }] }),
      {
        reason: 'FieldValueInvalid',
        field: 'spec.ingress[0].ports[0].endPort',
        message: 'Invalid value: 65536: must be between 1 and 65535, inclusive',
      },
    ],
    [
      'an empty peer',
      ingress({ from: [{ podSelector: web }, {}] }),
      {
        reason: 'FieldValueRequired',
        field: 'spec.ingress[0].from[1]',
        message: 'Required value: must specify a peer',
      },
    ],
    [
      'an ipBlock with a selector',
      policy({ egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' }, namespaceSelector: {} }] }] }),
      {
        reason: 'FieldValueForbidden',
        field: 'spec.egress[0].to[0]',
        message: 'Forbidden: may not specify both ipBlock and another peer',
      },
    ],
    [
      'an ipBlock without cidr',
      ingress({ from: [{ ipBlock: { except: ['10.0.0.0/8'] } }] }),
      {
        reason: 'FieldValueRequired',
        field: 'spec.ingress[0].from[0].ipBlock.cidr',
        message: 'Required value',
      },
    ],
    [
      'a cidr that is no CIDR',
      ingress({ from: [{ ipBlock: { cidr: '10.0.0.1' } }] }),
      {
        reason: 'FieldValueInvalid',
        field: 'spec.ingress[0].from[0].ipBlock.cidr',
        message: 'Invalid value: "10.0.0.1": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
      },
    ],
    [
      'an except that is no CIDR',
      ingress({ from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.0.0.0/33'] } }] }),
      {
        reason: 'FieldValueInvalid',
        field: 'spec.ingress[0].from[0].ipBlock.except[0]',
        message:
          'Invalid value: "10.0.0.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
      },
    ],
    [
      'an except outside cidr',
      ingress({ from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.0.0.0/16', '192.168.0.0/16'] } }] }),
      {
        reason: 'FieldValueInvalid',
        field: 'spec.ingress[0].from[0].ipBlock.except[1]',
        message: 'Invalid value: "192.168.0.0/16": must be a strict subset of `cidr`',
      },
    ],
    [
      'an except equal to cidr',
      ingress({ from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.0.0.0/8'] } }] }),
      {
        reason: 'FieldValueInvalid',
        field: 'spec.ingress[0].from[0].ipBlock.except[0]',
        message: 'Invalid value: "10.0.0.0/8": must be a strict subset of `cidr`',
      },
    ],
    [
      'an except of the other family',
      ingress({ from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['2001:db8::/64'] } }] }),
      {
        reason: 'FieldValueInvalid',
        field: 'spec.ingress[0].from[0].ipBlock.except[0]',
        message: 'Invalid value: "2001:db8::/64": must be a strict subset of `cidr`',
      },
    ],
  ])('refuses %s', (_what, obj, want) => {
    expect(check(NP, obj)).toEqual([want]);
  });

  it('defaults policyTypes and port protocols as SetDefaults_NetworkPolicy does', () => {
    const defaulted = (spec: Record<string, unknown>) => {
      const obj = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { ...meta }, spec };
      applyDefaults(NP, obj);
      return obj.spec;
    };
    expect(defaulted({ ingress: [{ ports: [{ port: 80 }, { protocol: 'UDP', port: 53 }] }] })).toEqual({
      podSelector: {},
      policyTypes: ['Ingress'],
      ingress: [
        {
          ports: [
            { protocol: 'TCP', port: 80 },
            { protocol: 'UDP', port: 53 },
          ],
        },
      ],
    });
    expect(defaulted({ podSelector: web, egress: [{ ports: [{ port: 443 }] }] })).toEqual({
      podSelector: web,
      policyTypes: ['Ingress', 'Egress'],
      egress: [{ ports: [{ protocol: 'TCP', port: 443 }] }],
    });
    // An empty egress list adds no Egress; policyTypes given are kept as they are.
    expect(defaulted({ podSelector: {}, egress: [] }).policyTypes).toEqual(['Ingress']);
    expect(defaulted({ podSelector: {}, policyTypes: ['Egress'] }).policyTypes).toEqual(['Egress']);
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
