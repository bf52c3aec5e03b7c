/**
 * What a Certify call comes to, without gRPC's transport: its outcome (what the event, the log and
 * the metrics say), the gRPC status a refusal is answered with, and the result the handler returns.
 * Pure: the status of each refusal is one table (tested with it).
 */
import { status } from '@grpc/grpc-js';
import type { CertifyResponse } from './protocol.js';

/** Who asked, as the TokenReview said: the account (`system:serviceaccount:<ns>:<name>`) and the pod. */
export interface CertifyCaller {
  user?: string;
  pod?: string;
}

export type CertifyOutcome =
  | 'issued'
  | 'unauthenticated'
  | 'denied'
  | 'invalid'
  | 'unavailable'
  | 'cancelled'
  | 'busy'
  /** The caller's address already had its share of calls in flight or waiting (maxInFlightPerCaller). */
  | 'throttled'
  /** The same, its share reduced to 1: it was refused for its credentials lately (caller-penalty.ts). */
  | 'penalised'
  /** The handler threw (signing failed): answered INTERNAL. */
  | 'internal';

/** Every outcome but `issued`. */
export type RefusalOutcome = Exclude<CertifyOutcome, 'issued'>;

/** Why a TokenReview gave no verdict: no answer within its budget, or an error from the API server. */
export type TokenReviewFailure = 'timeout' | 'error';

/** The account of the call's admission its event carries: its wait for a slot, the penalty it brought. */
export interface CallAdmission {
  /** How long the call waited for a slot, when it had to (fair-slots.ts). */
  waitedMs?: number;
  /** This refusal penalised the caller's address, which was not penalised before (caller-penalty.ts). */
  penaltyImposed?: true;
}

export type CertifyResult = (
  | {
      ok: true;
      response: CertifyResponse;
      identity: string;
      serial: string;
      /** The serial of the issuer that signed it (lowercase hex), for the audit log. */
      issuer?: string;
      caller: CertifyCaller;
    }
  | {
      ok: false;
      code: status;
      outcome: RefusalOutcome;
      message: string;
      /** Set once the token was reviewed and named someone. */
      caller?: CertifyCaller;
      /** Set once the caller's account is known to hold this identity (bounded: the rules'). */
      identity?: string;
      /** Set when the TokenReview gave no verdict: the token may be fine, the API server is what failed. */
      tokenReview?: TokenReviewFailure;
      /** The serial of the issuer in force, when it is why the call was refused (issuer-unusable). */
      issuer?: string;
    }
) &
  CallAdmission;
export type CertifyFailure = Extract<CertifyResult, { ok: false }>;

/**
 * Why a call was refused: its outcome, but for the one outcome two causes share. `unavailable` is
 * the API server failing the TokenReview (UNAVAILABLE) or, as `issuer-unusable`, an issuer outside
 * its validity (FAILED_PRECONDITION, naming it).
 */
export type RefusalCause = RefusalOutcome | 'issuer-unusable';

/** Each cause's outcome and gRPC code (a Record: a new outcome must be given one). */
const REFUSALS: Record<RefusalCause, { outcome: RefusalOutcome; code: status }> = {
  unauthenticated: { outcome: 'unauthenticated', code: status.UNAUTHENTICATED },
  denied: { outcome: 'denied', code: status.PERMISSION_DENIED },
  invalid: { outcome: 'invalid', code: status.INVALID_ARGUMENT },
  unavailable: { outcome: 'unavailable', code: status.UNAVAILABLE },
  'issuer-unusable': { outcome: 'unavailable', code: status.FAILED_PRECONDITION },
  cancelled: { outcome: 'cancelled', code: status.CANCELLED },
  // The gateway takes RESOURCE_EXHAUSTED as the retryable IDENTITY_UNAVAILABLE, and backs off.
  busy: { outcome: 'busy', code: status.RESOURCE_EXHAUSTED },
  throttled: { outcome: 'throttled', code: status.RESOURCE_EXHAUSTED },
  penalised: { outcome: 'penalised', code: status.RESOURCE_EXHAUSTED },
  internal: { outcome: 'internal', code: status.INTERNAL },
};

/** The outcome a refusal's event names and the gRPC code the caller hears. */
export function refusalOf(cause: RefusalCause): { outcome: RefusalOutcome; code: status } {
  return REFUSALS[cause];
}

/** The handler's refusal: `caller` once the token was reviewed and named someone. */
export function refusal(cause: RefusalCause, message: string, caller?: CertifyCaller): CertifyFailure {
  const { outcome, code } = refusalOf(cause);
  return { ok: false, code, outcome, message, ...(caller ? { caller } : {}) };
}

/** Nobody reads this answer (grpc-js drops it); it is for the log. */
export function callerGone(): CertifyFailure {
  return refusal('cancelled', 'the caller cancelled or its deadline passed; nothing signed');
}
