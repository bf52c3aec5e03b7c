/**
 * The drain's following of the slices, on an informer stand-in built on the informer's own cache
 * (InformerStore: its watch events and its relist's difference). The sockets and the API server are
 * e2e/drain-follows-slices.test.ts's; here, what each slice event costs and what a relist does.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Informer, InformerEvent } from '../kube/informer.js';
import { InformerStore } from '../kube/informer-store.js';
import type { GatewayContext } from './gateway-context.js';
import { gracefulShutdown } from './gateway-shutdown.js';
import type { ListedSlice } from './slice-drain.js';

const POD = 'fd00:10:244::9';

/** An informer over an InformerStore, already listed; `watch` and `relist` emit as the real one does. */
function storeInformer(initial: ListedSlice[]) {
  const store = new InformerStore<ListedSlice>();
  store.replace(initial);
  const handlers = new Set<(e: InformerEvent<ListedSlice>) => void>();
  const emit = (events: InformerEvent<ListedSlice>[]): void => {
    for (const e of events) for (const h of [...handlers]) h(e);
  };
  const informer = {
    synced: Promise.resolve(),
    hasSynced: () => true,
    list: () => store.list(),
    get: (namespace: string | undefined, name: string) => store.get(namespace, name),
    onEvent: (h: (e: InformerEvent<ListedSlice>) => void) => {
      handlers.add(h);
      return () => handlers.delete(h);
    },
    onHealth: () => () => {},
  } as unknown as Informer<ListedSlice>;
  return {
    informer,
    watch: (type: 'ADDED' | 'MODIFIED' | 'DELETED', object: ListedSlice): void => {
      const e = store.apply(type, object);
      if (e !== null) emit([e]);
    },
    relist: (items: ListedSlice[]): void => emit(store.replace(items)),
  };
}

let version = 1;
/** A mirror's slice listing the gateway pod `pod` (ready) and another, IPv6 as in an IPv6-only cluster. */
function mirrorSlice(name: string, pod: string | undefined, reads?: { n: number }): ListedSlice {
  const endpoints = [
    ...(pod === undefined ? [] : [{ addresses: [pod], conditions: { ready: true } }]),
    { addresses: [`fd00:10:244::2:${(version % 0xffff).toString(16)}`], conditions: { ready: true } },
  ];
  const metadata = { namespace: 'ns', name, resourceVersion: String(version++) };
  if (reads === undefined) return { metadata, endpoints };
  // Counts the looks at its endpoints: a scan of the slice.
  return {
    metadata,
    get endpoints() {
      reads.n++;
      return endpoints;
    },
  };
}

/** A drain with no delay and a long grace, over `slices`; `lines` gets what it logs. */
function drain(
  slices: Record<string, Informer<ListedSlice>>,
  lines: Array<{ msg: string; listing?: string[] }>,
) {
  const said = new Set<(line: { msg: string }) => void>();
  const ctx = {
    config: { shutdown: { drainDelayMs: 0, graceMs: 600_000 }, podIPs: [POD] },
    log: pino(
      { level: 'info' },
      {
        write: (text: string) => {
          const line = JSON.parse(text);
          lines.push(line);
          for (const f of said) f(line);
        },
      },
    ),
    refresh: () => {},
  } as unknown as GatewayContext;
  let stopped = false;
  const done = gracefulShutdown(ctx, {
    state: { draining: false } as never,
    ingress: { close: async () => 0, openTunnels: () => 0 } as never,
    egress: { close: async () => 0, openTunnels: () => 0 } as never,
    mirrorWatcher: { close: async () => {} } as never,
    slices,
    stop: async () => {
      stopped = true;
    },
  })();
  /** Resolves once a line whose message contains `text` is logged. */
  const logged = (text: string) =>
    new Promise<void>((resolve) => {
      if (lines.some((l) => l.msg.includes(text))) return resolve();
      said.add(function f(line) {
        if (!line.msg.includes(text)) return;
        said.delete(f);
        resolve();
      });
    });
  return { done, logged, stopped: () => stopped };
}

/** The turn after the look a slice event queued (setImmediate runs in order): no timer, no sleep. */
const afterQueuedLook = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('a draining gateway following the slices', () => {
  it('looks at the slice an event carries, not at every slice cached (thousands of mirrors, rewritten one at a time)', async () => {
    const reads = { n: 0 };
    const cached = Array.from({ length: 2_000 }, (_, i) =>
      mirrorSlice(`m${i}`, i < 3 ? POD : undefined, reads),
    );
    const mirrors = storeInformer(cached);
    const lines: Array<{ msg: string }> = [];
    const d = drain({ mirrorSlices: mirrors.informer }, lines);
    // Once, when the drain starts following the cache.
    expect(reads.n).toBe(2_000);
    await d.logged('stay open until they drop it');
    reads.n = 0;
    // The controller rewriting other mirrors' slices one write at a time, each its own look.
    for (let k = 3; k < 53; k++) {
      mirrors.watch('MODIFIED', mirrorSlice(`m${k}`, undefined, reads));
      await afterQueuedLook();
    }
    expect(reads.n).toBe(50);
    for (let k = 0; k < 3; k++) mirrors.watch('MODIFIED', mirrorSlice(`m${k}`, undefined, reads));
    await d.done;
    expect(reads.n).toBe(53);
    expect(d.stopped()).toBe(true);
    expect(lines.map((l) => l.msg)).toContain(
      'EndpointSlices written by Isthmus no longer list this pod: closing the egress listeners',
    );
  });

  it('follows a relist, which tells what changed while the watch was away, to the end of the drain', async () => {
    const mirrors = storeInformer([
      mirrorSlice('a', POD),
      mirrorSlice('b', POD),
      mirrorSlice('c', undefined),
    ]);
    const forwarding = storeInformer([mirrorSlice('web-isthmus-1', undefined)]);
    const lines: Array<{ msg: string; listing?: string[] }> = [];
    const d = drain({ mirrorSlices: mirrors.informer, forwardingSlices: forwarding.informer }, lines);
    // A 410 Gone: b went, a dropped the pod, c and a new d list it, and the apex's slice does too.
    mirrors.relist([mirrorSlice('a', undefined), mirrorSlice('c', POD), mirrorSlice('d', POD)]);
    forwarding.relist([mirrorSlice('web-isthmus-1', POD)]);
    await d.logged('stay open until they drop it');
    const held = lines.find((l) => l.msg.includes('stay open until they drop it'));
    expect(held?.listing?.sort()).toEqual(['ns/c', 'ns/d', 'ns/web-isthmus-1']);
    mirrors.watch('DELETED', mirrorSlice('c', POD));
    mirrors.relist([mirrorSlice('a', undefined)]);
    forwarding.relist([]);
    await d.done;
    expect(d.stopped()).toBe(true);
  });

  it('takes an address spelled otherwise in a slice for its own (IPv6 compressed or not)', async () => {
    const mirrors = storeInformer([mirrorSlice('a', 'FD00:10:244:0:0:0:0:9')]);
    const lines: Array<{ msg: string; listing?: string[] }> = [];
    const d = drain({ mirrorSlices: mirrors.informer }, lines);
    await d.logged('stay open until they drop it');
    expect(lines.find((l) => l.msg.includes('stay open'))?.listing).toEqual(['ns/a']);
    mirrors.watch('MODIFIED', mirrorSlice('a', undefined));
    await d.done;
  });
});
