import { describe, expect, it } from 'vitest';
import { STEER_LABEL } from './split-selection.js';
import { renderStatusTable, statusRow } from './status-view.js';
import { trafficSplit } from './test-builders.js';

const backends = (p: number, w: number) => [
  { service: 'podinfo', weight: p },
  { service: 'podinfo-west', weight: w },
];

const cond = (type: string, status: 'True' | 'False', reason: string) => ({
  type,
  status,
  reason,
  message: '',
  lastTransitionTime: new Date('2026-11-23T00:00:00Z'),
});
const valid = [cond('Accepted', 'True', 'Valid')];
const reconciled = (
  weights: ReturnType<typeof backends>,
  state: string,
  activeBackends: string[],
  conditions: ReturnType<typeof cond>[],
) => ({
  ...trafficSplit('test', 'podinfo', 'podinfo', weights),
  status: { state, activeBackends, conditions },
});

describe('statusRow', () => {
  it.each([
    [
      'weights on the primary',
      trafficSplit('test', 'podinfo', 'podinfo', backends(1, 0)),
      'Primary',
      ['podinfo'],
    ],
    [
      'weights on a backup',
      trafficSplit('test', 'podinfo', 'podinfo', backends(0, 1)),
      'Fallback',
      ['podinfo-west'],
    ],
    [
      'the state the controller wrote',
      {
        ...trafficSplit('test', 'podinfo', 'podinfo', backends(1, 1)),
        status: { state: 'Fallback', activeBackends: ['podinfo-west'] },
      },
      'Fallback',
      ['podinfo-west'],
    ],
    [
      'NothingReady as an earlier controller wrote it, the weighted backend listed: none is active',
      {
        ...trafficSplit('test', 'podinfo', 'podinfo', backends(0, 1)),
        status: { state: 'NothingReady', activeBackends: ['podinfo-west'] },
      },
      'NothingReady',
      [],
    ],
    [
      'a steer-only split not yet reconciled: its weights, not a failover',
      trafficSplit('test', 'podinfo', 'podinfo', backends(50, 50), { labels: { [STEER_LABEL]: 'true' } }),
      'Weighted',
      ['podinfo', 'podinfo-west'],
    ],
    [
      'a steer-only split not yet reconciled, every weight 0: no traffic, as the controller will say',
      trafficSplit('test', 'podinfo', 'podinfo', backends(0, 0), { labels: { [STEER_LABEL]: 'true' } }),
      'NoWeight',
      [],
    ],
    [
      'an invalid split not yet reconciled: the reason, not Invalid',
      trafficSplit('test', 'podinfo', 'podinfo', [{ service: 'podinfo', weight: 'x' }]),
      'InvalidWeight',
      [],
    ],
    [
      "an invalid split: the reason, and where the weights and the apex's own pods send traffic",
      reconciled(backends(1, 0), 'Invalid', ['podinfo'], [cond('Accepted', 'False', 'UnknownPrimary')]),
      'UnknownPrimary',
      ['podinfo'],
    ],
    [
      'its apex missing: the reason, no traffic, whatever an earlier controller listed',
      reconciled(
        backends(0, 1),
        'Fallback',
        ['podinfo-west'],
        [...valid, cond('Steered', 'False', 'ApexNotFound')],
      ),
      'ApexNotFound',
      [],
    ],
    [
      "another split's apex: the conflict, not the weights",
      reconciled(
        backends(1, 0),
        'Primary',
        ['podinfo'],
        [...valid, cond('Steered', 'False', 'ApexConflict')],
      ),
      'ApexConflict',
      [],
    ],
    [
      "every weight 0: NoWeight, and the apex's own pods that serve",
      reconciled(backends(0, 0), 'NoWeight', ['podinfo'], [...valid, cond('Available', 'False', 'NoWeight')]),
      'NoWeight',
      ['podinfo'],
    ],
    [
      'a headless apex: the mode callers in a mesh get',
      reconciled(
        backends(0, 1),
        'Fallback',
        ['podinfo-west'],
        [...valid, cond('Steered', 'False', 'HeadlessApex')],
      ),
      'Fallback',
      ['podinfo-west'],
    ],
  ])('%s', (_name, split, status, active) => {
    expect(statusRow(split)).toEqual({
      namespace: 'test',
      trafficSplit: 'podinfo',
      status,
      activeBackends: active,
    });
  });
});

describe('renderStatusTable', () => {
  it('renders the linkerd-failover columns', () => {
    const text = renderStatusTable([
      {
        namespace: 'test',
        trafficSplit: 'podinfo',
        status: 'Fallback',
        activeBackends: ['podinfo-west', 'podinfo-north'],
      },
    ]);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^NAMESPACE\s+TRAFFIC_SPLIT\s+STATUS\s+ACTIVE_BACKENDS$/);
    expect(lines[1]).toMatch(/^test\s+podinfo\s+Fallback\s+podinfo-west,podinfo-north$/);
  });

  it('says what it looked for when there is nothing to show, rather than a bare header', () => {
    expect(renderStatusTable([], 'team-a')).toBe(
      'No TrafficSplits for the failover controller: none labelled failover.linkerd.io/controlled-by=team-a or split.isthmus.dev/steer=true.\n',
    );
  });
});
