/** Unit tests of the pure pieces: store log/compaction, RBAC rule matching, URL parsing, protobuf, tables. */
import { describe, expect, it } from 'vitest';
import { ApiError } from './api-status.js';
import { decodeProtobufObject } from './protobuf.js';
import { type ResourceAttributes, ruleAllows } from './rbac.js';
import { compareKubeVersions } from './registry.js';
import { parsePath, verbFor } from './request-info.js';
import { ObjectStore } from './store.js';
import { evalJsonPath, humanAge } from './table.js';

const obj = (name: string, data = '') => ({ metadata: { name, namespace: 'ns' }, data });

describe('ObjectStore', () => {
  it('stamps increasing resourceVersions and compacts beyond the window', () => {
    const s = new ObjectStore(2);
    const a = s.put('/configmaps', obj('a'));
    const b = s.put('/configmaps', obj('b'));
    expect(Number(b.metadata.resourceVersion)).toBe(Number(a.metadata.resourceVersion) + 1);
    expect(
      s.eventsSince('/configmaps', Number(a.metadata.resourceVersion)).map((e) => e.obj.metadata.name),
    ).toEqual(['b']);
    s.put('/configmaps', obj('c'));
    expect(() => s.eventsSince('/configmaps', Number(a.metadata.resourceVersion) - 1)).toThrow(ApiError);
  });

  it('rebuilds a past snapshot by undoing newer events', () => {
    const s = new ObjectStore(100);
    s.put('/configmaps', obj('a', '1'));
    const rv = s.currentRv();
    s.put('/configmaps', obj('a', '2'));
    s.put('/configmaps', obj('b'));
    s.remove('/configmaps', 'ns', 'a');
    expect(s.snapshotAt('/configmaps', rv).map((o) => [o.metadata.name, o.data])).toEqual([['a', '1']]);
    expect(s.list('/configmaps').map((o) => o.metadata.name)).toEqual(['b']);
  });

  it('delivers events written by listeners after the current one, in order', () => {
    const s = new ObjectStore(100);
    const seen: string[] = [];
    s.subscribe((ev) => {
      if (ev.obj.metadata.name === 'a' && ev.type === 'ADDED') s.put('/configmaps', obj('from-listener'));
    });
    s.subscribe((ev) => seen.push(ev.obj.metadata.name!));
    s.put('/configmaps', obj('a'));
    expect(seen).toEqual(['a', 'from-listener']);
  });
});

describe('RBAC rules', () => {
  const attrs = (over: Partial<ResourceAttributes> = {}): ResourceAttributes => ({
    verb: 'get',
    group: '',
    resource: 'services',
    subresource: undefined,
    namespace: 'default',
    name: 'web',
    ...over,
  });
  it.each([
    [{ verbs: ['get'], apiGroups: [''], resources: ['services'] }, attrs(), true],
    [{ verbs: ['get'], apiGroups: ['apps'], resources: ['services'] }, attrs(), false],
    [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }, attrs({ subresource: 'status' }), true],
    [
      { verbs: ['patch'], apiGroups: [''], resources: ['services'] },
      attrs({ verb: 'patch', subresource: 'status' }),
      false,
    ],
    [
      { verbs: ['patch'], apiGroups: [''], resources: ['services/status'] },
      attrs({ verb: 'patch', subresource: 'status' }),
      true,
    ],
    [
      { verbs: ['patch'], apiGroups: [''], resources: ['*/status'] },
      attrs({ verb: 'patch', subresource: 'status' }),
      true,
    ],
    [{ verbs: ['get'], apiGroups: [''], resources: ['services'], resourceNames: ['other'] }, attrs(), false],
    [
      { verbs: ['list'], apiGroups: [''], resources: ['services'], resourceNames: ['web'] },
      attrs({ verb: 'list', name: undefined }),
      false,
    ],
  ])('rule %j on %j → %s', (rule, a, want) => {
    expect(ruleAllows(rule, a)).toBe(want);
  });
});

describe('request paths', () => {
  it.each([
    [
      '/api/v1/namespaces/ns/services/web/status',
      { group: '', plural: 'services', namespace: 'ns', name: 'web', subresource: 'status' },
    ],
    ['/api/v1/namespaces/ns', { plural: 'namespaces', namespace: undefined, name: 'ns' }],
    ['/api/v1/namespaces/ns/status', { plural: 'namespaces', name: 'ns', subresource: 'status' }],
    ['/apis/apps/v1/deployments', { group: 'apps', plural: 'deployments', namespace: undefined }],
    ['/api/v1/watch/namespaces/ns/pods', { plural: 'pods', namespace: 'ns', watchPrefix: true }],
  ])('%s', (path, want) => {
    const p = parsePath(path);
    expect(p.type).toBe('resource');
    if (p.type === 'resource') expect(p.info).toMatchObject(want);
  });

  it('maps methods to verbs', () => {
    const p = parsePath('/api/v1/namespaces/ns/pods');
    if (p.type !== 'resource') throw new Error('expected resource');
    expect(verbFor('GET', p.info, false)).toBe('list');
    expect(verbFor('GET', p.info, true)).toBe('watch');
    expect(verbFor('DELETE', p.info, false)).toBe('deletecollection');
  });
});

describe('protobuf bodies', () => {
  const field = (n: number, bytes: Buffer) =>
    Buffer.concat([Buffer.from([(n << 3) | 2, bytes.length]), bytes]);
  const str = (n: number, s: string) => field(n, Buffer.from(s));
  it('decodes a ConfigMap as kubectl create sends it', () => {
    const meta = Buffer.concat([str(1, 'cfg'), str(3, '')]);
    const cm = Buffer.concat([field(1, meta), field(2, Buffer.concat([str(1, 'a'), str(2, 'b')]))]);
    const unknown = Buffer.concat([
      field(1, Buffer.concat([str(1, 'v1'), str(2, 'ConfigMap')])),
      field(2, cm),
    ]);
    const body = Buffer.concat([Buffer.from('k8s\0', 'binary'), unknown]);
    expect(decodeProtobufObject(body)).toEqual({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'cfg' },
      data: { a: 'b' },
    });
  });
  it('refuses kinds and fields it cannot decode faithfully', () => {
    const unknown = field(1, Buffer.concat([str(1, 'apps/v1'), str(2, 'StatefulSet')]));
    expect(() => decodeProtobufObject(Buffer.concat([Buffer.from('k8s\0', 'binary'), unknown]))).toThrow(
      /protobuf/,
    );
    expect(() => decodeProtobufObject(Buffer.from('{}'))).toThrow(/k8s/);
  });
});

describe('tables and versions', () => {
  it('evaluates printer-column JSONPath with filters', () => {
    const o = {
      status: {
        conditions: [
          { type: 'A', status: 'False' },
          { type: 'GatewayAlive', status: 'True' },
        ],
      },
    };
    expect(evalJsonPath(o, '.status.conditions[?(@.type=="GatewayAlive")].status')).toBe('True');
    expect(evalJsonPath(o, '.status.conditions[0].type')).toBe('A');
    expect(evalJsonPath(o, '.spec.missing')).toBeUndefined();
  });
  it('prints ages like kubectl', () => {
    const now = Date.parse('2026-01-01T01:00:00Z');
    expect(humanAge('2026-01-01T00:59:30Z', now)).toBe('30s');
    expect(humanAge('2026-01-01T00:55:00Z', now)).toBe('5m');
    expect(humanAge('2025-12-29T01:00:00Z', now)).toBe('3d');
  });
  it('orders versions as kube does', () => {
    expect(['v1alpha1', 'v2', 'v1beta1', 'v1', 'foo'].sort(compareKubeVersions)).toEqual([
      'v2',
      'v1',
      'v1beta1',
      'v1alpha1',
      'foo',
    ]);
  });
});
