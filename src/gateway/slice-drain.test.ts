import { describe, expect, it } from 'vitest';
import { InformerStore } from '../kube/informer-store.js';
import type { V1EndpointSlice } from '../kube/types.js';
import {
  canonicalAddress,
  type DrainPolicy,
  type DrainStep,
  egressDrainStep,
  type ListedSlice,
  listsPod,
  ownAddresses,
  PodListing,
  type SliceView,
  settleMsFor,
  takesCallers,
} from './slice-drain.js';

type Conditions = { ready?: boolean; serving?: boolean; terminating?: boolean };

const slice = (name: string, endpoints: Array<[string, Conditions | undefined]>): V1EndpointSlice => ({
  metadata: { namespace: 'shop', name },
  addressType: 'IPv4',
  endpoints: endpoints.map(([address, conditions]) => ({
    addresses: [address],
    ...(conditions === undefined ? {} : { conditions }),
  })),
  ports: [{ name: 'http', port: 20001, protocol: 'TCP' }],
});

describe('takesCallers', () => {
  it.each<[string, Conditions | undefined, boolean]>([
    ['ready', { ready: true }, true],
    ['no conditions (the API reads an absent ready as true)', undefined, true],
    ['not ready (the controller drops a draining pod so)', { ready: false }, false],
    [
      'not ready, serving and terminating (kube-proxy falls back to it)',
      { ready: false, serving: true },
      true,
    ],
    ['not ready, not serving', { ready: false, serving: false, terminating: true }, false],
  ])('%s: %s', (_name, conditions, expected) => {
    expect(takesCallers(conditions)).toBe(expected);
  });
});

describe('canonicalAddress', () => {
  it.each([
    ['10.1.2.3', '10.1.2.3'],
    [' 10.1.2.3 ', '10.1.2.3'],
    ['FD00:0:0::3', 'fd00::3'],
    ['fd00:0000::0003', 'fd00::3'],
    ['::ffff:10.1.2.3', '10.1.2.3'],
    ['::ffff:a01:203', '10.1.2.3'],
    ['::FFFF:10.1.2.3', '10.1.2.3'],
    ['0:0:0:0:0:ffff:a01:203', '10.1.2.3'],
    ['fd00::10.1.2.3', 'fd00::a01:203'],
    ['fd00:0:0:1:0:0:0:3', 'fd00:0:0:1::3'],
    ['fd00:0:0:1:2:0:0:3', 'fd00::1:2:0:0:3'],
    ['fd00:1:2:3:4:5:6:0', 'fd00:1:2:3:4:5:6:0'],
    ['::', '::'],
    ['::1', '::1'],
    // No EndpointSlice lists one, and --pod-ip refuses one; still no throw (it did: "Invalid URL").
    ['fe80::1%eth0', 'fe80::1%eth0'],
    ['gateway-0', 'gateway-0'],
  ])('%s → %s', (address, expected) => {
    expect(canonicalAddress(address)).toBe(expected);
  });
});

describe('ownAddresses and listsPod', () => {
  const own = ownAddresses(['10.0.0.7', 'FD00:0::7']);
  it.each<[string, ListedSlice, boolean]>([
    ['IPv4, as written', slice('a', [['10.0.0.7', { ready: true }]]), true],
    ['IPv6, spelled otherwise', slice('b', [['fd00:0:0:0:0:0:0:7', { ready: true }]]), true],
    ['IPv4-mapped', slice('c', [['::ffff:10.0.0.7', { ready: true }]]), true],
    ['another pod', slice('d', [['10.0.0.8', { ready: true }]]), false],
    ['this pod, not ready', slice('e', [['10.0.0.7', { ready: false }]]), false],
    ['trimmed to none of its endpoints', { metadata: { namespace: 'shop', name: 'f' } }, false],
  ])('%s: %s', (_name, s, expected) => {
    expect(listsPod(s, own)).toBe(expected);
  });
});

describe('PodListing', () => {
  const own = ownAddresses(['10.0.0.7', 'fd00::7']);
  const lists = (name: string) => slice(name, [['10.0.0.7', { ready: true }]]);
  const dropped = (name: string) => slice(name, [['10.0.0.7', { ready: false }]]);
  const other = (name: string) => slice(name, [['10.0.0.8', { ready: true }]]);

  it('names the slices that list this pod as taking callers, and no other', () => {
    const slices = [
      slice('a-west', [
        ['10.0.0.7', { ready: true }],
        ['10.0.0.8', { ready: true }],
      ]),
      slice('b-west', [['10.0.0.8', { ready: true }]]),
      slice('c-west', [['10.0.0.7', { ready: false }]]),
      slice('d-west', [['10.0.0.7', { ready: false, serving: true }]]),
      slice('e-west', []),
      { ...slice('f-west', [['FD00::7', { ready: true }]]), addressType: 'IPv6' },
    ];
    const listing = new PodListing(own);
    listing.reset(slices);
    expect(listing.names()).toEqual(['shop/a-west', 'shop/d-west', 'shop/f-west']);
    expect(listing.size).toBe(3);
  });

  it('follows adds, updates and deletes from the object each carries', () => {
    const listing = new PodListing(own);
    listing.reset([lists('a'), other('b')]);
    listing.apply({ type: 'add', object: lists('c') });
    listing.apply({ type: 'update', object: other('c'), old: lists('c') });
    listing.apply({ type: 'update', object: lists('b'), old: other('b') });
    expect(listing.names().sort()).toEqual(['shop/a', 'shop/b']);
    listing.apply({ type: 'update', object: dropped('a'), old: lists('a') });
    // A delete carries the last state seen, which may still list the pod: gone all the same.
    listing.apply({ type: 'delete', object: lists('b') });
    expect(listing.names()).toEqual([]);
    expect(listing.size).toBe(0);
  });

  it("stays equal to a full scan across the informer's relist, which it reports as the difference", () => {
    // The informer's own cache: a relist (after 410 Gone, or a lost history) replaces it and emits
    // what changed while the watch was away; nothing else tells of a relist, nothing else is needed.
    const store = new InformerStore<ListedSlice>();
    store.replace([lists('a'), lists('b'), other('c'), dropped('d')]);
    const listing = new PodListing(own);
    listing.reset(store.list());
    const apply = (events: ReturnType<typeof store.replace>) => {
      for (const e of events) listing.apply(e);
    };
    apply(store.replace([other('a'), lists('c'), dropped('d'), lists('e')]));
    const full = new PodListing(own);
    full.reset(store.list());
    expect(listing.names().sort()).toEqual(['shop/c', 'shop/e']);
    expect(listing.names().sort()).toEqual(full.names().sort());
    apply(store.replace([]));
    expect(listing.size).toBe(0);
  });

  it('looks at the one slice an event carries, not at the rest', () => {
    const seen: string[] = [];
    const counting = (s: ListedSlice, o: ReadonlySet<string>): boolean => {
      seen.push(s.metadata?.name ?? '');
      return listsPod(s, o);
    };
    const listing = new PodListing(own, counting);
    listing.reset(Array.from({ length: 1_000 }, (_, i) => (i === 0 ? lists('m0') : other(`m${i}`))));
    expect(seen).toHaveLength(1_000);
    seen.length = 0;
    listing.apply({ type: 'update', object: other('m7'), old: other('m7') });
    listing.apply({ type: 'update', object: dropped('m0'), old: lists('m0') });
    listing.apply({ type: 'delete', object: other('m9') });
    // A deleted slice lists nothing any more: not looked at.
    expect(seen).toEqual(['m7', 'm0']);
    expect(listing.size).toBe(0);
  });
});

describe('settleMsFor', () => {
  it.each([
    [5_000, 2_000],
    [1_500, 1_500],
    [0, 0],
  ])('drain delay %i ms: %i ms', (delayMs, settle) => {
    expect(settleMsFor(delayMs)).toBe(settle);
  });
});

describe('egressDrainStep', () => {
  const policy: DrainPolicy = { drainDelayMs: 5_000, graceMs: 25_000, settleMs: 2_000 };
  const listing = (n: number): SliceView => ({ kind: 'slices', listing: n, clearSinceMs: undefined });
  const clear = (sinceMs: number): SliceView => ({ kind: 'slices', listing: 0, clearSinceMs: sinceMs });

  it.each<[string, number, SliceView, DrainStep]>([
    // Unknown address, or no list yet: today's fixed delay.
    ['no address, in the delay', 1_000, { kind: 'no-address' }, { close: false, recheckInMs: 4_000 }],
    ['no address, delay over', 5_000, { kind: 'no-address' }, { close: true, end: 'fixed-delay' }],
    ['not listed, delay over', 5_001, { kind: 'not-listed' }, { close: true, end: 'fixed-delay' }],
    // Dropped early: the delay alone decides (the settle fits in it).
    ['dropped at the signal', 5_000, clear(0), { close: true, end: 'dropped' }],
    ['dropped in the delay, settle fits', 5_000, clear(3_000), { close: true, end: 'dropped' }],
    // Dropped late in (or after) the delay: the settle runs past it.
    ['dropped at 4 s, at 5 s', 5_000, clear(4_000), { close: false, recheckInMs: 1_000 }],
    ['dropped at 4 s, at 6 s', 6_000, clear(4_000), { close: true, end: 'dropped' }],
    ['dropped at 9 s, at 10 s', 10_000, clear(9_000), { close: false, recheckInMs: 1_000 }],
    // Still listed: open until the grace, looked at again on each change.
    ['listed in the delay', 1_000, listing(3), { close: false, recheckInMs: 24_000 }],
    ['listed past the delay', 6_000, listing(1), { close: false, recheckInMs: 19_000 }],
    ['listed at the grace', 25_000, listing(1), { close: true, end: 'grace-over' }],
    // The settle never outlives the grace.
    ['dropped at 24 s, at 24.5 s', 24_500, clear(24_000), { close: false, recheckInMs: 500 }],
    ['dropped at 24 s, at 25 s', 25_000, clear(24_000), { close: true, end: 'grace-over' }],
  ])('%s', (_name, elapsedMs, view, step) => {
    expect(egressDrainStep(policy, elapsedMs, view)).toEqual(step);
  });

  it('closes at once with a grace of 0 (no drain asked), whatever the slices say', () => {
    const immediate: DrainPolicy = { drainDelayMs: 0, graceMs: 0, settleMs: 0 };
    expect(egressDrainStep(immediate, 0, listing(4))).toEqual({ close: true, end: 'fixed-delay' });
  });

  it('closes at the delay when the grace leaves no room beyond it', () => {
    const tight: DrainPolicy = { drainDelayMs: 5_000, graceMs: 5_000, settleMs: 2_000 };
    expect(egressDrainStep(tight, 5_000, listing(2))).toEqual({ close: true, end: 'grace-over' });
    expect(egressDrainStep(tight, 5_000, clear(0))).toEqual({ close: true, end: 'dropped' });
  });
});
