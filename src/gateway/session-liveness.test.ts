/** The deciders of session liveness: keepalive ticks, suspicion, and the CONNECT timer's stages. */
import { describe, expect, it } from 'vitest';
import { connectTimers, keepAliveStep, suspicionStep } from './session-liveness.js';

describe('keepAliveStep', () => {
  it.each([
    ['no PING in flight: PING', undefined, 1_000, 'ping'],
    ['the PING of the previous tick is unanswered: gone', 1_000, 1_000, 'dead'],
    ['an older PING is unanswered: gone', 400, 1_000, 'dead'],
    ["suspicion's PING, sent since the previous tick: left to its deadline", 1_500, 1_000, 'wait'],
  ] as const)('%s', (_, pingSentAt, previousTickAt, expected) => {
    expect(keepAliveStep(pingSentAt, previousTickAt)).toBe(expected);
  });
});

describe('suspicionStep', () => {
  const base = {
    suspecting: false,
    pingSentAt: undefined,
    provenAt: Number.NEGATIVE_INFINITY,
    connectSentAt: 5_000,
  };
  it.each([
    ['nothing known: PING', {}, 'ping'],
    ['a PING already in flight: watch its answer', { pingSentAt: 4_000 }, 'watch'],
    ['already suspect: nothing more', { suspecting: true }, 'none'],
    ['a PING sent after the CONNECT was answered: the peer read it, alive', { provenAt: 5_000 }, 'none'],
    ['only a PING sent before the CONNECT was answered: PING', { provenAt: 4_999 }, 'ping'],
  ] as const)('%s', (_, extra, expected) => {
    expect(suspicionStep({ ...base, ...extra })).toBe(expected);
  });
});

describe('connectTimers', () => {
  it.each([
    ['suspect at 1 s, give up at 15 s', 1_000, 15_000, { firstMs: 1_000, restMs: 14_000 }],
    ['suspicion off', 0, 15_000, { firstMs: 15_000, restMs: 0 }],
    ['suspicion no earlier than the deadline: one timer', 15_000, 15_000, { firstMs: 15_000, restMs: 0 }],
  ])('%s', (_, suspectAfterMs, responseTimeoutMs, expected) => {
    expect(connectTimers(suspectAfterMs, responseTimeoutMs)).toEqual(expected);
  });
});
