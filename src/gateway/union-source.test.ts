import { describe, expect, it } from 'vitest';
import {
  DEFAULT_FEDERATED_SELECTOR,
  EXPORTED_LABEL,
  FEDERATED_LABEL,
  FEDERATED_MEMBER,
} from '../kube/keys.js';
import type { V1EndpointSlice, V1Service } from '../kube/types.js';
import { MemorySource } from './e2e/memory-source.js';
import { ServiceIndex } from './service-index.js';
import { unionSource } from './union-source.js';
import { feedServiceIndex } from './watch-exports.js';

const EXPORTED = { [EXPORTED_LABEL]: 'true' };
const MEMBER = { [FEDERATED_LABEL]: FEDERATED_MEMBER };

const service = (labels: Record<string, string>, name = 'podinfo', port = 9898): V1Service => ({
  metadata: { namespace: 'test', name, labels },
  spec: { ports: [{ name: 'http', port }] },
});

/** Two informers' caches and the union over them, with every event the union emits. */
function setup() {
  const exports = new MemorySource<V1Service>();
  const federated = new MemorySource<V1Service>();
  const union = unionSource(exports, federated);
  const events: Array<{ type: string; labels: Record<string, string> | undefined }> = [];
  const off = union.onEvent((ev) => events.push({ type: ev.type, labels: ev.object.metadata?.labels }));
  return { exports, federated, union, events, off };
}

describe('unionSource', () => {
  it('holds what either source holds, once, the first source copy winning', () => {
    const { exports, federated, union } = setup();
    exports.put(service(EXPORTED, 'a'));
    federated.put(service(MEMBER, 'b'));
    exports.put(service({ ...EXPORTED, ...MEMBER }, 'both', 1));
    federated.put(service({ ...EXPORTED, ...MEMBER }, 'both', 2));
    expect(union.list().map((s) => s.metadata?.name)).toEqual(['a', 'both', 'b']);
    expect(union.get('test', 'b')?.metadata?.labels).toEqual(MEMBER);
    expect(union.get('test', 'both')?.spec?.ports?.[0]?.port).toBe(1);
    expect(union.get('test', 'none')).toBeUndefined();
  });

  it('passes events through while only one source holds the object', () => {
    const { federated, events } = setup();
    federated.put(service(MEMBER));
    federated.put(service(MEMBER, 'podinfo', 8080));
    federated.remove(service(MEMBER));
    expect(events.map((e) => e.type)).toEqual(['add', 'update', 'delete']);
  });

  it('turns entering or leaving one set while in the other into an update; leaving both is the delete', () => {
    const { exports, federated, events } = setup();
    const both = service({ ...EXPORTED, ...MEMBER });
    exports.put(both);
    federated.put(both);
    // Relabelled out of the export set (its informer deletes it), still a member.
    exports.remove(both);
    expect(events).toEqual([
      { type: 'add', labels: both.metadata?.labels },
      { type: 'update', labels: both.metadata?.labels },
      { type: 'update', labels: both.metadata?.labels },
    ]);
    // And back into the export set, then out of both.
    exports.put(service(EXPORTED));
    federated.remove(both);
    exports.remove(service(EXPORTED));
    expect(events.slice(3)).toEqual([
      { type: 'update', labels: EXPORTED },
      { type: 'update', labels: EXPORTED },
      { type: 'delete', labels: EXPORTED },
    ]);
  });

  it('unsubscribes from both sources', () => {
    const { exports, federated, events, off } = setup();
    off();
    exports.put(service(EXPORTED));
    federated.put(service(MEMBER, 'other'));
    expect(events).toEqual([]);
  });
});

describe('feedServiceIndex over the union of exported and federated Services', () => {
  const target = { kind: 'service', namespace: 'test', service: 'podinfo', port: 9898 } as const;
  const slice: V1EndpointSlice = {
    addressType: 'IPv4',
    metadata: { namespace: 'test', name: 'podinfo-abc', labels: { 'kubernetes.io/service-name': 'podinfo' } },
    endpoints: [{ addresses: ['10.0.0.1'] }],
    ports: [{ name: 'http', port: 8080 }],
  };

  it(`admits a ${DEFAULT_FEDERATED_SELECTOR} Service while it is in either set, and refuses it once in neither`, () => {
    const index = new ServiceIndex();
    const { exports, federated, union } = setup();
    const slices = new MemorySource<V1EndpointSlice>();
    slices.put(slice);
    feedServiceIndex(index, union, slices);
    expect(index.resolve(target)).toMatchObject({ ok: false, status: 403 });

    federated.put(service(MEMBER));
    expect(index.resolve(target).ok).toBe(true);
    exports.put(service({ ...EXPORTED, ...MEMBER }));
    federated.remove(service(MEMBER));
    expect(index.resolve(target).ok).toBe(true);
    federated.put(service({ ...EXPORTED, ...MEMBER }));
    exports.remove(service(EXPORTED));
    expect(index.resolve(target).ok).toBe(true);
    federated.remove(service(MEMBER));
    expect(index.resolve(target)).toMatchObject({ ok: false, status: 403 });
  });

  it('sees what the caches held before it subscribed', () => {
    const index = new ServiceIndex();
    const { exports, federated, union } = setup();
    exports.put(service(EXPORTED, 'exported'));
    federated.put(service(MEMBER, 'podinfo'));
    feedServiceIndex(index, union, new MemorySource<V1EndpointSlice>());
    expect(index.size()).toBe(2);
  });
});
