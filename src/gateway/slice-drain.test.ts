import { describe, expect, it } from 'vitest';
import type { V1EndpointSlice } from '../kube/types.js';
import {
  canonicalAddress,
  type DrainPolicy,
  type DrainStep,
  egressDrainStep,
  type SliceView,
  settleMsFor,
  slicesListing,
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
  ])('%s → %s', (address, expected) => {
    expect(canonicalAddress(address)).toBe(expected);
  });
});

describe('slicesListing', () => {
  const own = new Set(['10.0.0.7', 'fd00::7']);
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
    expect(slicesListing(slices, own)).toEqual(['shop/a-west', 'shop/d-west', 'shop/f-west']);
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
