import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IsthmusError, type IsthmusErrorCode } from '../errors.js';
import { type WalkAddress, walkAddresses } from './address-walk.js';

/**
 * The walk with attempts the test settles by hand and fake timers for its stagger and deadline:
 * which addresses are tried when, and what the caller hears.
 */
const A: WalkAddress = { host: '192.0.2.1', port: 4143 };
const B: WalkAddress = { host: '192.0.2.2', port: 4143 };
const C: WalkAddress = { host: '192.0.2.3', port: 4143 };
const label = (a: WalkAddress): string => `${a.host}:${a.port}`;
const fail = (code: IsthmusErrorCode, at: WalkAddress): IsthmusError =>
  new IsthmusError(code, `${code} at ${label(at)}`);

type Settle = (err: IsthmusError | null, got?: string) => void;

function walk(
  order: WalkAddress[],
  budgetMs = 3_000,
  sync: Map<WalkAddress, IsthmusError | string> = new Map(),
  waitForAsked = false,
) {
  const pending = new Map<string, Settle>();
  const tried: string[] = [];
  let heard: { err: IsthmusError | null; got: string | undefined; at: string } | undefined;
  let calls = 0;
  walkAddresses<string>({
    order,
    asked: A,
    budgetMs,
    waitForAsked,
    attempt: (at, cb) => {
      tried.push(label(at));
      const now = sync.get(at);
      if (now === undefined) pending.set(label(at), cb);
      else if (typeof now === 'string') cb(null, now);
      else cb(now);
    },
    stopped: () => false,
    done: (err, got, at) => {
      calls++;
      heard = { err, got, at: label(at) };
    },
  });
  return {
    tried,
    settle: (at: WalkAddress, err: IsthmusError | null, got?: string) => pending.get(label(at))!(err, got),
    heard: () => heard,
    calls: () => calls,
  };
}

describe('walkAddresses', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a session at the first address at once: no other tried, no timer left', () => {
    const w = walk([A, B, C], 3_000, new Map([[A, 'session-a']]));
    expect(w.tried).toEqual([label(A)]);
    expect(w.heard()).toEqual({ err: null, got: 'session-a', at: label(A) });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('fast failures move on at once, without waiting for the stagger', () => {
    const w = walk([A, B, C], 3_000, new Map([[A, fail('GATEWAY_UNREACHABLE', A)]]));
    expect(w.tried).toEqual([label(A), label(B)]);
    w.settle(B, fail('GATEWAY_UNREACHABLE', B));
    expect(w.tried).toEqual([label(A), label(B), label(C)]);
    w.settle(C, null, 'session-c');
    expect(w.heard()).toEqual({ err: null, got: 'session-c', at: label(C) });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('the next address once the one before has not answered within budget / (n + 1); the first session wins', () => {
    const w = walk([A, B, C]);
    vi.advanceTimersByTime(749);
    expect(w.tried).toEqual([label(A)]);
    vi.advanceTimersByTime(1);
    expect(w.tried).toEqual([label(A), label(B)]);
    w.settle(B, null, 'session-b');
    w.settle(A, null, 'session-a'); // later: serves the next caller, not this one
    expect(w.heard()).toEqual({ err: null, got: 'session-b', at: label(B) });
    expect(w.calls()).toBe(1);
  });

  it('every address hanging: each tried within the budget, the caller failed once at its end', () => {
    const w = walk([A, B, C]);
    vi.advanceTimersByTime(2_999);
    expect(w.tried).toEqual([label(A), label(B), label(C)]);
    expect(w.heard()).toBeUndefined();
    vi.advanceTimersByTime(1);
    const heard = w.heard();
    expect({ code: heard?.err?.code, message: heard?.err?.message }).toEqual({
      code: 'GATEWAY_CONNECT_TIMEOUT',
      message: `no session with ${label(A)} within 3000 ms; nor did the other addresses the Link names: ${label(B)} gave no answer yet; ${label(C)} gave no answer yet`,
    });
  });

  it('a failure of trust elsewhere is walked past; the error says the asked address first', () => {
    const w = walk([B, A], 3_000, new Map([[B, fail('GATEWAY_IDENTITY_MISMATCH', B)]]));
    expect(w.tried).toEqual([label(B), label(A)]);
    w.settle(A, fail('GATEWAY_UNREACHABLE', A));
    expect(w.heard()?.err?.code).toBe('GATEWAY_UNREACHABLE');
    expect(w.heard()?.err?.message).toBe(
      `GATEWAY_UNREACHABLE at ${label(A)}; nor did the other addresses the Link names: GATEWAY_IDENTITY_MISMATCH at ${label(B)}`,
    );
  });

  it('its last failure one of trust, the address asked about is waited for: its slow trust failure surfaces', () => {
    const w = walk([A, B, C], 3_000, new Map(), true);
    vi.advanceTimersByTime(1_499); // far past its usual head start (750 ms), within half the budget
    expect(w.tried).toEqual([label(A)]);
    w.settle(A, fail('GATEWAY_UNTRUSTED', A));
    expect(w.tried).toEqual([label(A)]);
    expect(w.heard()?.err?.message).toBe(`GATEWAY_UNTRUSTED at ${label(A)}`);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('waited for and then nothing answering there: the others are tried at once, staggered as usual', () => {
    const w = walk([A, B, C], 3_000, new Map(), true);
    vi.advanceTimersByTime(1_000);
    w.settle(A, fail('GATEWAY_UNREACHABLE', A));
    expect(w.tried).toEqual([label(A), label(B)]);
    vi.advanceTimersByTime(750);
    expect(w.tried).toEqual([label(A), label(B), label(C)]);
    w.settle(C, null, 'session-c');
    expect(w.heard()).toEqual({ err: null, got: 'session-c', at: label(C) });
  });

  it('waited for and answering with a session: no other address tried', () => {
    const w = walk([A, B], 3_000, new Map(), true);
    vi.advanceTimersByTime(1_400);
    w.settle(A, null, 'session-a');
    expect(w.tried).toEqual([label(A)]);
    expect(w.heard()).toEqual({ err: null, got: 'session-a', at: label(A) });
  });

  it('waited for and gone silent: the others are tried from half the budget on, staggered over the rest', () => {
    const w = walk([A, B, C], 3_000, new Map(), true);
    vi.advanceTimersByTime(1_499);
    expect(w.tried).toEqual([label(A)]);
    vi.advanceTimersByTime(1);
    expect(w.tried).toEqual([label(A), label(B)]);
    vi.advanceTimersByTime(750);
    expect(w.tried).toEqual([label(A), label(B), label(C)]);
    w.settle(B, null, 'session-b');
    expect(w.heard()).toEqual({ err: null, got: 'session-b', at: label(B) });
  });

  it('waited for, gone silent and then a failure of trust there before another answered: it ends the walk', () => {
    const w = walk([A, B], 3_000, new Map(), true);
    vi.advanceTimersByTime(1_600);
    expect(w.tried).toEqual([label(A), label(B)]);
    w.settle(A, fail('GATEWAY_UNTRUSTED', A));
    expect(w.heard()?.err?.message).toBe(`GATEWAY_UNTRUSTED at ${label(A)}`);
  });

  it('a failure of trust at the address asked about ends the walk, another address still dialling', () => {
    const w = walk([A, B]);
    vi.advanceTimersByTime(1_000);
    expect(w.tried).toEqual([label(A), label(B)]);
    w.settle(A, fail('GATEWAY_UNTRUSTED', A));
    expect(w.heard()?.err?.message).toBe(`GATEWAY_UNTRUSTED at ${label(A)}`);
    w.settle(B, null, 'session-b');
    expect(w.calls()).toBe(1);
  });
});
