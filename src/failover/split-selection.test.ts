import { describe, expect, it } from 'vitest';
import { FAILOVER_CONTROLLED_BY_LABEL } from '../kube/keys.js';
import type { TrafficSplit } from '../kube/types.js';
import { apexRivals, isClaimed, STEER_LABEL, splitMode } from './split-selection.js';
import { trafficSplit } from './test-builders.js';

const withLabels = (labels: Record<string, string>) =>
  trafficSplit('ns', 'podinfo', 'podinfo', [], { labels });

describe('splitMode and isClaimed', () => {
  it.each<[string, Record<string, string>, ReturnType<typeof splitMode>, boolean]>([
    [
      'controlled by this controller',
      { [FAILOVER_CONTROLLED_BY_LABEL]: 'linkerd-failover' },
      'failover',
      true,
    ],
    ['controlled by another controller', { [FAILOVER_CONTROLLED_BY_LABEL]: 'team-b' }, null, true],
    ['steer-only: every controller steers it', { [STEER_LABEL]: 'true' }, 'steer', true],
    [
      "both labels, another controller's: a failover split of that one alone",
      { [FAILOVER_CONTROLLED_BY_LABEL]: 'team-b', [STEER_LABEL]: 'true' },
      null,
      true,
    ],
    ['neither label: nobody', {}, null, false],
  ])('%s', (_name, labels, mode, claimed) => {
    expect(splitMode(withLabels(labels), 'linkerd-failover')).toBe(mode);
    expect(isClaimed(withLabels(labels))).toBe(claimed);
  });
});

describe('apexSteerer: which split of an apex steers it', () => {
  const at = (
    name: string,
    apex: string,
    created: string,
    labels: Record<string, string> = { [STEER_LABEL]: 'true' },
  ) => {
    const s = trafficSplit('shop', name, apex, [{ service: apex, weight: 1 }], { labels });
    return { ...s, metadata: { ...s.metadata, creationTimestamp: created as unknown as Date } };
  };

  it('the oldest claimed split of the apex, then by name; others and unclaimed ones do not count', () => {
    const splits = [
      at('b-newer', 'podinfo', '2026-01-02T00:00:00Z'),
      at('z-oldest', 'podinfo', '2026-01-01T00:00:00Z'),
      at('a-tie', 'podinfo', '2026-01-01T00:00:00Z'),
      at('older-other-apex', 'cart', '2025-01-01T00:00:00Z'),
      at('unclaimed', 'podinfo', '2025-01-01T00:00:00Z', {}),
      {
        ...at('other-namespace', 'podinfo', '2025-01-01T00:00:00Z'),
        metadata: { namespace: 'other', name: 'x' },
      },
    ];
    expect(apexRivals(splits, 'shop', 'podinfo').map((s) => s.metadata?.name)).toEqual([
      'a-tie',
      'z-oldest',
      'b-newer',
    ]);
  });

  it('an Invalid split holds the apex only while it keeps apex slices it wrote before', () => {
    const withBackends = (s: ReturnType<typeof at>, weight: number | string) => ({
      ...s,
      spec: { ...s.spec, backends: [{ service: 'podinfo', weight }] },
    });
    const splits = [
      withBackends(at('valid', 'podinfo', '2026-01-02T00:00:00Z'), 1),
      { ...at('no-backends', 'podinfo', '2026-01-01T00:00:00Z'), spec: { service: 'podinfo', backends: [] } },
      withBackends(at('bad-weight', 'podinfo', '2026-01-01T00:00:00Z'), 'heavy'),
      withBackends(at('kept-slices', 'podinfo', '2026-01-01T00:00:00Z'), -1),
    ];
    const names = (hasSlices: (s: TrafficSplit) => boolean) =>
      apexRivals(splits, 'shop', 'podinfo', hasSlices).map((s) => s.metadata?.name);
    expect(names(() => false)).toEqual(['valid']);
    expect(names((s) => s.metadata?.name === 'kept-slices')).toEqual(['kept-slices', 'valid']);
  });
});
