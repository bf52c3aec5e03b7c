/**
 * A PUT whose body carries a uid is an update with that uid as precondition (kube-apiserver's
 * DefaultUpdatedObjectInfo.Preconditions): a Service deleted and made again under the same name
 * answers 409 Conflict, not 422, so a client's retry-on-conflict re-reads it; a PUT of a Service
 * that is gone creates it (svcStrategy.AllowCreateOnUpdate) unless the body names a uid.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from './index.js';
import { call, closeAgent, svc } from './test-support.js';

let sb: Sandbox;
beforeAll(async () => {
  sb = await startSandbox({ name: 'update-preconditions', tls: false });
});
afterAll(async () => {
  await closeAgent(sb);
  await sb.close();
});

const SVC = '/api/v1/namespaces/default/services';

describe('PUT with a uid in the body', () => {
  it('is a 409 precondition failure when the object under that name has another uid', async () => {
    const first = await call(sb, 'POST', SVC, svc('recreated'));
    expect((await call(sb, 'DELETE', `${SVC}/recreated`)).status).toBe(200);
    const second = await call(sb, 'POST', SVC, svc('recreated'));
    const stale = { ...second.body, metadata: { ...second.body.metadata, uid: first.body.metadata.uid } };
    const r = await call(sb, 'PUT', `${SVC}/recreated`, stale);
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({ reason: 'Conflict', code: 409 });
    expect(r.body.message).toBe(
      `Operation cannot be fulfilled on services "recreated": Precondition failed: UID in precondition: ${first.body.metadata.uid}, UID in object meta: ${second.body.metadata.uid}`,
    );
  });

  it('is a 409 when the object is gone, where a PUT without a uid creates a Service', async () => {
    const made = await call(sb, 'POST', SVC, svc('gone'));
    expect((await call(sb, 'DELETE', `${SVC}/gone`)).status).toBe(200);
    const withUid = await call(sb, 'PUT', `${SVC}/gone`, made.body);
    expect(withUid.status).toBe(409);
    expect(withUid.body.message).toBe(
      `Operation cannot be fulfilled on services "gone": Precondition failed: UID in precondition: ${made.body.metadata.uid}, UID in object meta: `,
    );
    const fresh = svc('gone');
    const created = await call(sb, 'PUT', `${SVC}/gone`, fresh);
    expect(created.status).toBe(201);
    expect(created.body.metadata.uid).not.toBe(made.body.metadata.uid);
  });

  it('a PATCH that changes the uid is still the 422 of ValidateObjectMetaUpdate', async () => {
    await call(sb, 'POST', SVC, svc('patched'));
    const r = await call(
      sb,
      'PATCH',
      `${SVC}/patched`,
      { metadata: { uid: 'other' } },
      {
        contentType: 'application/merge-patch+json',
      },
    );
    expect(r.status).toBe(422);
    expect(r.body.message).toContain('metadata.uid: Invalid value: "other": field is immutable');
  });
});
