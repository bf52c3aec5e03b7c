import { describe, expect, it } from 'vitest';
import { dueForApply, type WatchState } from './file-watch.js';

const T = 1_700_000_000_000;

describe('dueForApply', () => {
  it.each<[string, WatchState, string, boolean]>([
    ['the version in force', { version: 'a' }, 'a', false],
    ['a new version', { version: 'a' }, 'b', true],
    ['a refused version, no retry asked for', { version: 'a', refused: { version: 'b' } }, 'b', false],
    [
      'a refused version, before its retry',
      { version: 'a', refused: { version: 'b', retryAtMs: T + 1 } },
      'b',
      false,
    ],
    ['a refused version, at its retry', { version: 'a', refused: { version: 'b', retryAtMs: T } }, 'b', true],
    [
      'a refused version, after its retry',
      { version: 'a', refused: { version: 'b', retryAtMs: T - 1 } },
      'b',
      true,
    ],
    ['a version after a refused one', { version: 'a', refused: { version: 'b' } }, 'c', true],
    ['back to the version in force after a refusal', { version: 'a', refused: { version: 'b' } }, 'a', false],
  ])('%s', (_what, state, current, due) => {
    expect(dueForApply(state, current, T)).toBe(due);
  });
});
