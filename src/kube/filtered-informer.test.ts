import { describe, expect, it } from 'vitest';
import { filteredInformer, viewEvent } from './filtered-informer.js';
import type { Informer, InformerEvent } from './informer.js';
import type { KubeObject } from './types.js';

const obj = (name: string, mine: boolean, rv = '1'): KubeObject => ({
  metadata: { namespace: 'ns', name, resourceVersion: rv, labels: mine ? { mine: 'yes' } : {} },
});
const keep = (o: KubeObject) => o.metadata?.labels?.mine === 'yes';

describe('viewEvent (client-go FilteringResourceEventHandler)', () => {
  it.each([
    ['add of a kept object', { type: 'add', object: obj('a', true) }, 'add'],
    ['add of another object', { type: 'add', object: obj('a', false) }, null],
    ['delete of a kept object', { type: 'delete', object: obj('a', true) }, 'delete'],
    ['delete of another object', { type: 'delete', object: obj('a', false) }, null],
    [
      'update inside the view',
      { type: 'update', object: obj('a', true, '2'), old: obj('a', true) },
      'update',
    ],
    [
      'update entering the view',
      { type: 'update', object: obj('a', true, '2'), old: obj('a', false) },
      'add',
    ],
    [
      'update leaving the view',
      { type: 'update', object: obj('a', false, '2'), old: obj('a', true) },
      'delete',
    ],
    ['update outside the view', { type: 'update', object: obj('a', false, '2'), old: obj('a', false) }, null],
  ] as [string, InformerEvent<KubeObject>, string | null][])('%s → %s', (_, e, want) => {
    expect(viewEvent(e, keep)?.type ?? null).toBe(want);
  });

  it('an object leaving the view is deleted as the view last held it', () => {
    const old = obj('a', true);
    expect(viewEvent({ type: 'update', object: obj('a', false, '2'), old }, keep)).toEqual({
      type: 'delete',
      object: old,
    });
  });
});

describe('filteredInformer', () => {
  function fakeBase(items: KubeObject[]) {
    const handlers = new Set<(e: InformerEvent<KubeObject>) => void>();
    let started = 0;
    const base: Informer<KubeObject> = {
      start: () => {
        started++;
      },
      stop: async () => {},
      synced: Promise.resolve(),
      hasSynced: () => true,
      list: () => items,
      get: (_ns, name) => items.find((i) => i.metadata?.name === name),
      onEvent: (h) => {
        handlers.add(h);
        return () => handlers.delete(h);
      },
      onHealth: () => () => {},
      resourceVersion: '7',
    };
    return {
      base,
      emit: (e: InformerEvent<KubeObject>) => {
        for (const h of handlers) h(e);
      },
      started: () => started,
    };
  }

  it('shows only kept objects, translates events, and leaves starting to the owner', () => {
    const { base, emit, started } = fakeBase([obj('a', true), obj('b', false)]);
    const view = filteredInformer(base, keep);
    view.start();
    expect(started()).toBe(0);
    expect(view.list().map((o) => o.metadata?.name)).toEqual(['a']);
    expect(view.get('ns', 'a')?.metadata?.name).toBe('a');
    expect(view.get('ns', 'b')).toBeUndefined();
    expect(view.resourceVersion).toBe('7');

    const seen: string[] = [];
    const off = view.onEvent((e) => seen.push(`${e.type} ${e.object.metadata?.name}`));
    emit({ type: 'add', object: obj('c', false) });
    emit({ type: 'update', object: obj('c', true, '2'), old: obj('c', false) });
    emit({ type: 'delete', object: obj('c', true, '2') });
    off();
    emit({ type: 'add', object: obj('d', true) });
    expect(seen).toEqual(['add c', 'delete c']);
  });
});
