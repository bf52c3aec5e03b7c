/**
 * The mirror watcher under churn: only a change of what admission reads starts a pass. The mirror
 * controller rewrites a mirror's slice on every endpoint or readiness change, and an informer's
 * resync re-emits everything; with thousands of mirrors a pass per event kept the event loop that
 * pipes every tunnel busy.
 */
import { afterEach, expect, it, vi } from 'vitest';
import type { Link, V1EndpointSlice, V1Service } from '../kube/types.js';
import { link, mirrorService } from './e2e/fixtures.js';
import { MemorySource } from './e2e/memory-source.js';
import { gatewayMirrorsOnly } from './mirror-cluster-ips.js';
import { controllerSlice } from './test-support/mirror-slices.js';
import {
  MAX_PASS_WAIT_MS,
  type MirrorEgressRoute,
  type MirrorWatcher,
  PASS_SPACING,
  watchMirrors,
} from './watch-mirrors.js';

const RANGE = { first: 20000, last: 29999 };
const watchers: MirrorWatcher[] = [];
afterEach(async () => {
  for (const w of watchers.splice(0)) await w.close();
});

function db(egressPort = 20001): V1Service {
  return mirrorService({
    ns: 'shop',
    service: 'db',
    cluster: 'west',
    port: 5432,
    egressPort,
    gateway: '192.0.2.7:4143',
  });
}

/** The slice as the controller rewrites it when the remote gateway's pods change: new endpoints, same vouching. */
function withEndpoint(slice: V1EndpointSlice, ip: string): V1EndpointSlice {
  return { ...slice, endpoints: [{ addresses: [ip], conditions: { ready: true } }] };
}

function setup() {
  const services = new MemorySource<V1Service>();
  const slices = new MemorySource<V1EndpointSlice>();
  const links = new MemorySource<Link>();
  links.put(link('west', '192.0.2.7', 4143));
  services.put(db());
  slices.put(controllerSlice(db()));
  const applied: number[][] = [];
  const sink = { apply: (routes: MirrorEgressRoute[]) => applied.push(routes.map((r) => r.port)) };
  const watcher = watchMirrors(gatewayMirrorsOnly(services), sink, {
    links,
    slices,
    egressRange: RANGE,
    debounceMs: 1,
  });
  watchers.push(watcher);
  return { services, slices, links, applied, watcher };
}

it('a slice rewrite that changes only its endpoints, or a resync, starts no admission pass', async () => {
  const { services, slices, links, applied, watcher } = setup();
  await watcher.idle();
  expect(applied).toEqual([[20001]]);

  slices.put(withEndpoint(controllerSlice(db()), '10.1.2.3'));
  slices.put(withEndpoint(controllerSlice(db()), '10.1.2.4'));
  for (const s of slices.list()) slices.put(s); // a resync
  for (const s of services.list()) services.put(s);
  links.put({ ...link('west', '192.0.2.7', 4143), status: { conditions: [] } } as Link);
  // idle() waits for a pass that was scheduled; none was.
  await watcher.idle();
  expect(applied).toEqual([[20001]]);

  // What a slice vouches for does count: the controller gave the mirror another port.
  services.put(db(20002));
  slices.put(controllerSlice(db(20002)));
  await watcher.idle();
  expect(applied.at(-1)).toEqual([20002]);
});

it('a write to a remote-discovery mirror starts no pass; a mirror that becomes one leaves', async () => {
  const { services, applied, watcher } = setup();
  const discovery = mirrorService({
    ns: 'shop',
    service: 'cache',
    cluster: 'west',
    port: 6379,
    egressPort: 20003,
    gateway: '192.0.2.7:4143',
  });
  discovery.metadata!.labels!['mirror.linkerd.io/remote-discovery'] = 'west';
  await watcher.idle();
  const passes = applied.length;
  for (let i = 0; i < 5; i++)
    services.put({ ...discovery, metadata: { ...discovery.metadata, annotations: { note: `${i}` } } });
  await watcher.idle();
  expect(applied).toHaveLength(passes);

  const moved = db();
  moved.metadata!.labels!['mirror.linkerd.io/remote-discovery'] = 'west';
  services.put(moved);
  await watcher.idle();
  expect(applied.at(-1)).toEqual([]);
});

/** A watcher each of whose passes "takes" `passMs`: listing the mirrors moves its clock on. */
async function slowWatcher(passMs: number) {
  let spent = 0;
  const services = new MemorySource<V1Service>();
  services.put(db());
  const slow = {
    list: () => {
      spent += passMs;
      return services.list();
    },
    get: (ns: string | undefined, name: string) => services.get(ns, name),
    onEvent: (l: Parameters<typeof services.onEvent>[0]) => services.onEvent(l),
  };
  const slices = new MemorySource<V1EndpointSlice>();
  slices.put(controllerSlice(db()));
  const links = new MemorySource<Link>();
  links.put(link('west', '192.0.2.7', 4143));
  const applied: number[][] = [];
  const watcher = watchMirrors(
    slow,
    { apply: (r: MirrorEgressRoute[]) => applied.push(r.map((x) => x.port)) },
    { links, slices, egressRange: RANGE, debounceMs: 1, clock: () => Date.now() + spent },
  );
  watchers.push(watcher);
  await vi.advanceTimersByTimeAsync(1);
  expect(applied).toEqual([[20001]]);
  services.put(db(20002));
  slices.put(controllerSlice(db(20002)));
  return applied;
}

it('after a pass that held the event loop long, the next one waits PASS_SPACING times as long', async () => {
  vi.useFakeTimers();
  try {
    const applied = await slowWatcher(100);
    await vi.advanceTimersByTimeAsync(PASS_SPACING * 100 - 50);
    expect(applied).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(60);
    expect(applied.at(-1)).toEqual([20002]);
  } finally {
    vi.useRealTimers();
  }
});

it('waits at most MAX_PASS_WAIT_MS after a pass stretched by a stall (an unexport or unlink is not held back)', async () => {
  vi.useFakeTimers();
  try {
    const applied = await slowWatcher(20_000);
    await vi.advanceTimersByTimeAsync(MAX_PASS_WAIT_MS + 10);
    expect(applied.at(-1)).toEqual([20002]);
  } finally {
    vi.useRealTimers();
  }
});
