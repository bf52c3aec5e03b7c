/**
 * Pod updates as kube-apiserver's ValidatePodUpdate allows them: the spec is immutable but for
 * images, activeDeadlineSeconds, added tolerations, removed scheduling gates and the negative grace
 * set to 1; as a pure function, over HTTP (PUT, PATCH, the status subresource) and through kubectl.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusCause } from '../kube/validation/field-errors.js';
import { call, type KubectlSandbox, startKubectlSandbox } from './test-support.js';
import { validateBuiltin } from './validation.js';

type Spec = Record<string, unknown>;

const BASE: Spec = {
  containers: [{ name: 'app', image: 'example/app:1' }],
  restartPolicy: 'Always',
  terminationGracePeriodSeconds: 30,
};

const pod = (spec: Spec) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', namespace: 'default' },
  spec: { ...BASE, ...spec },
});

const check = (old: Spec, next: Spec): StatusCause[] =>
  validateBuiltin('v1/Pod', pod(next), pod(old), { allowLoopbackEndpoints: false });

/** `field: message`, as kubectl prints each cause. */
const lines = (causes: StatusCause[]) => causes.map((c) => `${c.field}: ${c.message}`);

const FORBIDDEN =
  'Forbidden: pod updates may not change fields other than `spec.containers[*].image`,' +
  '`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,' +
  '`spec.tolerations` (only additions to existing tolerations),' +
  '`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)';

const TOLERATION = { key: 'k', operator: 'Equal', value: 'v', effect: 'NoExecute' };
const INIT = [{ name: 'init', image: 'example/init:1' }];

describe('validatePodUpdate', () => {
  it.each<[string, Spec, Spec]>([
    ['nothing changed', {}, {}],
    ['a container image', {}, { containers: [{ name: 'app', image: 'example/app:2' }] }],
    ['an init container image', { initContainers: INIT }, { initContainers: [{ ...INIT[0], image: 'i:2' }] }],
    ['activeDeadlineSeconds set', {}, { activeDeadlineSeconds: 60 }],
    ['activeDeadlineSeconds lowered', { activeDeadlineSeconds: 60 }, { activeDeadlineSeconds: 10 }],
    ['a toleration added', { tolerations: [TOLERATION] }, { tolerations: [TOLERATION, { key: 'x' }] }],
    [
      "a toleration's tolerationSeconds",
      { tolerations: [TOLERATION] },
      { tolerations: [{ ...TOLERATION, tolerationSeconds: 5 }] },
    ],
    [
      'a scheduling gate removed',
      { schedulingGates: [{ name: 'a' }, { name: 'b' }] },
      { schedulingGates: [{ name: 'b' }] },
    ],
    ['the last scheduling gate removed', { schedulingGates: [{ name: 'a' }] }, {}],
    [
      'a negative grace set to 1',
      { terminationGracePeriodSeconds: -1 },
      { terminationGracePeriodSeconds: 1 },
    ],
    [
      "a gated pod's nodeSelector extended",
      { schedulingGates: [{ name: 'a' }], nodeSelector: { zone: 'a' } },
      { schedulingGates: [{ name: 'a' }], nodeSelector: { zone: 'a', disk: 'ssd' } },
    ],
    ['empty values as absent ones', { nodeName: '', tolerations: [] }, { nodeSelector: {} }],
  ])('allows %s', (_, old, next) => {
    expect(lines(check(old, next))).toEqual([]);
  });

  it.each<[string, Spec, Spec, string[]]>([
    [
      'a changed restartPolicy',
      {},
      { restartPolicy: 'Never' },
      [`spec: ${FORBIDDEN}\n- spec.restartPolicy: "Always"\n+ spec.restartPolicy: "Never"`],
    ],
    [
      'nodeName set on update (only the binding subresource binds)',
      {},
      { nodeName: 'node-a' },
      [`spec: ${FORBIDDEN}\n+ spec.nodeName: "node-a"`],
    ],
    [
      "a container's ports",
      {},
      { containers: [{ name: 'app', image: 'example/app:1', ports: [{ containerPort: 80 }] }] },
      [`spec: ${FORBIDDEN}\n+ spec.containers[0].ports: [{"containerPort":80}]`],
    ],
    [
      'a container added',
      {},
      {
        containers: [
          { name: 'app', image: 'example/app:1' },
          { name: 'side', image: 's:1' },
        ],
      },
      ['spec.containers: Forbidden: pod updates may not add or remove containers'],
    ],
    [
      'an init container removed',
      { initContainers: INIT },
      {},
      ['spec.initContainers: Forbidden: pod updates may not add or remove containers'],
    ],
    [
      'an image with surrounding space',
      {},
      { containers: [{ name: 'app', image: ' example/app:2' }] },
      [
        'spec.containers[0].image: Invalid value: " example/app:2": must not have leading or trailing whitespace',
      ],
    ],
    [
      'activeDeadlineSeconds raised',
      { activeDeadlineSeconds: 10 },
      { activeDeadlineSeconds: 60 },
      ['spec.activeDeadlineSeconds: Invalid value: 60: must be less than or equal to previous value'],
    ],
    [
      'activeDeadlineSeconds unset',
      { activeDeadlineSeconds: 10 },
      {},
      [
        'spec.activeDeadlineSeconds: Invalid value: "null": must not update from a positive integer to nil value',
      ],
    ],
    [
      'activeDeadlineSeconds negative',
      {},
      { activeDeadlineSeconds: -1 },
      ['spec.activeDeadlineSeconds: Invalid value: -1: must be between 0 and 2147483647, inclusive'],
    ],
    [
      'a toleration changed',
      { tolerations: [TOLERATION] },
      { tolerations: [{ ...TOLERATION, value: 'w' }] },
      ['spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds'],
    ],
    [
      'a toleration removed',
      { tolerations: [TOLERATION] },
      {},
      ['spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds'],
    ],
    [
      'a scheduling gate added',
      { schedulingGates: [{ name: 'a' }] },
      { schedulingGates: [{ name: 'a' }, { name: 'b' }] },
      [
        "spec.schedulingGates[1].name: Forbidden: only deletion is allowed, but found new scheduling gate 'b'",
      ],
    ],
    [
      'a grace changed',
      {},
      { terminationGracePeriodSeconds: 5 },
      [
        `spec: ${FORBIDDEN}\n- spec.terminationGracePeriodSeconds: 30\n+ spec.terminationGracePeriodSeconds: 5`,
      ],
    ],
    [
      "a gated pod's nodeSelector changed",
      { schedulingGates: [{ name: 'a' }], nodeSelector: { zone: 'a' } },
      { schedulingGates: [{ name: 'a' }], nodeSelector: { zone: 'b' } },
      [
        'spec.nodeSelector: Invalid value: {"zone":"b"}: only additions to spec.nodeSelector are allowed (no mutations or deletions)',
      ],
    ],
  ])('refuses %s', (_, old, next, expected) => {
    expect(lines(check(old, next))).toEqual(expected);
  });

  it('does not apply on create', () => {
    expect(
      validateBuiltin('v1/Pod', pod({ nodeName: 'n' }), undefined, { allowLoopbackEndpoints: false }),
    ).toEqual([]);
  });
});

const PODS = '/api/v1/namespaces/default/pods';

describe('Pod updates over HTTP and through kubectl', () => {
  let env: KubectlSandbox;
  const kubectl = (...args: string[]) => env.kubectl(...args);
  beforeAll(async () => {
    env = await startKubectlSandbox('pod-update');
    const created = await call(env.sb, 'POST', PODS, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web' },
      spec: { nodeName: 'node-a', containers: [{ name: 'app', image: 'example/app:1' }] },
    });
    expect(created.status).toBe(201);
  });
  afterAll(async () => {
    await call(env.sb, 'DELETE', `${PODS}/web?gracePeriodSeconds=0`);
    await env.close();
  });

  it('refuses a PUT and a merge PATCH of a fixed field with 422, the stored pod unchanged', async () => {
    const current = (await call(env.sb, 'GET', `${PODS}/web`)).body;
    const put = await call(env.sb, 'PUT', `${PODS}/web`, {
      ...current,
      spec: { ...current.spec, nodeName: 'node-b' },
    });
    expect(put.status).toBe(422);
    expect(put.body).toMatchObject({ reason: 'Invalid', details: { causes: [{ field: 'spec' }] } });
    expect(put.body.message).toContain(
      'Pod "web" is invalid: spec: Forbidden: pod updates may not change fields',
    );
    const merge = { contentType: 'application/merge-patch+json' };
    const patch = await call(env.sb, 'PATCH', `${PODS}/web`, { spec: { restartPolicy: 'Never' } }, merge);
    expect(patch.status).toBe(422);
    const after = (await call(env.sb, 'GET', `${PODS}/web`)).body;
    expect(after.metadata.resourceVersion).toBe(current.metadata.resourceVersion);
    expect(after.spec).toMatchObject({ nodeName: 'node-a', restartPolicy: 'Always' });
  });

  it('lets a status update through, its spec ignored as the status strategy does', async () => {
    const current = (await call(env.sb, 'GET', `${PODS}/web`)).body;
    const res = await call(env.sb, 'PUT', `${PODS}/web/status`, {
      ...current,
      spec: { ...current.spec, nodeName: 'node-b' },
      status: { phase: 'Running', podIP: '10.244.0.7' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.spec.nodeName).toBe('node-a');
    expect(res.body.status.podIP).toBe('10.244.0.7');
  });

  it('kubectl patch: an image change is allowed, a forbidden field is refused in kube-apiserver words', async () => {
    const image = await kubectl('set', 'image', 'pod/web', 'app=example/app:2');
    expect(image.code, image.stderr).toBe(0);
    const refused = await kubectl(
      'patch',
      'pod',
      'web',
      '-p',
      '{"spec":{"terminationGracePeriodSeconds":5}}',
    );
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(
      `The Pod "web" is invalid: spec: ${FORBIDDEN}\n- spec.terminationGracePeriodSeconds: 30\n+ spec.terminationGracePeriodSeconds: 5`,
    );
    const label = await kubectl('label', 'pod', 'web', 'edited=yes');
    expect(label.code, label.stderr).toBe(0);
    const got = await kubectl('get', 'pod', 'web', '-o', 'jsonpath={.spec.containers[0].image}');
    expect(got.stdout).toBe('example/app:2');
  });
});
