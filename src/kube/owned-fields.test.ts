import { describe, expect, it } from 'vitest';
import { isSubsetOf, ownedFieldsEqual, ownedFieldsPatch } from './owned-fields.js';
import type { V1Service } from './types.js';

describe('isSubsetOf', () => {
  it.each<[unknown, unknown, boolean]>([
    [{ a: 1 }, { a: 1, b: 2 }, true],
    [{ a: 1 }, { a: 2 }, false],
    [{ a: { b: 1 } }, { a: { b: 1, c: 3 } }, true],
    [[{ port: 80 }], [{ port: 80, protocol: 'TCP' }], true],
    [[{ port: 80 }], [{ port: 80 }, { port: 81 }], false],
    [{ a: null }, {}, true],
    [{ a: null }, { a: 1 }, false],
    [{ a: undefined }, { a: 1 }, true],
    [{ a: 1 }, null, false],
  ])('%j ⊆ %j = %s', (desired, existing, want) => {
    expect(isSubsetOf(desired, existing)).toBe(want);
  });
});

describe('ownedFieldsPatch', () => {
  const existing: V1Service = {
    metadata: {
      name: 'web-west',
      namespace: 'default',
      resourceVersion: '7',
      uid: 'u1',
      labels: { mine: 'a', theirs: 'x', stale: 'old' },
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
    },
    spec: {
      clusterIP: '10.96.0.10',
      sessionAffinity: 'None',
      type: 'ClusterIP',
      ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 80 }],
    },
  };

  it('ignores server defaults and labels of others', () => {
    const desired: V1Service = {
      metadata: { name: 'web-west', labels: { mine: 'a' } },
      spec: { ports: [{ name: 'http', port: 80 }] },
    };
    expect(ownedFieldsPatch(existing, desired, { fields: ['spec.ports'] })).toBeNull();
    expect(ownedFieldsEqual(existing, desired, { fields: ['spec.ports'] })).toBe(true);
  });

  it('patches changed labels, removes owned ones we dropped, replaces changed owned fields whole', () => {
    const desired: V1Service = {
      metadata: { labels: { mine: 'b' }, annotations: { 'isthmus.dev/remote-gateway': '10.0.0.1:4143' } },
      spec: { ports: [{ name: 'http', port: 8080 }] },
    };
    expect(
      ownedFieldsPatch(existing, desired, { fields: ['spec.ports'], ownedLabels: ['mine', 'stale'] }),
    ).toEqual({
      metadata: {
        labels: { mine: 'b', stale: null },
        annotations: { 'isthmus.dev/remote-gateway': '10.0.0.1:4143' },
      },
      spec: { ports: [{ name: 'http', port: 8080 }] },
    });
  });
});
