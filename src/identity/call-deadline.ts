/**
 * When a Certify call's work must stop: its caller cancelled, or its deadline passed. grpc-js
 * answers DEADLINE_EXCEEDED for the handler but does not stop it, so a TokenReview against a hung
 * API server would run on to the kube client's own 30 s timeout, and such reviews pile up.
 */
import type { Deadline } from '@grpc/grpc-js';

/** What callSignal needs of a grpc-js server call. */
export interface CallLike {
  cancelled: boolean;
  getDeadline(): Deadline;
  once(event: 'cancelled', listener: () => void): unknown;
}

/** Aborted when the call is cancelled or its deadline passes. */
export function callSignal(call: CallLike): AbortSignal {
  const cancelled = new AbortController();
  const abort = () => cancelled.abort(new Error('the caller cancelled the call'));
  if (call.cancelled) abort();
  else call.once('cancelled', abort);
  const left = msLeft(call.getDeadline());
  // Also on our own clock: grpc-js does not always report a passed deadline as 'cancelled'.
  return Number.isFinite(left)
    ? AbortSignal.any([cancelled.signal, AbortSignal.timeout(Math.max(0, Math.ceil(left)))])
    : cancelled.signal;
}

/** ms until a grpc-js deadline (a Date, ms since the epoch, or Infinity for none). */
export function msLeft(deadline: Deadline, nowMs = Date.now()): number {
  return Number(deadline) - nowMs;
}

/** Time kept, out of what the caller allows, to answer and sign after the review. */
export const ANSWER_RESERVE_MS = 1000;

/**
 * How long a TokenReview may take when the caller's deadline is `leftMs` away: at most `maxMs`,
 * and ANSWER_RESERVE_MS before that deadline, so the caller hears UNAVAILABLE and why rather than
 * a bare DEADLINE_EXCEEDED. A caller allowing less than twice the reserve still gets half of it.
 */
export function reviewBudgetMs(leftMs: number, maxMs: number): number {
  // Whole milliseconds: AbortSignal.timeout refuses a fraction (ERR_OUT_OF_RANGE).
  return Math.max(0, Math.floor(Math.min(maxMs, Math.max(leftMs - ANSWER_RESERVE_MS, leftMs / 2))));
}

/**
 * How long a call whose deadline is `leftMs` away may wait for a slot: at most `maxMs`, and at most
 * half of what its deadline leaves after ANSWER_RESERVE_MS, so the TokenReview (reviewBudgetMs)
 * keeps at least as much as the wait took. 0: no time to wait.
 */
export function waitBudgetMs(leftMs: number, maxMs: number): number {
  return Math.max(0, Math.floor(Math.min(maxMs, (leftMs - ANSWER_RESERVE_MS) / 2)));
}

/** `work`, or a rejection with the signal's reason as soon as `signal` aborts, whichever first. */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** What a deadline `leftMs` away leaves after a wait of `waitedMs` (none: nothing taken). */
export function leftAfterWaitMs(leftMs: number, waitedMs?: number): number {
  return leftMs - (waitedMs ?? 0);
}
