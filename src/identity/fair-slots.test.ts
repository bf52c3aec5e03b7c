import { describe, expect, it } from 'vitest';
import { within } from '../kube/test-support.js';
import {
  type Admission,
  admission,
  type CallerLoad,
  displacedWaiter,
  FairSlots,
  nextWaiter,
  type SlotGrant,
  type SlotsLoad,
} from './fair-slots.js';

const LIMITS = { max: 32, perCaller: 4, maxWaiting: 32 };
const load = (inFlight: number, waiting = 0, penalised = false): CallerLoad => ({
  inFlight,
  waiting,
  penalised,
});
const slots = (inFlight: number, waiting = 0, penalisedWaiting = 0): SlotsLoad => ({
  inFlight,
  waiting,
  penalisedWaiting,
});

describe('admission: what becomes of an arriving call', () => {
  it.each<[string, CallerLoad, SlotsLoad, boolean, Admission]>([
    ['a free slot', load(0), slots(10), true, 'take'],
    ['a free slot, the address within its share', load(3), slots(31), true, 'take'],
    ['the address has its share in flight', load(4), slots(10), true, 'throttled'],
    ['the address has its share in flight and waiting', load(2, 2), slots(32, 2), true, 'throttled'],
    ['a penalised address with nothing in flight', load(0, 0, true), slots(10), true, 'take'],
    ['a penalised address with a call in flight', load(1, 0, true), slots(10), true, 'penalised'],
    ['a penalised address with a call waiting', load(0, 1, true), slots(32, 1, 1), true, 'penalised'],
    ['every slot busy: it waits', load(0), slots(32, 5), true, 'wait'],
    ['every slot busy, a penalised address: it waits too', load(0, 0, true), slots(32, 5), true, 'wait'],
    ['every slot busy, no time to wait', load(0), slots(32, 0), false, 'busy'],
    ['every slot busy, the queue full', load(0), slots(32, 32), true, 'busy'],
    [
      'every slot busy, the queue full, penalised waiters: one gives way',
      load(1),
      slots(32, 32, 3),
      true,
      'displace',
    ],
    ['a penalised caller displaces no one', load(0, 0, true), slots(32, 32, 3), true, 'busy'],
  ])('%s → %s', (_what, caller, all, mayWait, expected) => {
    expect(admission(caller, all, LIMITS, mayWait)).toBe(expected);
  });

  it('holds a penalised address to 1 even when the share is smaller than 1 would allow', () => {
    expect(admission(load(0, 0, true), slots(0), { ...LIMITS, perCaller: 1 }, true)).toBe('take');
    expect(admission(load(1), slots(1), { ...LIMITS, perCaller: 1 }, true)).toBe('throttled');
  });
});

/** Waiters in the order they came, by address, and each address's load. */
function queue(callers: string[], loads: Record<string, CallerLoad>) {
  return {
    waiters: callers.map((caller) => ({ caller })),
    loadOf: (caller: string) => loads[caller] ?? load(0),
  };
}

describe('nextWaiter: who gets the next free slot', () => {
  it.each<[string, string[], Record<string, CallerLoad>, number | undefined]>([
    ['nobody waits', [], {}, undefined],
    ['the first to come among equals', ['a', 'b', 'c'], {}, 0],
    [
      'the address with the fewest calls in flight',
      ['a', 'b', 'c'],
      { a: load(2, 1), b: load(1, 1), c: load(1, 1) },
      1,
    ],
    [
      'an address in good standing before a penalised one that came first',
      ['a', 'b'],
      { a: load(0, 1, true), b: load(3, 1) },
      1,
    ],
    ['a penalised address when it is the only one waiting', ['a', 'a'], { a: load(0, 2, true) }, 0],
    [
      'not an address at its share (penalised while it waited)',
      ['a', 'b'],
      { a: load(1, 1, true), b: load(0, 1, true) },
      1,
    ],
    ['none when every waiting address is at its share', ['a'], { a: load(1, 1, true) }, undefined],
  ])('%s', (_what, callers, loads, expected) => {
    const q = queue(callers, loads);
    expect(nextWaiter(q.waiters, q.loadOf, 4)).toBe(expected);
  });
});

describe('displacedWaiter: whose place a call in good standing takes in a full queue', () => {
  it.each<[string, string[], Record<string, CallerLoad>, number | undefined]>([
    [
      'the last penalised waiter to come',
      ['p', 'a', 'q', 'b'],
      { p: load(0, 1, true), q: load(0, 1, true) },
      2,
    ],
    ['nobody, when no waiter is penalised', ['a', 'b'], {}, undefined],
  ])('%s', (_what, callers, loads, expected) => {
    const q = queue(callers, loads);
    expect(displacedWaiter(q.waiters, q.loadOf)).toBe(expected);
  });
});

describe('FairSlots', () => {
  const LONG_WAIT_MS = 120_000;
  /** Slots of `max`, 4 per address; `penalised` is read at each decision. */
  function fair(max: number, maxWaiting = 32) {
    const penalised = new Set<string>();
    return { slots: new FairSlots({ max, perCaller: 4, maxWaiting }, (c) => penalised.has(c)), penalised };
  }
  const answer = (grant: SlotGrant | Promise<SlotGrant>, what: string) =>
    within(Promise.resolve(grant), 10_000, what);

  it('gives a freed slot to the waiting address in good standing, then the penalised one, and is empty afterwards', async () => {
    const { slots, penalised } = fair(1);
    expect(slots.acquire('a', LONG_WAIT_MS)).toEqual({ ok: true });
    penalised.add('p');
    const p = slots.acquire('p', LONG_WAIT_MS);
    const b = slots.acquire('b', LONG_WAIT_MS);
    expect(slots.waiting()).toBe(2);
    slots.release('a');
    expect(await answer(b, 'b to get the slot')).toMatchObject({ ok: true, waitedMs: expect.any(Number) });
    expect(slots.waiting()).toBe(1);
    slots.release('b');
    expect(await answer(p, 'p to get the slot')).toMatchObject({ ok: true });
    slots.release('p');
    expect([slots.inFlight(), slots.waiting(), slots.inFlight('p')]).toEqual([0, 0, 0]);
  });

  it('takes a waiting call out of the queue when its caller cancels: cancelled, and its place is free again', async () => {
    const { slots } = fair(1, 1);
    slots.acquire('a', LONG_WAIT_MS);
    const caller = new AbortController();
    const waiting = slots.acquire('b', LONG_WAIT_MS, caller.signal);
    expect(slots.acquire('c', LONG_WAIT_MS)).toMatchObject({ ok: false, outcome: 'busy' });
    caller.abort();
    expect(await answer(waiting, 'the cancelled call')).toMatchObject({
      ok: false,
      outcome: 'cancelled',
      waitedMs: expect.any(Number),
    });
    expect(slots.waiting()).toBe(0);
    const next = slots.acquire('c', LONG_WAIT_MS);
    expect(slots.waiting('c')).toBe(1);
    slots.release('a');
    expect(await answer(next, 'the next call')).toMatchObject({ ok: true });
  });

  it('answers busy when no slot comes free within the wait', async () => {
    const { slots } = fair(1);
    slots.acquire('a', LONG_WAIT_MS);
    expect(await answer(slots.acquire('b', 10), 'the wait to end')).toMatchObject({
      ok: false,
      outcome: 'busy',
      message:
        'busy: no Certify slot came free within 10 ms (1 calls in flight, 0 others waiting); retry later',
    });
    expect(slots.waiting()).toBe(0);
  });

  it('a call in good standing takes the place of the last penalised waiter in a full queue', async () => {
    const { slots, penalised } = fair(1, 2);
    slots.acquire('a', LONG_WAIT_MS);
    penalised.add('p').add('q');
    const p = slots.acquire('p', LONG_WAIT_MS);
    const q = slots.acquire('q', LONG_WAIT_MS);
    const gateway = slots.acquire('g', LONG_WAIT_MS);
    expect(await answer(q, 'the displaced call')).toMatchObject({ ok: false, outcome: 'busy' });
    slots.release('a');
    expect(await answer(gateway, 'the gateway')).toMatchObject({ ok: true });
    slots.release('g');
    expect(await answer(p, 'the other penalised call')).toMatchObject({ ok: true });
  });

  it('keeps a waiter whose address was penalised while it waited until its call in flight ends', async () => {
    const { slots, penalised } = fair(2);
    slots.acquire('a', LONG_WAIT_MS);
    slots.acquire('b', LONG_WAIT_MS);
    const a2 = slots.acquire('a', LONG_WAIT_MS);
    const c = slots.acquire('c', LONG_WAIT_MS);
    penalised.add('a');
    // a has its one call in flight: b's slot goes to c, though a's call came first.
    slots.release('b');
    expect(await answer(c, 'c')).toMatchObject({ ok: true });
    expect(slots.waiting('a')).toBe(1);
    slots.release('a');
    expect(await answer(a2, "a's second call")).toMatchObject({ ok: true });
  });
});
