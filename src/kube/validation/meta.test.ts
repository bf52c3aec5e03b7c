import { describe, expect, it } from 'vitest';
import { validateName, validateObjectMeta } from '../../sandbox/validation.js';
import { isQualifiedName, isValidLabelValue } from './strings.js';

const DNS1123_LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

describe('validateName', () => {
  // Cases from apimachinery TestIsDNS1123Label / TestIsDNS1123Subdomain / TestIsDNS1035Label.
  it.each([
    ['a', 'dns1123-label'],
    ['ab', 'dns1123-label'],
    ['a-b', 'dns1123-label'],
    ['0', 'dns1123-label'],
    ['1-2', 'dns1123-label'],
    ['a'.repeat(63), 'dns1123-label'],
    ['a.b', 'dns1123-subdomain'],
    ['11.22.33', 'dns1123-subdomain'],
    ['a--1.b', 'dns1123-subdomain'],
    [`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`, 'dns1123-subdomain'],
    ['a', 'dns1035-label'],
    ['a-1', 'dns1035-label'],
    ['podinfo-west', 'dns1035-label'],
    ['system:controller', 'path-segment'],
  ] as const)('%j is a valid %s', (name, rule) => {
    expect(validateName(name, rule)).toEqual([]);
  });

  it.each([
    ['A', 'dns1123-label'],
    ['-a', 'dns1123-label'],
    ['a-', 'dns1123-label'],
    ['a.b', 'dns1123-label'],
    ['a_b', 'dns1123-label'],
    ['a'.repeat(64), 'dns1123-label'],
    ['a..b', 'dns1123-subdomain'],
    ['.a', 'dns1123-subdomain'],
    ['A.b', 'dns1123-subdomain'],
    ['a'.repeat(254), 'dns1123-subdomain'],
    ['1a', 'dns1035-label'],
    ['0', 'dns1035-label'],
    ['a/b', 'path-segment'],
    ['..', 'path-segment'],
  ] as const)('%j is not a valid %s', (name, rule) => {
    const causes = validateName(name, rule);
    expect(causes.length).toBeGreaterThan(0);
    expect(causes.every((c) => c.reason === 'FieldValueInvalid' && c.field === 'metadata.name')).toBe(true);
  });

  it('words a bad label name exactly as kube-apiserver', () => {
    expect(validateName('Web', 'dns1123-label')).toEqual([
      {
        reason: 'FieldValueInvalid',
        field: 'metadata.name',
        message: `Invalid value: "Web": ${DNS1123_LABEL_MSG}`,
      },
    ]);
  });

  it('requires a name', () => {
    expect(validateName('', 'dns1123-subdomain')).toEqual([
      {
        reason: 'FieldValueRequired',
        field: 'metadata.name',
        message: 'Required value: name or generateName is required',
      },
    ]);
  });
});

describe('qualified names and label values', () => {
  it.each([
    'simple',
    'now-with-dashes',
    '1-starts-with-num',
    '1234',
    'simple/simple',
    'now-with-dashes/simple',
    'now-with-dashes/now-with-dashes',
    'now.with.dots/simple',
    'now-with.dashes-and.dots/simple',
    '1-num.2-num/3-num',
    '1234/5678',
    '1.2.3.4/5678',
    'Uppercase_Is_OK_123',
    'example.com/Uppercase_Is_OK_123',
    'requests.storage-foo',
    `${'a'.repeat(63)}`,
    `${'a'.repeat(253)}/${'b'.repeat(63)}`,
  ])('qualified name %j is valid', (v) => expect(isQualifiedName(v)).toEqual([]));
  it.each([
    'nospecialchars%^=@',
    'cantendwithadash-',
    '-cantstartwithadash-',
    'only/one/slash',
    'Example.com/abc',
    'example_com/abc',
    'example.com/',
    '/simple',
    `${'a'.repeat(64)}`,
    `${'a'.repeat(254)}/abc`,
  ])('qualified name %j is invalid', (v) => expect(isQualifiedName(v).length).toBeGreaterThan(0));
  it.each([
    'simple',
    'now-with-dashes',
    '1-starts-with-num',
    'end-with-num-1',
    '1234',
    '',
    'a'.repeat(63),
    'Uppercase_Is_OK_123',
  ])('label value %j is valid', (v) => expect(isValidLabelValue(v)).toEqual([]));
  it.each([
    'nospecialchars%^=@',
    'Tama-nui-te-rā.is.Māori.sun',
    '\\backslashes\\are\\bad',
    '-starts-with-dash',
    'ends-with-dash-',
    '.starts.with.dot',
    'ends.with.dot.',
    'a/b',
    'a'.repeat(64),
  ])('label value %j is invalid', (v) => expect(isValidLabelValue(v).length).toBeGreaterThan(0));
});

describe('validateObjectMeta', () => {
  const ns = { namespaced: true, nameRule: 'dns1123-subdomain' } as const;
  it('accepts an ordinary namespaced object', () => {
    expect(
      validateObjectMeta(
        {
          name: 'podinfo-west',
          namespace: 'test',
          labels: { 'mirror.linkerd.io/mirrored-service': 'true', app: '' },
          annotations: {
            'mirror.linkerd.io/remote-svc-fq-name': 'podinfo.test.svc.cluster.local',
            'A/b': 'x',
          },
          finalizers: ['multicluster.isthmus.dev/mirrors', 'kubernetes'],
          ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: 'x', uid: 'u1', controller: true }],
        },
        ns,
      ),
    ).toEqual([]);
  });

  it.each<
    [string, Record<string, unknown>, { namespaced: boolean; generateNameAllowed?: boolean }, string, string]
  >([
    ['missing namespace', { name: 'a' }, { namespaced: true }, 'metadata.namespace', 'Required value'],
    [
      'namespace on a cluster object',
      { name: 'a', namespace: 'x' },
      { namespaced: false },
      'metadata.namespace',
      'Forbidden: not allowed on this type',
    ],
    [
      'bad namespace',
      { name: 'a', namespace: 'X_y' },
      { namespaced: true },
      'metadata.namespace',
      'Invalid value: "X_y"',
    ],
    [
      'missing name',
      { namespace: 'n' },
      { namespaced: true },
      'metadata.name',
      'Required value: name or generateName is required',
    ],
    [
      'label value with a slash',
      { name: 'a', namespace: 'n', labels: { k: 'mirror.isthmus.dev/x' } },
      { namespaced: true },
      'metadata.labels',
      'Invalid value: "mirror.isthmus.dev/x": a valid label must be an empty string',
    ],
    [
      'label value too long',
      { name: 'a', namespace: 'n', labels: { k: 'v'.repeat(64) } },
      { namespaced: true },
      'metadata.labels',
      'must be no more than 63 characters',
    ],
    [
      'bad label key',
      { name: 'a', namespace: 'n', labels: { 'a/b/c': 'v' } },
      { namespaced: true },
      'metadata.labels',
      'Invalid value: "a/b/c": a qualified name must consist',
    ],
    [
      'bad annotation key',
      { name: 'a', namespace: 'n', annotations: { '-x': 'v' } },
      { namespaced: true },
      'metadata.annotations',
      'Invalid value: "-x"',
    ],
    [
      'annotations too big',
      { name: 'a', namespace: 'n', annotations: { k: 'x'.repeat(256 * 1024) } },
      { namespaced: true },
      'metadata.annotations',
      'Too long: may not be more than 262144 bytes',
    ],
    [
      'unqualified finalizer',
      { name: 'a', namespace: 'n', finalizers: ['mine'] },
      { namespaced: true },
      'metadata.finalizers[0]',
      'name is neither a standard finalizer name nor is it fully qualified',
    ],
    [
      'owner reference without uid',
      { name: 'a', namespace: 'n', ownerReferences: [{ apiVersion: 'v1', kind: 'X', name: 'x' }] },
      { namespaced: true },
      'metadata.ownerReferences[0].uid',
      'uid must not be empty',
    ],
    [
      'bad generateName',
      { generateName: 'Bad-', namespace: 'n' },
      { namespaced: true, generateNameAllowed: true },
      'metadata.generateName',
      'Invalid value: "Bad-"',
    ],
  ])('rejects %s', (_what, meta, opts, field, message) => {
    const causes = validateObjectMeta(meta, { nameRule: 'dns1123-subdomain', ...opts });
    expect(causes).toContainEqual(
      expect.objectContaining({ field, message: expect.stringContaining(message) }),
    );
  });

  it('accepts generateName with a trailing dash when allowed', () => {
    expect(
      validateObjectMeta({ generateName: 'web-', namespace: 'n' }, { ...ns, generateNameAllowed: true }),
    ).toEqual([]);
  });
});

describe('finalizers of built-ins versus CRDs and custom resources', () => {
  const meta = (finalizers: string[]) => ({ name: 'x', namespace: 'ns', finalizers });
  it('built-in kinds accept only standard unqualified finalizers', () => {
    const causes = validateObjectMeta(meta(['customresourcecleanup.apiextensions.k8s.io']), {
      namespaced: true,
      nameRule: 'dns1123-subdomain',
    });
    expect(causes.map((c) => c.message).join()).toMatch(
      /neither a standard finalizer name nor is it fully qualified/,
    );
  });
  it('CRDs and custom resources accept any qualified name (apimachinery rule only)', () => {
    expect(
      validateObjectMeta(meta(['customresourcecleanup.apiextensions.k8s.io', 'example.com/x']), {
        namespaced: true,
        nameRule: 'dns1123-subdomain',
        standardFinalizers: false,
      }),
    ).toEqual([]);
  });
});
