import { describe, expect, it } from 'vitest';
import { oldestFirst } from './oldest-first.js';
import type { KubeObject } from './types.js';

const obj = (namespace: string, name: string, creationTimestamp?: string | Date): KubeObject => ({
  metadata: {
    namespace,
    name,
    ...(creationTimestamp ? { creationTimestamp: creationTimestamp as never } : {}),
  },
});

describe('oldestFirst', () => {
  it('orders by creation, then namespace/name, with an unstored object last', () => {
    const sorted = [
      obj('zzz', 'young', '2026-11-24T03:00:01Z'),
      obj('test', 'unstored'),
      obj('b', 'tie', '2026-11-24T03:00:00Z'),
      obj('a', 'tie', '2026-11-24T03:00:00Z'),
    ].sort(oldestFirst);
    expect(sorted.map((o) => `${o.metadata?.namespace}/${o.metadata?.name}`)).toEqual([
      'a/tie',
      'b/tie',
      'zzz/young',
      'test/unstored',
    ]);
  });

  it('reads a Date (as client-node decodes it) as the same instant as its RFC 3339 text', () => {
    const text = obj('a', 'x', '2026-11-24T03:00:00Z');
    const date = obj('a', 'x', new Date('2026-11-24T03:00:00Z'));
    expect(oldestFirst(text, date)).toBe(0);
    expect(oldestFirst(obj('a', 'y', new Date('2026-11-24T02:59:59Z')), text)).toBe(-1);
  });
});
