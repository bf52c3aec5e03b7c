import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from './index.js';
import { call, closeAgent, svc, WatchReader } from './test-support.js';

let sb: Sandbox;
beforeAll(async () => {
  sb = await startSandbox({ name: 'negotiation', tls: false, bookmarkIntervalMs: 50 });
});
afterAll(async () => {
  await closeAgent(sb);
  await sb.close();
});

const SVC = '/api/v1/namespaces/default/services';
const META = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';
const META_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';
// What client-go's metadata client offers: protobuf first, then JSON, then a plain fallback.
const CLIENT_GO_META = `application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,${META},application/json`;

describe('PartialObjectMetadata answers', () => {
  it('answers a create with the new object metadata only, and stores the whole object', async () => {
    const r = await call(
      sb,
      'POST',
      SVC,
      svc('meta-create', { metadata: { name: 'meta-create', labels: { a: 'b' } } }),
      {
        accept: META,
      },
    );
    expect(r.status).toBe(201);
    expect(r.body.kind).toBe('PartialObjectMetadata');
    expect(r.body.apiVersion).toBe('meta.k8s.io/v1');
    expect(r.body.metadata).toMatchObject({ name: 'meta-create', namespace: 'default', labels: { a: 'b' } });
    expect(r.body.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(r.body.metadata.resourceVersion)).toBeGreaterThan(0);
    expect(r.body.spec).toBeUndefined();
    const full = await call(sb, 'GET', `${SVC}/meta-create`);
    expect(full.body.kind).toBe('Service');
    expect(full.body.spec.ports).toHaveLength(1);
    expect(full.body.metadata.resourceVersion).toBe(r.body.metadata.resourceVersion);
  });

  it('answers get, update and patch as metadata when offered first (client-go metadata client)', async () => {
    await call(sb, 'POST', SVC, svc('meta-rw'));
    const got = await call(sb, 'GET', `${SVC}/meta-rw`, undefined, { accept: CLIENT_GO_META });
    expect(got.body.kind).toBe('PartialObjectMetadata');
    const full = await call(sb, 'GET', `${SVC}/meta-rw`);
    full.body.metadata.labels = { updated: 'yes' };
    const put = await call(sb, 'PUT', `${SVC}/meta-rw`, full.body, { accept: META });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({
      kind: 'PartialObjectMetadata',
      metadata: { labels: { updated: 'yes' } },
    });
    const patched = await call(
      sb,
      'PATCH',
      `${SVC}/meta-rw`,
      { metadata: { annotations: { x: 'y' } } },
      {
        accept: META,
        contentType: 'application/merge-patch+json',
      },
    );
    expect(patched.status).toBe(200);
    expect(patched.body.kind).toBe('PartialObjectMetadata');
    expect(patched.body.metadata.annotations).toEqual({ x: 'y' });
    expect(Number(patched.body.metadata.resourceVersion)).toBeGreaterThan(
      Number(put.body.metadata.resourceVersion),
    );
  });

  it('answers a list as PartialObjectMetadataList, paging included', async () => {
    for (const n of ['meta-l1', 'meta-l2', 'meta-l3']) await call(sb, 'POST', SVC, svc(n));
    const r = await call(sb, 'GET', `${SVC}?limit=2`, undefined, { accept: META_LIST });
    expect(r.status).toBe(200);
    expect(r.body.kind).toBe('PartialObjectMetadataList');
    expect(r.body.apiVersion).toBe('meta.k8s.io/v1');
    expect(r.body.items).toHaveLength(2);
    for (const item of r.body.items) {
      expect(item.kind).toBe('PartialObjectMetadata');
      expect(item.spec).toBeUndefined();
      expect(item.metadata.name).toBeTruthy();
    }
    expect(r.body.metadata.continue).toBeTruthy();
    expect(Number(r.body.metadata.resourceVersion)).toBeGreaterThan(0);
  });

  it('streams watch events and bookmarks as PartialObjectMetadata', async () => {
    const list = await call(sb, 'GET', SVC);
    const w = await WatchReader.open(
      sb,
      `${SVC}?watch=true&allowWatchBookmarks=true&resourceVersion=${list.body.metadata.resourceVersion}`,
      sb.adminToken,
      META,
    );
    try {
      await call(sb, 'POST', SVC, svc('meta-watched'));
      const added = await w.next();
      expect(added?.type).toBe('ADDED');
      expect(added?.object.kind).toBe('PartialObjectMetadata');
      expect(added?.object.metadata.name).toBe('meta-watched');
      expect(added?.object.spec).toBeUndefined();
      let bookmark = await w.next();
      while (bookmark && bookmark.type !== 'BOOKMARK') bookmark = await w.next();
      expect(bookmark?.object).toMatchObject({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1' });
      expect(Number(bookmark?.object.metadata.resourceVersion)).toBeGreaterThan(0);
    } finally {
      w.close();
    }
  });
});

describe('406 NotAcceptable', () => {
  it('refuses a list asked for as one object, and one object asked for as a list', async () => {
    const list = await call(sb, 'GET', SVC, undefined, { accept: META });
    expect(list.status).toBe(406);
    expect(list.body).toMatchObject({ kind: 'Status', reason: 'NotAcceptable', code: 406 });
    expect(list.body.message).toMatch(/requested PartialObjectMetadata, but the requested object is a list/);
    await call(sb, 'POST', SVC, svc('meta-one'));
    const one = await call(sb, 'GET', `${SVC}/meta-one`, undefined, { accept: META_LIST });
    expect(one.status).toBe(406);
    expect(one.body.message).toMatch(
      /requested PartialObjectMetadataList, but the requested object is not a list/,
    );
  });

  it('writes nothing when the answer cannot be given', async () => {
    const r = await call(sb, 'POST', SVC, svc('meta-never'), { accept: META_LIST });
    expect(r.status).toBe(406);
    expect((await call(sb, 'GET', `${SVC}/meta-never`)).status).toBe(404);
  });

  it('refuses media types and transforms it cannot serve, and takes the next offer', async () => {
    const html = await call(sb, 'GET', SVC, undefined, { accept: 'text/html' });
    expect(html.status).toBe(406);
    expect(html.body.message).toBe(
      'only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf',
    );
    const unknownAs = 'application/json;as=Widget;g=meta.k8s.io;v=v1';
    expect((await call(sb, 'GET', SVC, undefined, { accept: unknownAs })).status).toBe(406);
    const otherGroup = 'application/json;as=PartialObjectMetadataList;g=example.com;v=v1';
    expect((await call(sb, 'GET', SVC, undefined, { accept: otherGroup })).status).toBe(406);
    const fallback = await call(sb, 'GET', SVC, undefined, { accept: `${unknownAs}, application/json` });
    expect(fallback.status).toBe(200);
    expect(fallback.body.kind).toBe('ServiceList');
    const anything = await call(sb, 'GET', SVC, undefined, { accept: '*/*' });
    expect(anything.body.kind).toBe('ServiceList');
  });

  it('answers garbage Accept headers with a Status, and keeps serving', async () => {
    for (const accept of [';;;,,,', 'application/json;as=', 'application/json;q=0', '=,=;=']) {
      const r = await call(sb, 'GET', SVC, undefined, { accept });
      expect(r.status, accept).toBe(406);
      expect(r.body).toMatchObject({ kind: 'Status', reason: 'NotAcceptable' });
    }
    const empties = await call(sb, 'GET', SVC, undefined, { accept: ' , application/json' });
    expect(empties.body.kind).toBe('ServiceList');
  });
});
