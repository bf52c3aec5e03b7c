import { describe, expect, it } from 'vitest';
import { failoverGauges } from './metrics.js';

describe('failoverGauges: isthmus_failover_active and isthmus_failover_nothing_ready of a claimed split', () => {
  it.each<[string, Parameters<typeof failoverGauges>[0], { active: number; nothingReady: number }]>([
    [
      'on the primary',
      { onBackups: false, state: 'Primary', steersNothing: false },
      { active: 0, nothingReady: 0 },
    ],
    [
      'failed over',
      { onBackups: true, state: 'Fallback', steersNothing: false },
      { active: 1, nothingReady: 0 },
    ],
    // The alert does not resolve as things get worse.
    [
      'nothing ready after a failover',
      { onBackups: true, state: 'NothingReady', steersNothing: false },
      { active: 1, nothingReady: 1 },
    ],
    // An Invalid split still sends callers where its weights and kept slices do.
    [
      'Invalid, its weights left on the backups',
      { onBackups: true, state: 'Invalid', steersNothing: false },
      { active: 1, nothingReady: 0 },
    ],
    // No caller reaches the split's backends through it: nothing failed over, nothing to page for.
    [
      "weights on a backup, the apex missing or another split's",
      { onBackups: true, state: 'Fallback', steersNothing: true },
      { active: 0, nothingReady: 0 },
    ],
    [
      'nothing ready, the apex missing',
      { onBackups: true, state: 'NothingReady', steersNothing: true },
      { active: 0, nothingReady: 0 },
    ],
    [
      'Invalid on a missing apex',
      { onBackups: true, state: 'Invalid', steersNothing: true },
      { active: 0, nothingReady: 0 },
    ],
  ])('%s', (_name, input, expected) => {
    expect(failoverGauges(input)).toEqual(expected);
  });
});
