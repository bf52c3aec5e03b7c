/**
 * Graceful deletion of Pods, as kube-apiserver does it (rest.BeforeDelete with the pod strategy's
 * CheckGracefulDelete): a Pod bound to a node is Terminating until its kubelet deletes it with
 * grace 0; over HTTP, on a watch and through the real kubectl.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from './index.js';
import { deletionStep } from './pod-deletion.js';
import type { KObj } from './store.js';
import { call, closeAgent, type KubectlSandbox, startKubectlSandbox, WatchReader } from './test-support.js';

const PODS = '/api/v1/namespaces/default/pods';

function pod(
  name: string,
  opts: { nodeName?: string; grace?: number; phase?: string; finalizers?: string[] } = {},
): KObj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, ...(opts.finalizers ? { finalizers: opts.finalizers } : {}) },
    spec: {
      ...(opts.nodeName ? { nodeName: opts.nodeName } : {}),
      ...(opts.grace !== undefined ? { terminationGracePeriodSeconds: opts.grace } : {}),
      containers: [{ name: 'app', image: 'example/app:1' }],
    },
    ...(opts.phase ? { status: { phase: opts.phase } } : {}),
  } as KObj;
}

const NOW = new Date('2026-11-22T10:00:00Z');

describe('deletionStep', () => {
  const terminating = (grace: number | undefined): KObj => {
    const p = pod('p', { nodeName: 'node-a' });
    p.metadata.deletionTimestamp = '2026-11-22T10:00:30Z';
    if (grace !== undefined) p.metadata.deletionGracePeriodSeconds = grace;
    return p;
  };
  it.each([
    ['bound, the spec default', pod('p', { nodeName: 'node-a', grace: 30 }), undefined, 30],
    ['bound, no spec value', pod('p', { nodeName: 'node-a' }), undefined, 30],
    ['bound, the request wins', pod('p', { nodeName: 'node-a', grace: 30 }), 5, 5],
    ['bound, a negative request is 1 s', pod('p', { nodeName: 'node-a' }), -3, 1],
    ['bound, grace 0', pod('p', { nodeName: 'node-a' }), 0, 0],
    ['unbound', pod('p', { grace: 30 }), 10, 0],
    ['finished (Succeeded)', pod('p', { nodeName: 'node-a', phase: 'Succeeded' }), undefined, 0],
    ['finished (Failed)', pod('p', { nodeName: 'node-a', phase: 'Failed' }), 10, 0],
  ])('a first delete of a pod %s starts a grace of the expected length', (_, p, requested, grace) => {
    const at = new Date(NOW.getTime() + grace * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    expect(deletionStep(p, requested, NOW)).toEqual({ kind: 'graceful', deletionTimestamp: at, grace });
  });

  it.each([
    ['no request: pending', terminating(30), undefined, { kind: 'pending' }],
    ['a longer request: pending', terminating(30), 60, { kind: 'pending' }],
    ['the same request: pending', terminating(30), 30, { kind: 'pending' }],
    [
      'a shorter request shortens it',
      terminating(30),
      10,
      { kind: 'graceful', deletionTimestamp: '2026-11-22T10:00:10Z', grace: 10 },
    ],
    [
      'grace 0 ends it',
      terminating(30),
      0,
      { kind: 'graceful', deletionTimestamp: '2026-11-22T10:00:00Z', grace: 0 },
    ],
    ['already at grace 0: now', terminating(0), undefined, { kind: 'now' }],
    ['no grace recorded: now', terminating(undefined), 10, { kind: 'now' }],
  ])('a terminating pod, %s', (_, p, requested, step) => {
    expect(deletionStep(p, requested, NOW)).toEqual(step);
  });
});

describe('DELETE of a pod', () => {
  let sb: Sandbox;
  const readers: WatchReader[] = [];
  beforeAll(async () => {
    sb = await startSandbox({ name: 'pod-deletion', tls: false, loadCrds: false });
  });
  afterEach(() => {
    for (const r of readers.splice(0)) r.close();
  });
  afterAll(async () => {
    await closeAgent(sb);
    await sb.close();
  });

  const create = async (p: KObj) => {
    const res = await call(sb, 'POST', PODS, p);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  };
  const get = (name: string) => call(sb, 'GET', `${PODS}/${name}`);

  it('leaves a pod on a node Terminating for its grace, and answers 200 with the object', async () => {
    await create(pod('bound', { nodeName: 'node-a', grace: 45 }));
    const before = Date.now();
    const res = await call(sb, 'DELETE', `${PODS}/bound`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      kind: 'Pod',
      metadata: { name: 'bound', deletionGracePeriodSeconds: 45 },
    });
    const stored = (await get('bound')).body;
    expect(stored.metadata.deletionGracePeriodSeconds).toBe(45);
    const at = Date.parse(stored.metadata.deletionTimestamp);
    expect(at).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 45_000);
    expect(at).toBeLessThanOrEqual(Date.now() + 45_000);

    // A second delete without a shorter grace changes nothing; a shorter one shortens it.
    const again = await call(sb, 'DELETE', `${PODS}/bound`, { gracePeriodSeconds: 60 });
    expect(again.status).toBe(200);
    expect(again.body.metadata.resourceVersion).toBe(stored.metadata.resourceVersion);
    const shorter = await call(sb, 'DELETE', `${PODS}/bound?gracePeriodSeconds=5`);
    expect(shorter.body.metadata).toMatchObject({
      deletionGracePeriodSeconds: 5,
      deletionTimestamp: new Date(at - 40_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    });

    // The kubelet's delete, grace 0, removes it.
    const gone = await call(sb, 'DELETE', `${PODS}/bound`, { gracePeriodSeconds: 0 });
    expect(gone.status).toBe(200);
    expect((await get('bound')).status).toBe(404);
  });

  it('takes the grace from DeleteOptions over the pod spec', async () => {
    await create(pod('short', { nodeName: 'node-a', grace: 30 }));
    const res = await call(sb, 'DELETE', `${PODS}/short`, { gracePeriodSeconds: 3 });
    expect(res.body.metadata.deletionGracePeriodSeconds).toBe(3);
    await call(sb, 'DELETE', `${PODS}/short?gracePeriodSeconds=0`);
    expect((await get('short')).status).toBe(404);
  });

  it('removes at once a pod not bound to a node, or one deleted with grace 0', async () => {
    await create(pod('unbound', { grace: 30 }));
    expect((await call(sb, 'DELETE', `${PODS}/unbound`)).status).toBe(200);
    expect((await get('unbound')).status).toBe(404);
    await create(pod('forced', { nodeName: 'node-a' }));
    await call(sb, 'DELETE', `${PODS}/forced`, { gracePeriodSeconds: 0 });
    expect((await get('forced')).status).toBe(404);
  });

  it('refuses a gracePeriodSeconds that is not a number', async () => {
    await create(pod('odd', { nodeName: 'node-a' }));
    expect((await call(sb, 'DELETE', `${PODS}/odd?gracePeriodSeconds=soon`)).status).toBe(400);
    expect((await get('odd')).body.metadata.deletionTimestamp).toBeUndefined();
    await call(sb, 'DELETE', `${PODS}/odd?gracePeriodSeconds=0`);
  });

  it('keeps finalizers honoured, and a grace running after they go', async () => {
    await create(pod('held', { nodeName: 'node-a', finalizers: ['example.com/hold'] }));
    await call(sb, 'DELETE', `${PODS}/held`, { gracePeriodSeconds: 0 });
    const waiting = (await get('held')).body;
    expect(waiting.metadata.deletionGracePeriodSeconds).toBe(0);
    await call(sb, 'PUT', `${PODS}/held`, { ...waiting, metadata: { ...waiting.metadata, finalizers: [] } });
    expect((await get('held')).status).toBe(404);

    // Releasing the finalizer during the grace does not remove the pod: its kubelet still has to.
    await create(pod('graced', { nodeName: 'node-a', finalizers: ['example.com/hold'] }));
    await call(sb, 'DELETE', `${PODS}/graced`);
    const graced = (await get('graced')).body;
    const released = await call(sb, 'PUT', `${PODS}/graced`, {
      ...graced,
      metadata: { ...graced.metadata, finalizers: [] },
    });
    expect(released.status, JSON.stringify(released.body)).toBe(200);
    expect((await get('graced')).body.metadata.deletionGracePeriodSeconds).toBe(30);
    await call(sb, 'DELETE', `${PODS}/graced`, { gracePeriodSeconds: 0 });
    expect((await get('graced')).status).toBe(404);
  });

  it("keeps a terminating pod's deletionTimestamp through a PUT that drops it", async () => {
    await create(pod('kept', { nodeName: 'node-a' }));
    const deleting = (await call(sb, 'DELETE', `${PODS}/kept`)).body;
    const { deletionTimestamp: _t, deletionGracePeriodSeconds: _g, ...meta } = deleting.metadata;
    const res = await call(sb, 'PUT', `${PODS}/kept`, {
      ...deleting,
      metadata: { ...meta, labels: { edited: 'yes' } },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.metadata).toMatchObject({
      labels: { edited: 'yes' },
      deletionTimestamp: deleting.metadata.deletionTimestamp,
      deletionGracePeriodSeconds: 30,
    });
    await call(sb, 'DELETE', `${PODS}/kept?gracePeriodSeconds=0`);
  });

  it('shows a watch MODIFIED with the deletionTimestamp, then DELETED', async () => {
    await create(pod('watched', { nodeName: 'node-a' }));
    const rv = (await get('watched')).body.metadata.resourceVersion;
    const w = await WatchReader.open(sb, `${PODS}?watch=true&resourceVersion=${rv}`);
    readers.push(w);
    await call(sb, 'DELETE', `${PODS}/watched`);
    const modified = await w.next();
    expect(modified?.type).toBe('MODIFIED');
    expect(modified?.object.metadata.deletionTimestamp).toBeDefined();
    await call(sb, 'DELETE', `${PODS}/watched`, { gracePeriodSeconds: 0 });
    const deleted = await w.next();
    expect(deleted?.type).toBe('DELETED');
    expect(deleted?.object.metadata.name).toBe('watched');
  });

  it('still deletes other kinds at once', async () => {
    await call(sb, 'POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'cm' } });
    await call(sb, 'DELETE', '/api/v1/namespaces/default/configmaps/cm', { gracePeriodSeconds: 30 });
    expect((await call(sb, 'GET', '/api/v1/namespaces/default/configmaps/cm')).status).toBe(404);
  });
});

describe('kubectl delete pod', () => {
  let sb: Sandbox;
  let env: KubectlSandbox;
  const kubectl = (...args: string[]) => env.kubectl(...args);
  beforeAll(async () => {
    env = await startKubectlSandbox('pod-deletion-kubectl');
    sb = env.sb;
  });
  afterAll(() => env.close());

  it('--wait=false leaves it Terminating in kubectl get pods; --force --grace-period=0 removes it', async () => {
    const created = await call(sb, 'POST', PODS, pod('web-0', { nodeName: 'node-a' }));
    expect(created.status).toBe(201);
    const status = await call(sb, 'PUT', `${PODS}/web-0/status`, {
      ...created.body,
      status: { phase: 'Running', podIP: '10.244.0.5', podIPs: [{ ip: '10.244.0.5' }] },
    });
    expect(status.status).toBe(200);

    const del = await kubectl('delete', 'pod', 'web-0', '--wait=false');
    expect(del.code, del.stderr).toBe(0);
    expect(del.stdout).toContain('pod "web-0" deleted');
    const get = await kubectl('get', 'pods', '--no-headers');
    expect(get.stdout).toMatch(/^web-0\s+0\/1\s+Terminating\s+0\s/m);

    const force = await kubectl('delete', 'pod', 'web-0', '--force', '--grace-period=0');
    expect(force.code, force.stderr).toBe(0);
    expect((await kubectl('get', 'pods', '--no-headers')).stderr).toContain('No resources found');
  });
});
