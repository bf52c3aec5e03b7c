import { describe, expect, it } from 'vitest';
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch, PatchError } from './patch.js';

function expectPatchError(fn: () => unknown, status: number, message?: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(PatchError);
  expect((caught as PatchError).status).toBe(status);
  if (message) expect((caught as PatchError).message).toContain(message);
}

describe('applyMergePatch (RFC 7386 appendix A)', () => {
  it.each<[unknown, unknown, unknown]>([
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [
      ['a', 'b'],
      ['c', 'd'],
      ['c', 'd'],
    ],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ])('%j + %j = %j', (target, patch, want) => {
    const before = JSON.stringify(target);
    expect(applyMergePatch(target, patch)).toEqual(want);
    expect(JSON.stringify(target)).toBe(before);
  });
});

describe('applyJsonPatch (RFC 6902 appendix A)', () => {
  it.each<[string, unknown, unknown[], unknown]>([
    [
      'add an object member',
      { foo: 'bar' },
      [{ op: 'add', path: '/baz', value: 'qux' }],
      { foo: 'bar', baz: 'qux' },
    ],
    [
      'add an array element',
      { foo: ['bar', 'baz'] },
      [{ op: 'add', path: '/foo/1', value: 'qux' }],
      { foo: ['bar', 'qux', 'baz'] },
    ],
    ['append with -', { foo: [1] }, [{ op: 'add', path: '/foo/-', value: 2 }], { foo: [1, 2] }],
    ['remove a member', { baz: 'qux', foo: 'bar' }, [{ op: 'remove', path: '/baz' }], { foo: 'bar' }],
    [
      'remove an element',
      { foo: ['bar', 'qux', 'baz'] },
      [{ op: 'remove', path: '/foo/1' }],
      { foo: ['bar', 'baz'] },
    ],
    [
      'replace a value',
      { baz: 'qux', foo: 'bar' },
      [{ op: 'replace', path: '/baz', value: 'boo' }],
      { baz: 'boo', foo: 'bar' },
    ],
    [
      'move a value',
      { foo: { bar: 'baz', waldo: 'fred' }, qux: { corge: 'grault' } },
      [{ op: 'move', from: '/foo/waldo', path: '/qux/thud' }],
      { foo: { bar: 'baz' }, qux: { corge: 'grault', thud: 'fred' } },
    ],
    [
      'move an element',
      { foo: ['all', 'grass', 'cows', 'eat'] },
      [{ op: 'move', from: '/foo/1', path: '/foo/3' }],
      { foo: ['all', 'cows', 'eat', 'grass'] },
    ],
    ['copy', { a: { b: 1 } }, [{ op: 'copy', from: '/a', path: '/c' }], { a: { b: 1 }, c: { b: 1 } }],
    [
      'test then add',
      { baz: 'qux', foo: ['a', 2, 'c'] },
      [
        { op: 'test', path: '/baz', value: 'qux' },
        { op: 'test', path: '/foo/1', value: 2 },
        { op: 'add', path: '/x', value: 1 },
      ],
      { baz: 'qux', foo: ['a', 2, 'c'], x: 1 },
    ],
    [
      'escaped keys ~0 ~1',
      { metadata: { labels: {} } },
      [
        { op: 'add', path: '/metadata/labels/mirror.linkerd.io~1exported', value: 'true' },
        { op: 'add', path: '/metadata/labels/a~0b', value: 'x' },
      ],
      { metadata: { labels: { 'mirror.linkerd.io/exported': 'true', 'a~b': 'x' } } },
    ],
    ['replace the root', { a: 1 }, [{ op: 'replace', path: '', value: { b: 2 } }], { b: 2 }],
    [
      'add a nested array',
      { foo: 'bar' },
      [{ op: 'add', path: '/child', value: { grandchild: {} } }],
      { foo: 'bar', child: { grandchild: {} } },
    ],
    [
      'test with object equality regardless of key order',
      { a: { x: 1, y: 2 } },
      [{ op: 'test', path: '/a', value: { y: 2, x: 1 } }],
      { a: { x: 1, y: 2 } },
    ],
  ])('%s', (_what, target, ops, want) => {
    expect(applyJsonPatch(target, ops)).toEqual(want);
  });

  it.each<[string, unknown, unknown, 400 | 422, string?]>([
    [
      'a failed test',
      { baz: 'qux' },
      [{ op: 'test', path: '/baz', value: 'bar' }],
      422,
      'testing value /baz failed',
    ],
    [
      'a missing parent on add',
      { foo: 'bar' },
      [{ op: 'add', path: '/baz/bat', value: 'qux' }],
      422,
      'doc is missing path',
    ],
    ['removing a missing member', { foo: 'bar' }, [{ op: 'remove', path: '/baz' }], 422],
    ['replacing a missing member', { foo: 'bar' }, [{ op: 'replace', path: '/baz', value: 1 }], 422],
    ['an index past the end', { foo: [1] }, [{ op: 'add', path: '/foo/5', value: 2 }], 422, 'invalid index'],
    ['an index with a leading zero', { foo: [1, 2] }, [{ op: 'remove', path: '/foo/01' }], 422],
    ['moving into its own child', { a: { b: {} } }, [{ op: 'move', from: '/a', path: '/a/b/c' }], 422],
    ['an unknown op', {}, [{ op: 'frobnicate', path: '/a' }], 400, 'Unexpected kind: frobnicate'],
    ['a missing value', {}, [{ op: 'add', path: '/a' }], 400],
    ['a missing path', {}, [{ op: 'add', value: 1 }], 400],
    ['a body that is not a list', {}, { op: 'add', path: '/a', value: 1 }, 400],
    ['a pointer without a leading slash', {}, [{ op: 'add', path: 'a', value: 1 }], 400],
  ])('refuses %s', (_what, target, ops, status, message) => {
    expectPatchError(() => applyJsonPatch(target, ops), status, message);
  });

  it('applies nothing when a later operation fails', () => {
    const target = { a: 1 };
    expectPatchError(
      () =>
        applyJsonPatch(target, [
          { op: 'replace', path: '/a', value: 2 },
          { op: 'test', path: '/a', value: 3 },
        ]),
      422,
    );
    expect(target).toEqual({ a: 1 });
  });
});

const svc = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'podinfo', namespace: 'test', labels: { app: 'podinfo' }, finalizers: ['a.io/x'] },
  spec: {
    type: 'ClusterIP',
    clusterIP: '10.96.0.10',
    selector: { app: 'podinfo' },
    ports: [
      { name: 'http', port: 9898, protocol: 'TCP', targetPort: 9898 },
      { name: 'grpc', port: 9999, protocol: 'TCP', targetPort: 9999 },
    ],
  },
};

const deployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'test' },
  spec: {
    replicas: 1,
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: {
        containers: [
          {
            name: 'app',
            image: 'app:1',
            env: [
              { name: 'A', value: '1' },
              { name: 'B', value: '2' },
            ],
            ports: [{ containerPort: 80 }],
          },
          { name: 'sidecar', image: 'side:1' },
        ],
        volumes: [{ name: 'data', emptyDir: {} }],
      },
    },
  },
};

describe('applyStrategicMergePatch', () => {
  // biome-ignore lint/suspicious/noExplicitAny: assertions walk arbitrary patched JSON
  it.each<[string, string, unknown, unknown, (r: any) => void]>([
    [
      'kubectl label adds and removes labels',
      'v1/Service',
      svc,
      { metadata: { labels: { tier: 'web', app: null } } },
      (r) => expect(r.metadata.labels).toEqual({ tier: 'web' }),
    ],
    [
      'kubectl annotate on an object without annotations',
      'v1/Service',
      svc,
      { metadata: { annotations: { a: 'b' } } },
      (r) => expect(r.metadata.annotations).toEqual({ a: 'b' }),
    ],
    [
      'Service ports merge by port',
      'v1/Service',
      svc,
      { spec: { ports: [{ port: 9898, targetPort: 8080 }] } },
      (r) => {
        expect(r.spec.ports).toEqual([
          { name: 'http', port: 9898, protocol: 'TCP', targetPort: 8080 },
          { name: 'grpc', port: 9999, protocol: 'TCP', targetPort: 9999 },
        ]);
      },
    ],
    [
      'a new Service port goes before the server-only ones (mergeSortedSlice)',
      'v1/Service',
      svc,
      { spec: { ports: [{ name: 'admin', port: 4191 }] } },
      (r) => {
        expect(r.spec.ports.map((p: { port: number }) => p.port)).toEqual([4191, 9898, 9999]);
      },
    ],
    [
      '$patch: delete removes one port',
      'v1/Service',
      svc,
      { spec: { ports: [{ port: 9999, $patch: 'delete' }] } },
      (r) => {
        expect(r.spec.ports.map((p: { port: number }) => p.port)).toEqual([9898]);
      },
    ],
    [
      '$patch: replace in a list replaces it',
      'v1/Service',
      svc,
      { spec: { ports: [{ $patch: 'replace' }, { name: 'x', port: 1 }] } },
      (r) => {
        expect(r.spec.ports).toEqual([{ name: 'x', port: 1 }]);
      },
    ],
    [
      '$patch: replace on a map replaces it',
      'v1/Service',
      svc,
      { spec: { selector: { $patch: 'replace', role: 'db' } } },
      (r) => {
        expect(r.spec.selector).toEqual({ role: 'db' });
      },
    ],
    [
      '$patch: delete on a map empties it',
      'v1/Service',
      svc,
      { spec: { selector: { $patch: 'delete' } } },
      (r) => expect(r.spec.selector).toEqual({}),
    ],
    [
      '$setElementOrder orders the merged list',
      'v1/Service',
      svc,
      {
        spec: {
          '$setElementOrder/ports': [{ port: 9999 }, { port: 9898 }],
          ports: [{ port: 9999, name: 'grpc2' }],
        },
      },
      (r) => {
        expect(r.spec.ports.map((p: { name: string }) => p.name)).toEqual(['grpc2', 'http']);
      },
    ],
    [
      'finalizers merge as a set',
      'v1/Service',
      svc,
      { metadata: { finalizers: ['a.io/x', 'b.io/y'] } },
      (r) => expect(r.metadata.finalizers).toEqual(['a.io/x', 'b.io/y']),
    ],
    [
      '$deleteFromPrimitiveList removes a finalizer',
      'v1/Service',
      svc,
      { metadata: { '$deleteFromPrimitiveList/finalizers': ['a.io/x'] } },
      (r) => expect(r.metadata.finalizers).toEqual([]),
    ],
    [
      'ownerReferences merge by uid',
      'v1/Service',
      { ...svc, metadata: { ...svc.metadata, ownerReferences: [{ uid: '1', name: 'a' }] } },
      { metadata: { ownerReferences: [{ uid: '2', name: 'b' }] } },
      (r) => {
        expect(r.metadata.ownerReferences.map((o: { uid: string }) => o.uid).sort()).toEqual(['1', '2']);
      },
    ],
    [
      'containers merge by name, env by name',
      'apps/v1/Deployment',
      deployment,
      {
        spec: {
          template: {
            spec: { containers: [{ name: 'app', image: 'app:2', env: [{ name: 'B', value: '3' }] }] },
          },
        },
      },
      (r) => {
        const [app, side] = r.spec.template.spec.containers;
        expect(app.image).toBe('app:2');
        expect(app.env).toEqual([
          { name: 'A', value: '1' },
          { name: 'B', value: '3' },
        ]);
        expect(app.ports).toEqual([{ containerPort: 80 }]);
        expect(side).toEqual({ name: 'sidecar', image: 'side:1' });
      },
    ],
    [
      '$retainKeys clears the strategy fields not kept',
      'apps/v1/Deployment',
      deployment,
      { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate' } } },
      (r) => {
        expect(r.spec.strategy).toEqual({ type: 'Recreate' });
      },
    ],
    [
      'EndpointSlice endpoints are atomic',
      'discovery.k8s.io/v1/EndpointSlice',
      { addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.1'] }, { addresses: ['10.0.0.2'] }] },
      { endpoints: [{ addresses: ['10.0.0.3'] }] },
      (r) => {
        expect(r.endpoints).toEqual([{ addresses: ['10.0.0.3'] }]);
      },
    ],
    [
      'Secret data merges',
      'v1/Secret',
      { data: { a: 'YQ==', b: 'Yg==' } },
      { data: { b: null, c: 'Yw==' } },
      (r) => expect(r.data).toEqual({ a: 'YQ==', c: 'Yw==' }),
    ],
    [
      'directives in new subtrees are dropped',
      'v1/ConfigMap',
      {},
      { data: { $patch: 'merge', a: 'b' } },
      (r) => expect(r.data).toEqual({ a: 'b' }),
    ],
    [
      'a null for an absent field is ignored',
      'v1/ConfigMap',
      { data: {} },
      { binaryData: null },
      (r) => expect(r).toEqual({ data: {} }),
    ],
  ])('%s', (_what, gvk, target, patch, check) => {
    const before = JSON.stringify(target);
    check(applyStrategicMergePatch(target, patch, gvk));
    expect(JSON.stringify(target)).toBe(before);
  });

  it('kubectl apply (client-side) three-way patch shape applies', () => {
    const patch = {
      metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' } },
      spec: {
        '$setElementOrder/ports': [{ port: 9898 }],
        ports: [
          { port: 9898, targetPort: 'http' },
          { port: 9999, $patch: 'delete' },
        ],
      },
    };
    const r = applyStrategicMergePatch(svc, patch, 'v1/Service') as typeof svc;
    expect(r.spec.ports).toEqual([{ name: 'http', port: 9898, protocol: 'TCP', targetPort: 'http' }]);
    expect(r.spec.clusterIP).toBe('10.96.0.10');
  });

  it.each<[string, unknown, string, 400 | 415 | 422, string?]>([
    [
      'a custom resource',
      { spec: {} },
      'multicluster.isthmus.dev/v1alpha1/Link',
      415,
      'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml',
    ],
    ['a body that is not an object', ['x'], 'v1/Service', 400],
    [
      'a merge-list item without its key',
      { spec: { ports: [{ name: 'x' }] } },
      'v1/Service',
      422,
      'does not contain declared merge key: port',
    ],
    [
      'an unknown directive',
      { spec: { selector: { $patch: 'frob' } } },
      'v1/Service',
      422,
      'unknown patch type: frob',
    ],
    [
      '$retainKeys missing a patched key',
      { spec: { strategy: { $retainKeys: ['type'], rollingUpdate: {} } } },
      'apps/v1/Deployment',
      400,
      'invalid patch format of retainKeys',
    ],
  ])('refuses %s', (_what, patch, gvk, status, message) => {
    const target = gvk.startsWith('apps') ? deployment : svc;
    expectPatchError(() => applyStrategicMergePatch(target, patch, gvk), status, message);
  });
});
