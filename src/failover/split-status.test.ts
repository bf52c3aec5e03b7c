import { describe, expect, it } from 'vitest';
import type { TrafficSplit, V1Condition, V1Service } from '../kube/types.js';
import type { ParsedSplit } from './parse-split.js';
import {
  availableCondition,
  clearedStatus,
  desiredStatus,
  invalidSplitTraffic,
  reachedWithoutWeight,
  restoreAfterCondition,
  type SplitOutcome,
  sharesMessage,
  shownReason,
} from './split-status.js';
import { service } from './test-builders.js';

const t0 = new Date('2026-01-01T00:00:00.123Z');
const t1 = new Date('2026-01-01T00:01:00Z');

const fallback: SplitOutcome = {
  generation: 2,
  state: 'Fallback',
  activeBackends: ['podinfo-west'],
  conditions: {
    Accepted: { status: true, reason: 'Valid', message: 'split is valid' },
    Available: { status: true, reason: 'Fallback', message: 'traffic on podinfo-west' },
  },
};

describe('desiredStatus', () => {
  it('writes conditions with observedGeneration and a second-precision transition time', () => {
    const { status, changed } = desiredStatus(undefined, fallback, t0);
    expect(changed).toBe(true);
    expect(status.conditions?.[1]).toEqual({
      type: 'Available',
      status: 'True',
      reason: 'Fallback',
      message: 'traffic on podinfo-west',
      observedGeneration: 2,
      lastTransitionTime: '2026-01-01T00:00:00Z',
    });
  });

  it('reports no change when the owned fields are the same, whatever the time', () => {
    const first = desiredStatus(undefined, fallback, t0).status;
    expect(desiredStatus(first as TrafficSplit['status'], fallback, t1).changed).toBe(false);
  });

  it('keeps lastTransitionTime when only the reason changes, moves it when the status flips', () => {
    const first = desiredStatus(undefined, fallback, t0).status as TrafficSplit['status'];
    const primary: SplitOutcome = {
      ...fallback,
      state: 'Primary',
      conditions: { ...fallback.conditions, Available: { status: true, reason: 'Primary', message: 'm' } },
    };
    const second = desiredStatus(first, primary, t1);
    expect(second.changed).toBe(true);
    expect(second.status.conditions?.[1]?.lastTransitionTime).toBe('2026-01-01T00:00:00Z');
    const dark: SplitOutcome = {
      ...fallback,
      state: 'NothingReady',
      conditions: {
        ...fallback.conditions,
        Available: { status: false, reason: 'NothingReady', message: 'm' },
      },
    };
    const third = desiredStatus(second.status as TrafficSplit['status'], dark, t1);
    expect(third.status.conditions?.[1]?.lastTransitionTime).toBe('2026-01-01T00:01:00Z');
  });
});

describe('sharesMessage', () => {
  it('says what kube-proxy will do and how far that is from the weights', () => {
    expect(
      sharesMessage(
        [
          { service: 'podinfo', desired: 0.5, endpoints: 2, achieved: 2 / 3 },
          { service: 'podinfo-west', desired: 0.5, endpoints: 1, achieved: 1 / 3 },
          { service: 'podinfo-north', desired: 0, endpoints: 0, achieved: 0 },
        ],
        1 / 6,
      ),
    ).toBe(
      'podinfo 2 endpoint(s) 66.7% (weight 50%), podinfo-west 1 endpoint(s) 33.3% (weight 50%); max share error 16.7%',
    );
  });
});

describe('availableCondition', () => {
  it.each<[string, Parameters<typeof availableCondition>, string]>([
    [
      'failover, nothing ready',
      ['failover', 'NothingReady', []],
      'False/NothingReady: no backend has a ready endpoint; weights left as they were',
    ],
    [
      'steer-only, nothing weighted is ready',
      ['steer', 'NothingReady', []],
      'False/NothingReady: no backend with weight has a ready endpoint',
    ],
    [
      'steer-only, every weight 0',
      ['steer', 'NoWeight', []],
      "False/NoWeight: every backend has weight 0: the weights send callers in a mesh to none of them; callers without a mesh are not steered and reach only the apex's own endpoints, of which none is ready",
    ],
    [
      "steer-only, every weight 0, the apex's own pods ready: they serve callers without a mesh",
      ['steer', 'NoWeight', [], ['podinfo']],
      "False/NoWeight: every backend has weight 0: the weights send callers in a mesh to none of them; callers without a mesh are not steered: the apex's own endpoints serve them (podinfo)",
    ],
    ['fallback', ['failover', 'Fallback', ['podinfo-west']], 'True/Fallback: traffic on podinfo-west'],
    [
      "fallback while the apex's own pods take unmeshed traffic (a restore-after wait)",
      ['failover', 'Fallback', ['podinfo-west'], ['podinfo']],
      "True/Fallback: traffic on podinfo-west; callers without a mesh also reach podinfo through the apex's own endpoints (its selector), whatever the weights",
    ],
  ])('%s', (_name, args, expected) => {
    const c = availableCondition(...args);
    expect(`${c.status ? 'True' : 'False'}/${c.reason}: ${c.message}`).toBe(expected);
  });
});

describe('reachedWithoutWeight', () => {
  const shares = [
    { service: 'podinfo', desired: 0, endpoints: 2, achieved: 2 / 3 },
    { service: 'podinfo-west', desired: 1, endpoints: 1, achieved: 1 / 3 },
    { service: 'podinfo-north', desired: 0, endpoints: 0, achieved: 0 },
  ];
  it.each<[string, Parameters<typeof reachedWithoutWeight>, string[]]>([
    [
      "the apex's own pods, without weight, take a share",
      ['Fallback', ['podinfo-west'], shares],
      ['podinfo'],
    ],
    ['not steered: the weights alone', ['Fallback', ['podinfo-west'], undefined], []],
    ['every sharing backend weighted', ['Weighted', ['podinfo', 'podinfo-west'], shares], []],
    ['NothingReady lists none', ['NothingReady', [], shares], []],
    [
      "NoWeight: the apex's own pods still serve callers without a mesh (Isthmus lists nothing)",
      ['NoWeight', [], shares.map((s) => ({ ...s, achieved: s.service === 'podinfo' ? 1 : 0 }))],
      ['podinfo'],
    ],
  ])('%s', (_name, args, expected) => {
    expect(reachedWithoutWeight(...args)).toEqual(expected);
  });
});

describe('clearedStatus', () => {
  const ours = desiredStatus(undefined, fallback, t0).status as TrafficSplit['status'];
  const foreign: V1Condition = {
    type: 'Reconciled',
    status: 'True',
    reason: 'Done',
    message: '',
    lastTransitionTime: t0,
  };
  it('removes what Isthmus wrote and keeps what others did', () => {
    const current = { ...ours, conditions: [...(ours?.conditions ?? []), foreign], note: 'theirs' };
    expect(clearedStatus(current)).toEqual({
      status: { conditions: [foreign], note: 'theirs' },
      changed: true,
    });
    expect(clearedStatus(ours)).toEqual({ status: {}, changed: true });
  });
  it("leaves a status without Isthmus's fields whole, generic condition types included", () => {
    const theirs = { observedGeneration: 3, conditions: [{ ...foreign, type: 'Accepted' }] };
    expect(clearedStatus(theirs)).toEqual({ status: theirs, changed: false });
    expect(clearedStatus(undefined)).toEqual({ status: {}, changed: false });
  });
});

describe('restoreAfterCondition', () => {
  const parsed = (restoreAfterMs: number, restoreAfterInvalid?: string): ParsedSplit => ({
    namespace: 'test',
    name: 'podinfo',
    apex: 'podinfo',
    primary: 'podinfo',
    backends: [{ service: 'podinfo', weight: 1 }],
    restoreAfterMs,
    ...(restoreAfterInvalid === undefined ? {} : { restoreAfterInvalid }),
  });
  const selectorless = service('test', 'podinfo');
  const selecting = service('test', 'podinfo', [{ name: 'http', port: 9898 }], { app: 'podinfo' });
  const headless: V1Service = { ...selecting, spec: { ...selecting.spec, clusterIP: 'None' } };
  it.each<[string, ParsedSplit, V1Service | undefined, string | undefined]>([
    ['no annotation: no condition', parsed(0), selecting, undefined],
    [
      'a wait, on a selector-less apex',
      parsed(30_000),
      selectorless,
      'True/RestoreAfter: traffic returns to primary podinfo once it has been ready for 30s',
    ],
    [
      'a wait, on an apex with a selector: meshed callers only',
      parsed(1_500),
      selecting,
      'True/RestoreAfter: traffic returns to primary podinfo once it has been ready for 1.5s; for callers in a mesh only: apex Service podinfo has a selector, so the EndpointSlice controller lists the pods it selects as soon as they are ready and callers without a mesh reach them before the wait ends (an apex without a selector holds them too)',
    ],
    [
      'a wait, on an apex whose callers Isthmus does not steer anyway: no caveat',
      parsed(30_000),
      headless,
      'True/RestoreAfter: traffic returns to primary podinfo once it has been ready for 30s',
    ],
    [
      'no duration: ignored, and said so',
      parsed(0, 'soon'),
      selectorless,
      'False/InvalidRestoreAfter: failover.isthmus.dev/restore-after: "soon" is not a duration (such as 30s or 1m30s): ignored, so traffic returns to primary podinfo as soon as it is ready; failover itself is unaffected',
    ],
  ])('%s', (_name, split, apex, expected) => {
    const c = restoreAfterCondition(split, apex);
    expect(c && `${c.status ? 'True' : 'False'}/${c.reason}: ${c.message}`).toBe(expected);
  });
});

describe('shownReason: what `isthmus status` shows instead of a mode, for a split that steers nothing', () => {
  const c = (type: string, status: boolean, reason: string) => ({ type, status, reason });
  const valid = [c('Accepted', true, 'Valid'), c('ResolvedRefs', true, 'ResolvedRefs')];
  it.each<[string, Parameters<typeof shownReason>[0], string | undefined]>([
    [
      'steering: the mode is shown',
      [...valid, c('Available', true, 'Fallback'), c('Steered', true, 'Steered')],
      undefined,
    ],
    ['refused: the parse reason', [c('Accepted', false, 'UnknownPrimary')], 'UnknownPrimary'],
    [
      'no apex Service',
      [...valid, c('Available', true, 'Fallback'), c('Steered', false, 'ApexNotFound')],
      'ApexNotFound',
    ],
    [
      'another split steers the apex',
      [...valid, c('Available', true, 'Primary'), c('Steered', false, 'ApexConflict')],
      'ApexConflict',
    ],
    [
      'every weight 0',
      [...valid, c('Available', false, 'NoWeight'), c('Steered', true, 'Steered')],
      'NoWeight',
    ],
    // Callers in a mesh still follow the weights: the mode is what they get.
    [
      'a headless apex: meshed callers follow the weights',
      [...valid, c('Available', true, 'Fallback'), c('Steered', false, 'HeadlessApex')],
      undefined,
    ],
    [
      'a missing backend: the others still serve',
      [
        c('Accepted', true, 'Valid'),
        c('ResolvedRefs', false, 'BackendNotFound'),
        c('Available', true, 'Fallback'),
      ],
      undefined,
    ],
    ['nothing ready is a mode', [...valid, c('Available', false, 'NothingReady')], undefined],
  ])('%s', (_name, conditions, expected) => {
    expect(shownReason(conditions)).toBe(expected);
  });
});

describe('invalidSplitTraffic: where an Invalid split, not acted on, still sends callers', () => {
  const ready = new Map([
    ['podinfo', 2],
    ['podinfo-west', 1],
  ]);
  const readyOf = (service: string) => ready.get(service) ?? 0;
  const b = (service: string, weight: number) => ({ service, weight });
  it.each<[string, Parameters<typeof invalidSplitTraffic>, string[]]>([
    [
      "weights on the primary, the apex's own pods",
      ['podinfo', true, [b('podinfo', 1), b('podinfo-west', 0)], readyOf],
      ['podinfo'],
    ],
    // UnknownPrimary on a split the user wrote 0/0 with an apex that selects pods: they serve.
    [
      "every weight 0: the apex's own pods still serve",
      ['podinfo', true, [b('podinfo', 0), b('podinfo-west', 0)], readyOf],
      ['podinfo'],
    ],
    [
      'weights left on a backup',
      ['podinfo', true, [b('podinfo', 0), b('podinfo-west', 1), b('podinfo-north', 1)], readyOf],
      ['podinfo', 'podinfo-west'],
    ],
    [
      'a selector-less apex that is no backend: the weights alone',
      ['podinfo-global', true, [b('podinfo', 0), b('podinfo-west', 1)], readyOf],
      ['podinfo-west'],
    ],
    ['no apex: nothing', ['ghost', false, [b('podinfo', 1)], readyOf], []],
  ])('%s', (_name, args, expected) => {
    expect(invalidSplitTraffic(...args)).toEqual(expected);
  });
});
