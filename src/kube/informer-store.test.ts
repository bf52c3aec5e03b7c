import { describe, expect, it } from 'vitest';
import { InformerStore, objectKey } from './informer-store.js';
import type { KubeObject } from './types.js';

const obj = (name: string, rv: string, namespace = 'ns'): KubeObject => ({
  metadata: { name, namespace, resourceVersion: rv },
});

describe('InformerStore', () => {
  it('keys by namespace/name', () => {
    expect(objectKey(obj('a', '1'))).toBe('ns/a');
    expect(objectKey({ metadata: { name: 'cluster-wide' } })).toBe('cluster-wide');
  });

  it('add, update, duplicate suppression, delete', () => {
    const s = new InformerStore<KubeObject>();
    expect(s.apply('ADDED', obj('a', '1'))?.type).toBe('add');
    expect(s.apply('MODIFIED', obj('a', '1'))).toBeNull();
    // A resumed watch may replay ADDED for an object we hold: that is an update.
    const up = s.apply('ADDED', obj('a', '2'));
    expect(up).toEqual({ type: 'update', object: obj('a', '2'), old: obj('a', '1') });
    expect(s.apply('DELETED', obj('a', '3'))).toEqual({ type: 'delete', object: obj('a', '3') });
    expect(s.apply('DELETED', obj('a', '3'))).toBeNull();
    expect(s.size).toBe(0);
  });

  it('an event at the cached resourceVersion with other content is an update: the cache never changes unseen', () => {
    const s = new InformerStore<KubeObject>();
    const listed = { metadata: { name: 'a', namespace: 'ns', resourceVersion: '7', labels: { v: 'one' } } };
    s.apply('ADDED', listed);
    // A resumed watch replaying the object as it is: nothing to tell, and the cached object stays.
    expect(s.apply('MODIFIED', structuredClone(listed))).toBeNull();
    expect(s.get('ns', 'a')).toBe(listed);
    // The server's history went back (etcd restored without --bump-revision) and wrote version 7
    // again with other content: handlers that follow the events must see it.
    const rewritten = { metadata: { ...listed.metadata, labels: { v: 'two' } } };
    expect(s.apply('MODIFIED', rewritten)).toEqual({ type: 'update', object: rewritten, old: listed });
    expect(s.get('ns', 'a')).toBe(rewritten);
  });

  it('relist emits the difference, including objects that vanished meanwhile', () => {
    const s = new InformerStore<KubeObject>();
    s.replace([obj('keep', '1'), obj('change', '1'), obj('gone', '1')]);
    const events = s.replace([obj('keep', '1'), obj('change', '5'), obj('new', '6')]);
    expect(events.map((e) => `${e.type}:${e.object.metadata?.name}`).sort()).toEqual([
      'add:new',
      'delete:gone',
      'update:change',
    ]);
    expect(s.get('ns', 'gone')).toBeUndefined();
    expect(s.get('ns', 'new')?.metadata?.resourceVersion).toBe('6');
  });
});
