import { describe, expect, it } from 'vitest';
import { ListedVersions } from './inferred-deletes.js';

const obj = (rv?: string) => ({
  metadata: { name: 'a', namespace: 'default', ...(rv ? { resourceVersion: rv } : {}) },
});

describe('ListedVersions', () => {
  it.each([
    ['a watch DELETED (the deletion’s newer resourceVersion)', '7', false],
    ['a re-list lacking it (the cached object, resourceVersion last seen)', '5', true],
    ['a delete without a resourceVersion', undefined, false],
  ])('%s', (_, rv, inferred) => {
    const seen = new ListedVersions();
    seen.inferred({ type: 'add', object: obj('3') }, 'default/a');
    seen.inferred({ type: 'update', object: obj('5'), old: obj('3') }, 'default/a');
    expect(seen.inferred({ type: 'delete', object: obj(rv) }, 'default/a')).toBe(inferred);
  });

  it('a key never seen, or seen deleted already, is no inference', () => {
    const seen = new ListedVersions();
    expect(seen.inferred({ type: 'delete', object: obj('5') }, 'default/a')).toBe(false);
    seen.inferred({ type: 'add', object: obj('5') }, 'default/a');
    seen.inferred({ type: 'delete', object: obj('9') }, 'default/a');
    expect(seen.inferred({ type: 'delete', object: obj('5') }, 'default/a')).toBe(false);
  });
});
