import { describe, expect, it } from 'vitest';
import { remoteApiChange } from './remote-api-health.js';

describe('remoteApiChange', () => {
  it.each<[string, number | undefined, boolean, ReturnType<typeof remoteApiChange>]>([
    ['answering, still up: nothing', undefined, true, { since: undefined }],
    ['lost: said, timed from now', undefined, false, { since: 10_000, notice: { kind: 'unreachable' } }],
    ['still down (a retry): nothing, timed from the start', 4_000, false, { since: 4_000 }],
    [
      'back: said, with for how long',
      4_000,
      true,
      { since: undefined, notice: { kind: 'reachable', downSeconds: 6 } },
    ],
    [
      'back within 50 ms: 0',
      9_951,
      true,
      { since: undefined, notice: { kind: 'reachable', downSeconds: 0 } },
    ],
    ['rounded to tenths', 8_740, true, { since: undefined, notice: { kind: 'reachable', downSeconds: 1.3 } }],
  ])('%s', (_, since, up, want) => {
    expect(remoteApiChange(since, up, 10_000)).toEqual(want);
  });
});
