import { describe, expect, it } from 'vitest';
import { CallerPenalties, MAX_PENALISED_ADDRESSES, PENALTY_MS, penaltyAfter } from './caller-penalty.js';
import type { CertifyOutcome } from './certify-service.js';

describe('penaltyAfter: what each Certify outcome does to its address', () => {
  it.each<[CertifyOutcome, ReturnType<typeof penaltyAfter>]>([
    ['unauthenticated', 'impose'], // the TokenReview refused the token (expired, wrong audience), or no JWT at all
    ['denied', 'impose'], // an account that may hold no identity, or a CSR for another's
    ['issued', 'clear'],
    ['invalid', 'keep'], // a malformed CSR says nothing of the credentials
    ['unavailable', 'keep'], // the API server failed, not the caller
    ['cancelled', 'keep'],
    ['busy', 'keep'],
    ['throttled', 'keep'],
    ['penalised', 'keep'], // refused for the penalty itself: it neither renews nor clears it
    ['internal', 'keep'],
  ])('%s → %s', (outcome, change) => {
    expect(penaltyAfter(outcome)).toBe(change);
  });
});

const A = '10.42.3.10';
const B = '10.42.3.11';
const C = '10.42.3.12';

type Step =
  | [at: number, record: string, outcome: CertifyOutcome, imposed: 'imposed' | undefined]
  | [at: number, check: string, penalised: boolean];

/** Runs `steps` against one table at the times they name; each checks what it returns. */
function run(steps: Step[], options: { maxAddresses?: number } = {}) {
  let now = 0;
  const penalties = new CallerPenalties({ now: () => now, ...options });
  for (const step of steps) {
    now = step[0];
    if (step.length === 4) expect(penalties.record(step[1], step[2]), `${step}`).toBe(step[3]);
    else expect(penalties.isPenalised(step[1]), `${step}`).toBe(step[2]);
  }
  return penalties;
}

describe('CallerPenalties', () => {
  it.each<[string, Step[]]>([
    [
      'a refusal penalises its address for PENALTY_MS, and only its address',
      [
        [0, A, false],
        [1000, A, 'unauthenticated', 'imposed'],
        [1000, A, true],
        [1000, B, false],
        [1000 + PENALTY_MS - 1, A, true],
        [1000 + PENALTY_MS, A, false],
      ],
    ],
    [
      'a refusal while penalised renews the penalty from then, and is not a new one',
      [
        [0, A, 'denied', 'imposed'],
        [50_000, A, 'unauthenticated', undefined],
        [50_000 + PENALTY_MS - 1, A, true],
        [50_000 + PENALTY_MS, A, false],
        [50_000 + PENALTY_MS, A, 'denied', 'imposed'],
      ],
    ],
    [
      'a certificate issued clears the penalty at once',
      [
        [0, A, 'unauthenticated', 'imposed'],
        [10, A, 'issued', undefined],
        [10, A, false],
        [20, A, 'unauthenticated', 'imposed'],
      ],
    ],
    [
      'other outcomes neither impose nor clear',
      [
        [0, B, 'unavailable', undefined],
        [0, B, 'invalid', undefined],
        [0, B, false],
        [0, A, 'unauthenticated', 'imposed'],
        [1, A, 'penalised', undefined],
        [2, A, 'busy', undefined],
        [3, A, 'cancelled', undefined],
        [3, A, true],
      ],
    ],
  ])('%s', (_what, steps) => {
    run(steps);
  });

  it('holds at most maxAddresses: a new one evicts the expired first, then the oldest penalty', () => {
    const penalties = run(
      [
        [0, A, 'unauthenticated', 'imposed'],
        [1, B, 'unauthenticated', 'imposed'],
        // Full: C evicts the oldest, A.
        [2, C, 'unauthenticated', 'imposed'],
        [2, A, false],
        [2, B, true],
        [2, C, true],
        // B renewed: C is now the oldest.
        [3, B, 'denied', undefined],
        [4, A, 'unauthenticated', 'imposed'],
        [4, C, false],
        [4, B, true],
        // B's penalty has ended: a new address takes its room, and A keeps its penalty.
        [3 + PENALTY_MS, C, 'unauthenticated', 'imposed'],
        [3 + PENALTY_MS, A, true],
      ],
      { maxAddresses: 2 },
    );
    expect(penalties.size).toBe(2);
  });

  it('stays bounded under a flood of ever new addresses', () => {
    let now = 0;
    const penalties = new CallerPenalties({ now: () => now });
    for (let i = 0; i < MAX_PENALISED_ADDRESSES * 3; i++) {
      now = i;
      penalties.record(`fd00::${i.toString(16)}`, 'unauthenticated');
    }
    expect(penalties.size).toBe(MAX_PENALISED_ADDRESSES);
    // The newest are the ones remembered.
    expect(penalties.isPenalised(`fd00::${(MAX_PENALISED_ADDRESSES * 3 - 1).toString(16)}`)).toBe(true);
    expect(penalties.isPenalised('fd00::0')).toBe(false);
  });
});
