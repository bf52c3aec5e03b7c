import { describe, expect, it } from 'vitest';
import { OwnWrites } from './own-writes.js';

const obj = (name: string, rv: string) => ({ metadata: { namespace: 'ns', name, resourceVersion: rv } });

describe('OwnWrites', () => {
  it('recognises the echo of a write once, and nothing else', () => {
    const w = new OwnWrites();
    w.note('Service', obj('a', '5'));
    expect(w.isEcho('EndpointSlice', { type: 'add', object: obj('a', '5') })).toBe(false);
    expect(w.isEcho('Service', { type: 'add', object: obj('a', '5') })).toBe(true);
    // The same version again (a resumed watch replaying it) is not swallowed twice.
    expect(w.isEcho('Service', { type: 'add', object: obj('a', '5') })).toBe(false);
    expect(w.size).toBe(0);
  });

  it('a later version, another writer or a delete is a real change and forgets the entry', () => {
    const w = new OwnWrites();
    w.note('Service', obj('a', '5'));
    expect(w.isEcho('Service', { type: 'update', object: obj('a', '6'), old: obj('a', '5') })).toBe(false);
    w.note('EndpointSlice', obj('b', '7'));
    expect(w.isEcho('EndpointSlice', { type: 'delete', object: obj('b', '7') })).toBe(false);
    expect(w.size).toBe(0);
  });

  it('ignores answers without a resourceVersion', () => {
    const w = new OwnWrites();
    w.note('Service', { metadata: { namespace: 'ns', name: 'a' } });
    expect(w.size).toBe(0);
  });
});
