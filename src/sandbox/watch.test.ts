import { describe, expect, it } from 'vitest';
import { call, svc, watchSandboxesPerTest } from './test-support.js';

const { sandbox, watch } = watchSandboxesPerTest({ name: 'watch' });

const CM = '/api/v1/namespaces/default/configmaps';

describe('watch', () => {
  it('without resourceVersion sends synthetic ADDED for existing objects, then changes', async () => {
    const sb = await sandbox();
    await call(sb, 'POST', CM, { metadata: { name: 'pre' } });
    const w = await watch(sb, `${CM}?watch=true`);
    const first = await w.next();
    expect(first?.type).toBe('ADDED');
    const names = [first?.object.metadata.name];
    names.push((await w.next())?.object.metadata.name); // kube-root-ca.crt and pre, in key order
    expect(names.sort()).toEqual(['kube-root-ca.crt', 'pre']);
    await call(
      sb,
      'PATCH',
      `${CM}/pre`,
      { data: { a: 'b' } },
      { contentType: 'application/merge-patch+json' },
    );
    const mod = await w.next();
    expect(mod?.type).toBe('MODIFIED');
    expect(mod?.object).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap', data: { a: 'b' } });
    await call(sb, 'DELETE', `${CM}/pre`);
    expect((await w.next())?.type).toBe('DELETED');
  });

  it('from a resourceVersion replays only newer events', async () => {
    const sb = await sandbox();
    const a = (await call(sb, 'POST', CM, { metadata: { name: 'a' } })).body;
    await call(sb, 'POST', CM, { metadata: { name: 'b' } });
    const w = await watch(sb, `${CM}?watch=1&resourceVersion=${a.metadata.resourceVersion}`);
    const ev = await w.next();
    expect(ev).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'b' } } });
  });

  it('sends an ERROR event with 410 Expired for a compacted resourceVersion, and a relist recovers', async () => {
    const sb = await sandbox({ watchWindow: 3 });
    const first = (await call(sb, 'POST', CM, { metadata: { name: 'c0' } })).body;
    for (const i of [1, 2, 3, 4]) await call(sb, 'POST', CM, { metadata: { name: `c${i}` } });
    const w = await watch(sb, `${CM}?watch=true&resourceVersion=${first.metadata.resourceVersion}`);
    const ev = await w.next();
    expect(ev?.type).toBe('ERROR');
    expect(ev?.object).toMatchObject({ kind: 'Status', code: 410, reason: 'Expired' });
    expect(ev?.object.message).toMatch(/^too old resource version: \d+ \(\d+\)$/);
    expect(await w.next()).toBeUndefined();
    const list = await call(sb, 'GET', CM);
    const w2 = await watch(sb, `${CM}?watch=true&resourceVersion=${list.body.metadata.resourceVersion}`);
    await call(sb, 'POST', CM, { metadata: { name: 'after' } });
    expect(await w2.next()).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'after' } } });
  });

  it('answers 410 for a list with a compacted continue token', async () => {
    const sb = await sandbox({ watchWindow: 2 });
    for (const i of [1, 2, 3]) await call(sb, 'POST', CM, { metadata: { name: `p${i}` } });
    const page = await call(sb, 'GET', `${CM}?limit=1`);
    for (const i of [4, 5, 6]) await call(sb, 'POST', CM, { metadata: { name: `p${i}` } });
    const r = await call(sb, 'GET', `${CM}?limit=1&continue=${page.body.metadata.continue}`);
    expect(r.status).toBe(410);
    expect(r.body.reason).toBe('Expired');
  });

  it('sends BOOKMARK events when asked', async () => {
    const sb = await sandbox({ bookmarkIntervalMs: 50 });
    const w = await watch(
      sb,
      `/api/v1/namespaces/default/services?watch=true&allowWatchBookmarks=true&resourceVersion=0`,
    );
    let ev = await w.next();
    while (ev?.type === 'ADDED') ev = await w.next();
    expect(ev?.type).toBe('BOOKMARK');
    expect(ev?.object).toMatchObject({ kind: 'Service', apiVersion: 'v1' });
    expect(Number(ev?.object.metadata.resourceVersion)).toBeGreaterThan(0);
  });

  it('a label-selector watch sees objects leave (DELETED) and enter (ADDED) the selector', async () => {
    const sb = await sandbox();
    const svcs = '/api/v1/namespaces/default/services';
    await call(sb, 'POST', svcs, svc('moving', { metadata: { labels: { exported: 'true' } } }));
    const w = await watch(sb, `${svcs}?watch=true&labelSelector=exported%3Dtrue`);
    expect((await w.next())?.type).toBe('ADDED');
    const patch = (labels: unknown) =>
      call(
        sb,
        'PATCH',
        `${svcs}/moving`,
        { metadata: { labels } },
        { contentType: 'application/merge-patch+json' },
      );
    await patch({ exported: 'false' });
    const left = await w.next();
    expect(left).toMatchObject({ type: 'DELETED', object: { metadata: { labels: { exported: 'false' } } } });
    await patch({ exported: 'true' });
    expect((await w.next())?.type).toBe('ADDED');
    await patch({ exported: 'true', other: 'x' });
    expect((await w.next())?.type).toBe('MODIFIED');
  });

  it('ends the stream at timeoutSeconds', async () => {
    const sb = await sandbox();
    const w = await watch(sb, `${CM}?watch=true&timeoutSeconds=1&resourceVersion=0`);
    let ev = await w.next(3000);
    while (ev) ev = await w.next(3000);
    expect(w.isEnded).toBe(true);
    expect(sb.stats().openWatches).toBe(0);
  });
});

describe('watch on an item path and deletecollection', () => {
  it('watches one object by name and deletes a labelled collection', async () => {
    const sb = await sandbox();
    for (const n of ['one', 'two'])
      await call(sb, 'POST', CM, { metadata: { name: n, labels: { batch: 'x' } } });
    const w = await watch(sb, `${CM}/two?watch=true`);
    expect((await w.next())?.object.metadata.name).toBe('two');
    const del = await call(sb, 'DELETE', `${CM}?labelSelector=batch%3Dx`);
    expect(del.status).toBe(200);
    expect(del.body.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual([
      'one',
      'two',
    ]);
    expect(await w.next()).toMatchObject({ type: 'DELETED', object: { metadata: { name: 'two' } } });
    const left = await call(sb, 'GET', CM);
    expect(left.body.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual([
      'kube-root-ca.crt',
    ]);
  });
});
