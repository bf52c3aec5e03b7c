import { describe, expect, it, vi } from 'vitest';
import type { KubeObject } from '../kube/types.js';
import { OwnWrites } from './own-writes.js';

const obj = (name: string, rv: string) => ({ metadata: { namespace: 'ns', name, resourceVersion: rv } });

/** A write whose answer the test releases (or fails) when it wants. */
function pendingWrite() {
  let answer!: (o: KubeObject) => void;
  let fail!: (e: Error) => void;
  const promise = new Promise<KubeObject>((resolve, reject) => {
    answer = resolve;
    fail = reject;
  });
  return { write: () => promise, answer, fail };
}

describe('OwnWrites', () => {
  it('recognises the echo of a settled write once, and nothing else', async () => {
    const w = new OwnWrites();
    await w.track('Service', 'ns', 'a', async () => obj('a', '5'));
    expect(w.isEcho('EndpointSlice', { type: 'add', object: obj('a', '5') })).toBe(false);
    expect(w.isEcho('Service', { type: 'add', object: obj('a', '5') })).toBe(true);
    // The same version again (a resumed watch replaying it) is not swallowed twice.
    expect(w.isEcho('Service', { type: 'add', object: obj('a', '5') })).toBe(false);
    expect(w.size).toBe(0);
  });

  it('a later version, another writer or a delete is a real change and forgets the entry', async () => {
    const w = new OwnWrites();
    await w.track('Service', 'ns', 'a', async () => obj('a', '5'));
    expect(w.isEcho('Service', { type: 'update', object: obj('a', '6'), old: obj('a', '5') })).toBe(false);
    await w.track('EndpointSlice', 'ns', 'b', async () => obj('b', '7'));
    expect(w.isEcho('EndpointSlice', { type: 'delete', object: obj('b', '7') })).toBe(false);
    expect(w.size).toBe(0);
  });

  it('holds an echo that arrives before the answer and drops it when the versions match', async () => {
    const w = new OwnWrites();
    const p = pendingWrite();
    const requeue = vi.fn();
    const done = w.track('Service', 'ns', 'a', p.write);
    expect(w.isEcho('Service', { type: 'add', object: obj('a', '5') }, requeue)).toBe(true);
    p.answer(obj('a', '5'));
    await done;
    expect(requeue).not.toHaveBeenCalled();
    // Its echo was consumed: the next event of the object is a change.
    expect(w.isEcho('Service', { type: 'update', object: obj('a', '6'), old: obj('a', '5') })).toBe(false);
    expect(w.size).toBe(0);
  });

  it('re-queues a held event of another version, and still expects the write’s own echo', async () => {
    const w = new OwnWrites();
    const p = pendingWrite();
    const requeue = vi.fn();
    const done = w.track('Service', 'ns', 'a', p.write);
    expect(w.isEcho('Service', { type: 'update', object: obj('a', '4'), old: obj('a', '3') }, requeue)).toBe(
      true,
    );
    expect(requeue).not.toHaveBeenCalled();
    p.answer(obj('a', '5'));
    await done;
    expect(requeue).toHaveBeenCalledTimes(1);
    expect(w.isEcho('Service', { type: 'update', object: obj('a', '5'), old: obj('a', '4') })).toBe(true);
  });

  it('re-queues held events when the write fails, and a held delete always', async () => {
    const w = new OwnWrites();
    const failed = pendingWrite();
    const requeue = vi.fn();
    const done = w.track('Service', 'ns', 'a', failed.write);
    w.isEcho('Service', { type: 'add', object: obj('a', '9') }, requeue);
    failed.fail(new Error('409'));
    await expect(done).rejects.toThrow('409');
    expect(requeue).toHaveBeenCalledTimes(1);

    const deleted = pendingWrite();
    const requeueDelete = vi.fn();
    const done2 = w.track('Service', 'ns', 'b', deleted.write);
    w.isEcho('Service', { type: 'delete', object: obj('b', '5') }, requeueDelete);
    deleted.answer(obj('b', '5'));
    await done2;
    expect(requeueDelete).toHaveBeenCalledTimes(1);
  });
});
