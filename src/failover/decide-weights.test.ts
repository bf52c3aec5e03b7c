import { describe, expect, it } from 'vitest';
import {
  decideWeights,
  type FailoverMemory,
  memoryFor,
  onBackups,
  overwrittenEvent,
  resumeMemory,
  steerOnlyState,
} from './decide-weights.js';
import type { ParsedSplit } from './parse-split.js';

function split(weights: [number, number, number], restoreAfterMs = 0): ParsedSplit {
  return {
    namespace: 'test',
    name: 'podinfo',
    apex: 'podinfo',
    primary: 'podinfo',
    restoreAfterMs,
    backends: [
      { service: 'podinfo', weight: weights[0] },
      { service: 'podinfo-west', weight: weights[1] },
      { service: 'podinfo-north', weight: weights[2] },
    ],
  };
}

const ready = (p: number, w: number, n: number) =>
  new Map([
    ['podinfo', p],
    ['podinfo-west', w],
    ['podinfo-north', n],
  ]);

const primaryMemory: FailoverMemory = { state: 'Primary', active: ['podinfo'] };
const fallbackMemory: FailoverMemory = { state: 'Fallback', active: ['podinfo-west', 'podinfo-north'] };

describe('decideWeights', () => {
  it.each<[string, [number, number, number], Map<string, number>, FailoverMemory | undefined, object]>([
    [
      'healthy primary keeps all the weight',
      [1, 0, 0],
      ready(2, 1, 1),
      primaryMemory,
      { state: 'Primary', w: [1, 0, 0], changed: false, event: undefined },
    ],
    [
      'a 50/50 split under failover control goes to the primary',
      [50, 50, 0],
      ready(2, 1, 1),
      undefined,
      { state: 'Primary', w: [1, 0, 0], changed: true, event: undefined },
    ],
    [
      'primary down: every ready backup gets an equal share',
      [1, 0, 0],
      ready(0, 1, 3),
      primaryMemory,
      {
        state: 'Fallback',
        w: [0, 1, 1],
        changed: true,
        event: 'failing over to podinfo-west, podinfo-north',
      },
    ],
    [
      'primary down: a backup that is not ready gets nothing',
      [1, 0, 0],
      ready(0, 0, 1),
      primaryMemory,
      { state: 'Fallback', w: [0, 0, 1], changed: true, event: 'failing over to podinfo-north' },
    ],
    [
      'nothing ready: weights unchanged, never all zero',
      [0, 1, 1],
      ready(0, 0, 0),
      fallbackMemory,
      {
        state: 'NothingReady',
        w: [0, 1, 1],
        changed: false,
        event: 'no backend of podinfo has a ready endpoint; weights left unchanged',
      },
    ],
    [
      'primary back: traffic returns at once without hysteresis',
      [0, 1, 1],
      ready(1, 1, 1),
      fallbackMemory,
      { state: 'Primary', w: [1, 0, 0], changed: true, event: 'restored to primary podinfo' },
    ],
    [
      'fallback steady: no event, no change',
      [0, 1, 1],
      ready(0, 1, 1),
      fallbackMemory,
      { state: 'Fallback', w: [0, 1, 1], changed: false, event: undefined },
    ],
  ])('%s', (_name, weights, readiness, memory, expected) => {
    const d = decideWeights(split(weights), readiness, 0, memory);
    expect({
      state: d.state,
      w: d.weights.map((b) => b.weight),
      changed: d.changed,
      event: d.event?.message,
    }).toEqual(expected);
  });

  it('holds traffic on the backups for restore-after, then returns it', () => {
    const s = split([0, 1, 1], 30_000);
    const first = decideWeights(s, ready(1, 1, 1), 1000, fallbackMemory);
    expect([first.state, first.changed, first.requeueAfterMs, first.event]).toEqual([
      'Fallback',
      false,
      30_000,
      undefined,
    ]);
    const middle = decideWeights(s, ready(1, 1, 1), 21_000, first.memory);
    expect([middle.state, middle.requeueAfterMs]).toEqual(['Fallback', 10_000]);
    const done = decideWeights(s, ready(1, 1, 1), 31_000, middle.memory);
    expect([done.state, done.changed, done.event?.message]).toEqual([
      'Primary',
      true,
      'restored to primary podinfo',
    ]);
  });

  it('a primary that flaps during restore-after starts the wait again', () => {
    const s = split([0, 1, 1], 30_000);
    const a = decideWeights(s, ready(1, 1, 1), 0, fallbackMemory);
    const b = decideWeights(s, ready(0, 1, 1), 20_000, a.memory);
    expect(b.memory.primaryReadySince).toBeUndefined();
    const c = decideWeights(s, ready(1, 1, 1), 25_000, b.memory);
    expect([c.state, c.requeueAfterMs]).toEqual(['Fallback', 30_000]);
  });

  it('restores at once, hysteresis or not, when the backups are gone too', () => {
    const d = decideWeights(split([0, 1, 1], 30_000), ready(1, 0, 0), 0, fallbackMemory);
    expect(d.state).toBe('Primary');
  });

  it('nothing ready: no backend is active, whichever keeps the weight; where traffic was is remembered', () => {
    const d = decideWeights(split([0, 1, 1]), ready(0, 0, 0), 0, fallbackMemory);
    expect([d.state, d.activeBackends, d.memory.active]).toEqual([
      'NothingReady',
      [],
      ['podinfo-west', 'podinfo-north'],
    ]);
  });

  it('after nothing was ready, a returning primary counts as a restore', () => {
    const s = split([0, 1, 1]);
    const dark = decideWeights(s, ready(0, 0, 0), 0, fallbackMemory);
    const back = decideWeights(s, ready(1, 0, 0), 1, dark.memory);
    expect([back.state, back.event?.message]).toEqual(['Primary', 'restored to primary podinfo']);
    const again = decideWeights(s, ready(0, 0, 0), 2, back.memory);
    expect(again.event?.reason).toBe('NothingReady');
    const still = decideWeights(s, ready(0, 0, 0), 3, again.memory);
    expect(still.event).toBeUndefined();
  });
});

describe('resumeMemory: where a split stands, from the split alone (restart, new leader)', () => {
  it.each<[string, [number, number, number], string | undefined, string, string[]]>([
    // The old leader patched the weights back and stopped before the status write.
    ['status Fallback over weights on the primary: Primary', [1, 0, 0], 'Fallback', 'Primary', ['podinfo']],
    [
      'status Primary over weights on the backups: Fallback',
      [0, 1, 1],
      'Primary',
      'Fallback',
      ['podinfo-west', 'podinfo-north'],
    ],
    [
      'no status (a CRD without one): the weights',
      [0, 1, 1],
      undefined,
      'Fallback',
      ['podinfo-west', 'podinfo-north'],
    ],
    ['a user-written 50/50: Primary', [50, 50, 0], undefined, 'Primary', ['podinfo', 'podinfo-west']],
    [
      'NothingReady, which leaves the weights alone, from the status',
      [0, 1, 1],
      'NothingReady',
      'NothingReady',
      ['podinfo-west', 'podinfo-north'],
    ],
  ])('%s', (_name, weights, status, state, active) => {
    expect(resumeMemory(split(weights), 'uid-1', status)).toMatchObject({
      state,
      active,
      uid: 'uid-1',
      primary: 'podinfo',
    });
  });

  it('a healthy primary whose weights were restored before a restart keeps them, restore-after or not', () => {
    const s = split([1, 0, 0], 300_000);
    const d = decideWeights(s, ready(1, 1, 1), 0, resumeMemory(s, 'uid-1', 'Fallback'));
    expect([d.state, d.changed, d.requeueAfterMs, d.event]).toEqual(['Primary', false, undefined, undefined]);
  });
});

describe('memoryFor: memory belongs to one split object and one primary', () => {
  const s = split([1, 0, 0], 30_000);
  const held: FailoverMemory = { ...fallbackMemory, uid: 'uid-1', primary: 'podinfo', primaryReadySince: 5 };
  it('the same split and primary: what was remembered', () => {
    expect(memoryFor(held, s, 'uid-1', 'Fallback')).toBe(held);
  });
  it('a split created again under its name (another uid): what the new one says', () => {
    const m = memoryFor(held, s, 'uid-2', undefined);
    expect([m.state, m.uid, m.primaryReadySince]).toEqual(['Primary', 'uid-2', undefined]);
    // Its healthy primary keeps the traffic: no inherited Fallback, no restore-after wait.
    const d = decideWeights(s, ready(1, 1, 1), 10, m);
    expect([d.state, d.changed, d.requeueAfterMs]).toEqual(['Primary', false, undefined]);
  });
  it('another primary: what the split says, for that primary', () => {
    const west = { ...split([0, 1, 1], 30_000), primary: 'podinfo-west' };
    expect(memoryFor(held, west, 'uid-1', 'Fallback')).toMatchObject({
      state: 'Primary',
      primary: 'podinfo-west',
    });
  });
  it('decideWeights carries the uid and primary, and the weights it leaves', () => {
    const d = decideWeights(s, ready(0, 1, 1), 0, held);
    expect(d.memory).toMatchObject({ uid: 'uid-1', primary: 'podinfo', weights: d.weights });
  });
});

describe('restore-after holds only a primary that has no weight', () => {
  it('a primary named while it carries a backup share keeps it: no wait, traffic stays on it', () => {
    // Fallback on west and north; the operator names west the primary.
    const west = { ...split([0, 1, 1], 30_000), primary: 'podinfo-west' };
    const d = decideWeights(west, ready(0, 1, 1), 0, fallbackMemory);
    expect([d.state, d.weights.map((b) => b.weight), d.requeueAfterMs]).toEqual([
      'Primary',
      [0, 1, 0],
      undefined,
    ]);
  });
  it('a primary given its weight back by hand during the wait keeps it', () => {
    const d = decideWeights(split([1, 1, 1], 30_000), ready(1, 1, 1), 0, fallbackMemory);
    expect([d.state, d.weights.map((b) => b.weight), d.requeueAfterMs]).toEqual([
      'Primary',
      [1, 0, 0],
      undefined,
    ]);
  });
});

describe('overwrittenEvent: a hand edit reverted is said', () => {
  const w = (p: number, we: number, n: number) => split([p, we, n]).backends;
  it.each<
    [string, ReturnType<typeof w>, ReturnType<typeof w> | undefined, ReturnType<typeof w>, string | undefined]
  >([
    [
      'the primary drained by hand, put back',
      w(0, 1, 0),
      w(1, 0, 0),
      w(1, 0, 0),
      'weights podinfo=0, podinfo-west=1, podinfo-north=0 found, not the ones the failover controller left (podinfo=1, podinfo-west=0, podinfo-north=0): wrote podinfo=1, podinfo-west=0, podinfo-north=0',
    ],
    ['its own weights changed by a failover: no event', w(1, 0, 0), w(1, 0, 0), w(0, 1, 1), undefined],
    ['nothing to write: no event', w(0, 1, 0), w(1, 0, 0), w(0, 1, 0), undefined],
    ['nothing remembered: no event', w(0, 1, 0), undefined, w(1, 0, 0), undefined],
  ])('%s', (_name, found, left, written, message) => {
    expect(overwrittenEvent(found, left, written)?.message).toBe(message);
  });

  // The backend list changed since the controller wrote: only the backends in both say whether a
  // weight was edited.
  const two = (p: number, we: number) => w(p, we, 0).slice(0, 2);
  it.each<[string, ReturnType<typeof w>, ReturnType<typeof w>, ReturnType<typeof w>, boolean]>([
    ['a backup added at weight 0 while failed over: no event', w(0, 1, 0), two(0, 1), w(0, 1, 1), false],
    ['a backup removed: no event', two(0, 1), w(0, 1, 1), two(1, 0), false],
    ['a backup added beside a hand edit of the others: an event', w(1, 0, 0), two(0, 1), w(0, 1, 1), true],
    ['a backup added with weight by hand, set to 0: an event', w(1, 0, 1), two(1, 0), w(1, 0, 0), true],
  ])('%s', (_name, found, left, written, event) => {
    expect(overwrittenEvent(found, left, written)?.reason === 'WeightsOverwritten').toBe(event);
  });
});

describe("steerOnlyState: the user's weights, never rewritten", () => {
  it.each<[string, [number, number, number], Map<string, number>, string, string[]]>([
    ['weighted backends ready', [1, 1, 0], ready(1, 1, 1), 'Weighted', ['podinfo', 'podinfo-west']],
    [
      'every weight 0, backends ready: no weight, not "nothing ready"',
      [0, 0, 0],
      ready(1, 1, 1),
      'NoWeight',
      [],
    ],
    ['weight only on unready backends', [0, 1, 0], ready(1, 0, 1), 'NothingReady', []],
  ])('%s', (_name, weights, readiness, state, active) => {
    expect(steerOnlyState(split(weights), readiness)).toEqual({ state, activeBackends: active });
  });
});

describe('onBackups: what isthmus_failover_active reports', () => {
  it.each<[string, [number, number, number], boolean]>([
    ['all on the primary', [1, 0, 0], false],
    ['all on backups', [0, 1, 1], true],
    ['primary and a backup (a user-written split nothing has decided yet)', [1, 1, 0], false],
    ['nothing weighted', [0, 0, 0], false],
  ])('%s', (_name, weights, expected) => {
    expect(onBackups(split(weights).backends, 'podinfo')).toBe(expected);
  });
});
