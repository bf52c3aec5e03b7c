import { describe, expect, it } from 'vitest';
import { FAILOVER_CONTROLLED_BY_LABEL } from '../kube/keys.js';
import { isClaimed, STEER_LABEL, splitMode } from './split-selection.js';
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
