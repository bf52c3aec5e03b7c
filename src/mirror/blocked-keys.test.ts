import { describe, expect, it } from 'vitest';
import { BlockedKeys } from './blocked-keys.js';

describe('BlockedKeys', () => {
  it('a deleted holder frees every key it blocked, once', () => {
    const index = new BlockedKeys();
    index.add('default/db', 'default/podinfo-west');
    index.add('default/cache', 'default/podinfo-west');
    index.add('default/db', 'default/web-west');
    expect(index.freed('default/podinfo-west').sort()).toEqual(['default/cache', 'default/db']);
    expect(index.freed('default/podinfo-west')).toEqual([]);
    // db was reset: its next sync says again whether web-west still blocks it.
    expect(index.freed('default/web-west')).toEqual([]);
  });

  it('a key synced again forgets what blocked it before', () => {
    const index = new BlockedKeys();
    index.add('default/db', 'default/podinfo-west');
    index.reset('default/db');
    expect(index.freed('default/podinfo-west')).toEqual([]);
  });
});
