import { describe, expect, it } from 'vitest';
import { DRAINING_ALLOWANCE, sessionCapRefusal } from './session-caps.js';

const caps = { perPeer: 2, total: 100 };

describe('sessionCapRefusal', () => {
  it.each<[string, { active: number; all: number }, number, RegExp | undefined]>([
    ['a first session', { active: 0, all: 0 }, 0, undefined],
    ['at the per-peer cap', { active: 2, all: 2 }, 2, /the limit is 2$/],
    ['the cap reached by active ones, draining ones aside', { active: 1, all: 5 }, 5, undefined],
    // A peer that drains its own sessions (its GOAWAY, one tunnel kept) stays bounded.
    [
      'draining ones up to the allowance',
      { active: 0, all: 2 * DRAINING_ALLOWANCE },
      8,
      /8 of them draining: the limit is 8 in all$/,
    ],
    ['at the total', { active: 0, all: 0 }, 100, /this gateway's limit is 100$/],
  ])('%s', (_name, held, total, refusal) => {
    const got = sessionCapRefusal(held, total, caps);
    if (refusal) expect(got).toMatch(refusal);
    else expect(got).toBeUndefined();
  });
});
