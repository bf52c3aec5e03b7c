import { describe, expect, it } from 'vitest';
import { FAILOVER_CONTROLLED_BY_LABEL } from '../kube/keys.js';
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
    const s = trafficSplit('shop', name, apex, [], { labels });
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
});
