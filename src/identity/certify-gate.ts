/**
 * The gate a Certify call passes before its TokenReview, and what its outcome leaves behind: the
 * cheap pre-checks (certify-admission.ts), then a slot of its caller address's share, waited for a
 * bounded time (fair-slots.ts); its outcome penalises or clears the address (caller-penalty.ts)
 * before its slot goes to a waiting call.
 */
import { leftAfterWaitMs, waitBudgetMs } from './call-deadline.js';
import { CallerPenalties } from './caller-penalty.js';
import { MAX_CERTIFY_IN_FLIGHT_PER_CALLER, preCheckRefusal } from './certify-admission.js';
import { type CallAdmission, type CertifyResult, refusal } from './certify-outcome.js';
import { FairSlots, MAX_CERTIFY_WAIT_MS, MAX_CERTIFY_WAITING, type SlotGrant } from './fair-slots.js';
import type { CertifyRequest } from './protocol.js';

/**
 * Each call holds a TokenReview in flight, then verifies and signs in pure JS on the event loop.
 * A healthy review takes milliseconds, so even a mass restart of gateways rarely has a handful at
 * once; 32 means a hung API server or abuse, and more would only load the API server. A call that
 * finds them all busy waits a little for one (fair-slots.ts), then is refused; RESOURCE_EXHAUSTED
 * tells the gateway to back off and retry: requestCertificate maps it to the retryable
 * IDENTITY_UNAVAILABLE, and the rotator retries that with backoff.
 */
export const MAX_CERTIFY_IN_FLIGHT = 32;

/** The call a request came in: ending it (cancel, deadline) stops the handler's work. */
export interface CertifyCall {
  signal?: AbortSignal;
  /** ms left before the caller's deadline. */
  msLeft?: number;
  /** The caller's address (peerAddress), whose share of the slots the call takes; default `unknown`. */
  peer?: string;
}

export interface CertifyGateOptions {
  /** Calls handled at once (MAX_CERTIFY_IN_FLIGHT); more wait for a slot, or are refused as busy. */
  maxInFlight?: number;
  /** Calls from one caller address in flight or waiting (MAX_CERTIFY_IN_FLIGHT_PER_CALLER); more are refused as throttled. */
  maxInFlightPerCaller?: number;
  /** Calls waiting for a slot at once (MAX_CERTIFY_WAITING); more are refused as busy. */
  maxWaiting?: number;
  /** The longest a call waits for a slot (MAX_CERTIFY_WAIT_MS), less if the caller's deadline is near. */
  maxWaitMs?: number;
  /** How long an address refused for its credentials holds a reduced share (PENALTY_MS). */
  penaltyMs?: number;
  /** A monotonic clock in ms, for penalties and waits (default performance.now). */
  clock?: () => number;
  /**
   * Refuse a token that is not shaped as a JWT (UNAUTHENTICATED), before any slot or TokenReview.
   * Every token of the identity audience is one (a projected service account token); `isthmus
   * identity` sets this. Default false: a reviewer of other tokens (tests' stand-ins) gets them all.
   */
  requireJwt?: boolean;
}

/**
 * Runs `work` for a call that passes the gate, in its slot, with the ms its deadline leaves after
 * its wait; or refuses the call. The result carries the wait and any penalty it imposed.
 */
export type CertifyGate = (
  req: CertifyRequest,
  call: CertifyCall,
  work: (msLeft: number) => Promise<CertifyResult>,
) => Promise<CertifyResult>;

export function createCertifyGate(options: CertifyGateOptions): CertifyGate {
  const clock = options.clock ?? (() => performance.now());
  const penalties = new CallerPenalties({
    now: clock,
    ...(options.penaltyMs === undefined ? {} : { penaltyMs: options.penaltyMs }),
  });
  const slots = new FairSlots(
    {
      max: options.maxInFlight ?? MAX_CERTIFY_IN_FLIGHT,
      perCaller: options.maxInFlightPerCaller ?? MAX_CERTIFY_IN_FLIGHT_PER_CALLER,
      maxWaiting: options.maxWaiting ?? MAX_CERTIFY_WAITING,
    },
    (caller) => penalties.isPenalised(caller),
    clock,
  );
  const maxWaitMs = options.maxWaitMs ?? MAX_CERTIFY_WAIT_MS;
  const requireJwt = options.requireJwt ?? false;

  /** The outcome penalises or clears the caller's address: before its slot goes to a waiting call. */
  const settled = (caller: string, result: CertifyResult): CertifyResult =>
    penalties.record(caller, result.ok ? 'issued' : result.outcome) === 'imposed'
      ? { ...result, penaltyImposed: true }
      : result;

  return async (req, call, work) => {
    const caller = call.peer ?? 'unknown';
    const refused = preCheckRefusal(req, requireJwt);
    if (refused) return settled(caller, refused);
    // Then a slot, of the caller's share: one address cannot take the slots the others need.
    const leftMs = call.msLeft ?? Number.POSITIVE_INFINITY;
    // Awaited only when the call waits: one that has a slot starts its review at once.
    const granted = slots.acquire(caller, waitBudgetMs(leftMs, maxWaitMs), call.signal);
    const slot = granted instanceof Promise ? await granted : granted;
    if (!slot.ok) return { ...refusal(slot.outcome, slot.message), ...waited(slot) };
    try {
      const result = await work(leftAfterWaitMs(leftMs, slot.waitedMs));
      return settled(caller, { ...result, ...waited(slot) });
    } finally {
      slots.release(caller);
    }
  };
}

function waited(slot: SlotGrant): Pick<CallAdmission, 'waitedMs'> {
  return slot.waitedMs === undefined ? {} : { waitedMs: slot.waitedMs };
}
