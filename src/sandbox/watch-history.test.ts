/**
 * Watches against a server whose history is not the client's: a resourceVersion the server has not
 * reached (kube-apiserver's cacher keeps such a watch open and silent until it gets there), and a
 * snapshot restore that takes every resourceVersion back (etcd restore, with or without
 * `--bump-revision`).
 */
import { describe, expect, it } from 'vitest';
import type { Sandbox } from './index.js';
import { call, watchSandboxesPerTest } from './test-support.js';

const { sandbox, watch } = watchSandboxesPerTest({ name: 'history', bookmarkIntervalMs: 50 });

const CM = '/api/v1/namespaces/default/configmaps';

async function create(sb: Sandbox, name: string): Promise<number> {
  const r = await call(sb, 'POST', CM, { metadata: { name } });
  expect(r.status).toBe(201);
  return Number(r.body.metadata.resourceVersion);
}

async function currentRv(sb: Sandbox): Promise<number> {
  return Number((await call(sb, 'GET', CM)).body.metadata.resourceVersion);
}

/** Waits for `n` bookmarks on a watch of the present: time enough for the sandbox to send some. */
async function bookmarksPass(sb: Sandbox, n: number): Promise<void> {
  const clock = await watch(
    sb,
    `${CM}?watch=1&allowWatchBookmarks=true&resourceVersion=${await currentRv(sb)}`,
  );
  for (let seen = 0; seen < n; ) if ((await clock.next())?.type === 'BOOKMARK') seen++;
  clock.close();
}

async function names(sb: Sandbox): Promise<string[]> {
  const items = (await call(sb, 'GET', CM)).body.items as Array<{ metadata: { name: string } }>;
  return items.map((i) => i.metadata.name).filter((n) => n !== 'kube-root-ca.crt');
}

describe('watch from a resourceVersion the server has not reached', () => {
  it('is accepted and silent: no event or bookmark at or below that version, then what follows it', async () => {
    const sb = await sandbox();
    const now = await currentRv(sb);
    const future = now + 3;
    const w = await watch(sb, `${CM}?watch=1&allowWatchBookmarks=true&resourceVersion=${future}`);
    await bookmarksPass(sb, 3);
    for (const n of ['one', 'two', 'three']) await create(sb, n); // now+1 .. now+3: not past it yet
    const rv4 = await create(sb, 'four');
    expect(rv4).toBe(future + 1);
    const first = await w.next();
    expect(Number(first?.object.metadata.resourceVersion)).toBeGreaterThan(future);
    const change = first?.type === 'BOOKMARK' ? await w.nextChange() : first;
    expect(change).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'four' } } });
  });
});

describe('list from a resourceVersion the server has not reached', () => {
  it('is answered 504 as the cacher answers it (storage.NewTooLargeResourceVersionError)', async () => {
    const sb = await sandbox();
    const now = await currentRv(sb);
    const r = await call(sb, 'GET', `${CM}?resourceVersion=${now + 5}&limit=1`);
    expect(r.status).toBe(504);
    expect(r.headers['retry-after']).toBe('1');
    expect(r.body).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `Timeout: Too large resource version: ${now + 5}, current: ${now}`,
      reason: 'Timeout',
      details: {
        causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
        retryAfterSeconds: 1,
      },
      code: 504,
    });
  });
});

describe('faults.restore (etcd snapshot restore)', () => {
  it('without bump: objects and resourceVersions as at the snapshot, every watch ended', async () => {
    const sb = await sandbox();
    await create(sb, 'kept');
    const handle = sb.faults.snapshot();
    const atSnapshot = await currentRv(sb);
    await create(sb, 'later');
    const before = await currentRv(sb);
    const w = await watch(sb, `${CM}?watch=1&resourceVersion=${before}`);

    sb.faults.restore(handle);
    await expect.poll(() => w.isEnded).toBe(true);
    expect(await names(sb)).toEqual(['kept']);
    expect(await currentRv(sb)).toBe(atSnapshot);
    // The next write reuses a version the lost history had.
    expect(await create(sb, 'after')).toBe(atSnapshot + 1);
  });

  it('without bump: a watch from before the snapshot gets 410, one from the lost history stays silent', async () => {
    const sb = await sandbox();
    const old = await create(sb, 'a');
    await create(sb, 'b');
    const handle = sb.faults.snapshot();
    for (const n of ['c', 'd', 'e']) await create(sb, n);
    const lost = await currentRv(sb);
    sb.faults.restore(handle);

    const expired = await watch(sb, `${CM}?watch=1&resourceVersion=${old}`);
    expect(await expired.next()).toMatchObject({ type: 'ERROR', object: { code: 410, reason: 'Expired' } });
    const silent = await watch(sb, `${CM}?watch=1&allowWatchBookmarks=true&resourceVersion=${lost}`);
    await bookmarksPass(sb, 3);
    await create(sb, 'f'); // below `lost` again
    const past = await create(sb, 'g');
    for (let rv = past; rv <= lost; rv = await create(sb, `fill-${rv}`));
    const first = await silent.nextChange();
    expect(Number(first?.object.metadata.resourceVersion)).toBeGreaterThan(lost);
  });

  it('with bumpRevision: later writes get versions above every old one; old versions get 410', async () => {
    const sb = await sandbox();
    await create(sb, 'kept');
    const handle = sb.faults.snapshot();
    await create(sb, 'later');
    const before = await currentRv(sb);
    const w = await watch(sb, `${CM}?watch=1&resourceVersion=${before}`);

    sb.faults.restore(handle, { bumpRevision: 1000 });
    await expect.poll(() => w.isEnded).toBe(true);
    expect(await names(sb)).toEqual(['kept']);
    const next = await create(sb, 'after');
    expect(next).toBeGreaterThan(before + 900);
    const old = await watch(sb, `${CM}?watch=1&resourceVersion=${before}`);
    expect(await old.next()).toMatchObject({ type: 'ERROR', object: { code: 410, reason: 'Expired' } });
    // A list from the present and a watch from it work as usual.
    const fresh = await watch(sb, `${CM}?watch=1&resourceVersion=${next}`);
    await create(sb, 'next');
    expect(await fresh.nextChange()).toMatchObject({ type: 'ADDED', object: { metadata: { name: 'next' } } });
  });
});

describe('a list with a limit and a resourceVersion (KEP-2523)', () => {
  it('is Exact without resourceVersionMatch (410 once compacted), not with NotOlderThan', async () => {
    const sb = await sandbox();
    const old = await create(sb, 'a');
    const handle = sb.faults.snapshot();
    await create(sb, 'b');
    // A restore with a bump: everything before it counts as compacted.
    sb.faults.restore(handle, { bumpRevision: 10 });
    await create(sb, 'c');
    const exact = await call(sb, 'GET', `${CM}?limit=1&resourceVersion=${old}`);
    expect(exact.status).toBe(410);
    const notOlder = await call(
      sb,
      'GET',
      `${CM}?limit=1&resourceVersion=${old}&resourceVersionMatch=NotOlderThan`,
    );
    expect(notOlder.status).toBe(200);
    expect(Number(notOlder.body.metadata.resourceVersion)).toBeGreaterThan(old);
  });
});
