import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from './index.js';
import { call, closeAgent, eventually, svc } from './test-support.js';

let sb: Sandbox;
beforeAll(async () => {
  sb = await startSandbox({ name: 'life', tls: false });
});
afterAll(async () => {
  await closeAgent(sb);
  await sb.close();
});

const merge = { contentType: 'application/merge-patch+json' };

describe('namespace deletion', () => {
  it('goes Terminating, refuses new content, deletes what is inside, then disappears', async () => {
    await call(sb, 'POST', '/api/v1/namespaces', { metadata: { name: 'doomed' } });
    await call(sb, 'POST', '/api/v1/namespaces/doomed/services', svc('a'));
    await call(sb, 'POST', '/api/v1/namespaces/doomed/configmaps', {
      metadata: { name: 'held', finalizers: ['x.io/f'] },
    });
    const del = await call(sb, 'DELETE', '/api/v1/namespaces/doomed');
    expect(del.body.status.phase).toBe('Terminating');
    const create = await call(sb, 'POST', '/api/v1/namespaces/doomed/configmaps', {
      metadata: { name: 'late' },
    });
    expect(create.status).toBe(403);
    expect(create.body.message).toBe(
      'configmaps "late" is forbidden: unable to create new content in namespace doomed because it is being terminated',
    );
    expect((await call(sb, 'GET', '/api/v1/namespaces/doomed/services/a')).status).toBe(404);
    expect((await call(sb, 'GET', '/api/v1/namespaces/doomed')).status).toBe(200);
    await call(
      sb,
      'PATCH',
      '/api/v1/namespaces/doomed/configmaps/held',
      { metadata: { finalizers: null } },
      merge,
    );
    await eventually(async () => (await call(sb, 'GET', '/api/v1/namespaces/doomed')).status === 404);
  });

  it('refuses to delete default and kube-system', async () => {
    const r = await call(sb, 'DELETE', '/api/v1/namespaces/default');
    expect(r.status).toBe(403);
  });
});

describe('garbage collection', () => {
  async function ownerAndDependent(name: string) {
    const owner = (await call(sb, 'POST', '/api/v1/namespaces/default/services', svc(name))).body;
    const ref = {
      apiVersion: 'v1',
      kind: 'Service',
      name,
      uid: owner.metadata.uid,
      blockOwnerDeletion: true,
    };
    const slice = await call(sb, 'POST', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices', {
      metadata: { name: `${name}-1`, ownerReferences: [ref], labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.1.2.3'], conditions: { ready: true } }],
      ports: [{ port: 80 }],
    });
    expect(slice.status).toBe(201);
  }
  const slicePath = (name: string) => `/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/${name}-1`;

  it('background: dependents go away with their owner', async () => {
    await ownerAndDependent('bg');
    await call(sb, 'DELETE', '/api/v1/namespaces/default/services/bg');
    await eventually(async () => (await call(sb, 'GET', slicePath('bg'))).status === 404);
  });

  it('orphan: dependents stay, without the owner reference', async () => {
    await ownerAndDependent('orph');
    await call(sb, 'DELETE', '/api/v1/namespaces/default/services/orph?propagationPolicy=Orphan');
    await eventually(
      async () => (await call(sb, 'GET', '/api/v1/namespaces/default/services/orph')).status === 404,
    );
    const slice = await call(sb, 'GET', slicePath('orph'));
    expect(slice.status).toBe(200);
    expect(slice.body.metadata.ownerReferences).toBeUndefined();
  });

  it('an update that points a dependent at an absent owner gets it collected; a dangling extra reference is dropped', async () => {
    await ownerAndDependent('upd');
    const dangling = { apiVersion: 'v1', kind: 'Service', name: 'upd-gone', uid: 'not-a-live-uid' };
    const slice = (await call(sb, 'GET', slicePath('upd'))).body;
    const both = await call(
      sb,
      'PATCH',
      slicePath('upd'),
      { metadata: { ownerReferences: [...slice.metadata.ownerReferences, dangling] } },
      merge,
    );
    expect(both.status).toBe(200);
    // One owner is alive: the GC patches the dangling reference away and keeps the slice.
    await eventually(async () => {
      const now = (await call(sb, 'GET', slicePath('upd'))).body;
      return now.metadata.ownerReferences?.length === 1 && now.metadata.ownerReferences[0].name === 'upd';
    });
    // Only an absent owner left (the Service was recreated: a new uid): the slice goes.
    const onlyStale = await call(
      sb,
      'PATCH',
      slicePath('upd'),
      { metadata: { ownerReferences: [{ ...slice.metadata.ownerReferences[0], uid: 'stale-uid' }] } },
      merge,
    );
    expect(onlyStale.status).toBe(200);
    await eventually(async () => (await call(sb, 'GET', slicePath('upd'))).status === 404);
  });

  it('foreground: the owner waits for its blocking dependents', async () => {
    await ownerAndDependent('fg');
    await call(sb, 'PATCH', slicePath('fg'), { metadata: { finalizers: ['x.io/hold'] } }, merge);
    await call(sb, 'DELETE', '/api/v1/namespaces/default/services/fg', { propagationPolicy: 'Foreground' });
    const owner = await call(sb, 'GET', '/api/v1/namespaces/default/services/fg');
    expect(owner.body.metadata.finalizers).toEqual(['foregroundDeletion']);
    await call(sb, 'PATCH', slicePath('fg'), { metadata: { finalizers: null } }, merge);
    await eventually(
      async () => (await call(sb, 'GET', '/api/v1/namespaces/default/services/fg')).status === 404,
    );
  });
});

describe('custom resource definitions', () => {
  const crd = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'widgets.example.com' },
    spec: {
      group: 'example.com',
      scope: 'Namespaced',
      names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                spec: {
                  type: 'object',
                  required: ['size'],
                  properties: {
                    size: { type: 'integer', minimum: 1 },
                    color: { type: 'string', default: 'blue' },
                  },
                },
                status: { type: 'object', properties: { ready: { type: 'boolean' } } },
              },
            },
          },
        },
        {
          name: 'v1beta1',
          served: true,
          storage: false,
          schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
        },
      ],
    },
  };
  const W = '/apis/example.com/v1/namespaces/default/widgets';

  it('serves the resource, validates, prunes and defaults, has status, serves both versions, and cleans up', async () => {
    expect(
      (await call(sb, 'POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd)).status,
    ).toBe(201);
    const stored = await call(
      sb,
      'GET',
      '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com',
    );
    expect(stored.body.status.conditions.map((c: { type: string }) => c.type)).toContain('Established');
    const disc = await call(sb, 'GET', '/apis/example.com/v1');
    expect(disc.body.resources.map((r: { name: string }) => r.name)).toEqual(['widgets', 'widgets/status']);

    const w = {
      apiVersion: 'example.com/v1',
      kind: 'Widget',
      metadata: { name: 'w1' },
      spec: { size: 2, extra: 'x' },
      status: { ready: true },
    };
    const created = await call(sb, 'POST', W, w);
    expect(created.status).toBe(201);
    expect(created.body.spec).toEqual({ size: 2, color: 'blue' });
    expect(created.body.status).toBeUndefined();
    expect(created.body.metadata.generation).toBe(1);

    const invalid = await call(sb, 'POST', W, { ...w, metadata: { name: 'w2' }, spec: { size: 0 } });
    expect(invalid.status).toBe(422);
    expect(invalid.body.details.causes[0].field).toBe('spec.size');

    const noRv = await call(sb, 'PUT', `${W}/w1`, { ...w, spec: { size: 3 } });
    expect(noRv.status).toBe(422);
    const smp = await call(
      sb,
      'PATCH',
      `${W}/w1`,
      { spec: { size: 3 } },
      { contentType: 'application/strategic-merge-patch+json' },
    );
    expect(smp.status).toBe(415);

    const st = await call(sb, 'PATCH', `${W}/w1/status`, { status: { ready: true } }, merge);
    expect(st.body.status).toEqual({ ready: true });
    expect(st.body.metadata.generation).toBe(1);

    const beta = await call(sb, 'GET', '/apis/example.com/v1beta1/namespaces/default/widgets/w1');
    expect(beta.body.apiVersion).toBe('example.com/v1beta1');

    const list = await call(sb, 'GET', W);
    expect(list.body.items[0].kind).toBe('Widget');

    await call(sb, 'DELETE', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com');
    await eventually(async () => (await call(sb, 'GET', '/apis/example.com/v1')).status === 404);
    expect((await call(sb, 'GET', W)).status).toBe(404);
  });

  it('preloads the Isthmus CRDs', async () => {
    const r = await call(sb, 'GET', '/apis/multicluster.isthmus.dev/v1alpha1/namespaces/default/links');
    expect(r.status).toBe(200);
    const ts = await call(sb, 'GET', '/apis/split.smi-spec.io');
    expect(ts.body.versions.map((v: { version: string }) => v.version)).toEqual(
      expect.arrayContaining(['v1alpha1', 'v1alpha2']),
    );
  });
});
