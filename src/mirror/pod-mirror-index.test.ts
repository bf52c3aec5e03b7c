import { describe, expect, it } from 'vitest';
import type { InformerEvent } from '../kube/informer.js';
import { HEADLESS_MIRROR_LABEL } from '../kube/keys.js';
import type { V1Service } from '../kube/types.js';
import { indexPodMirrors } from './pod-mirror-index.js';

function svc(name: string, parent?: string, namespace = 'default'): V1Service {
  return { metadata: { name, namespace, labels: parent ? { [HEADLESS_MIRROR_LABEL]: parent } : {} } };
}

function world() {
  let handler: (e: InformerEvent<V1Service>) => void = () => {};
  const lookup = indexPodMirrors({
    onEvent: (h) => {
      handler = h;
      return () => {};
    },
  });
  return { lookup, emit: (e: InformerEvent<V1Service>) => handler(e) };
}

const names = (list: V1Service[]) => list.map((s) => s.metadata?.name).sort();

describe('indexPodMirrors', () => {
  it('finds per-pod mirrors by namespace and parent, not other Services', () => {
    const { lookup, emit } = world();
    emit({ type: 'add', object: svc('web-0-west', 'web-west') });
    emit({ type: 'add', object: svc('web-1-west', 'web-west') });
    emit({ type: 'add', object: svc('web-west') });
    emit({ type: 'add', object: svc('web-0-west', 'web-west', 'other') });
    expect(names(lookup('default', 'web-west'))).toEqual(['web-0-west', 'web-1-west']);
    expect(names(lookup('other', 'web-west'))).toEqual(['web-0-west']);
    expect(lookup('default', 'api-west')).toEqual([]);
  });

  it('follows relabelling and deletion', () => {
    const { lookup, emit } = world();
    const pod = svc('web-0-west', 'web-west');
    emit({ type: 'add', object: pod });
    const moved = svc('web-0-west', 'db-west');
    emit({ type: 'update', object: moved, old: pod });
    expect(lookup('default', 'web-west')).toEqual([]);
    expect(names(lookup('default', 'db-west'))).toEqual(['web-0-west']);
    emit({ type: 'delete', object: moved });
    expect(lookup('default', 'db-west')).toEqual([]);
  });
});
