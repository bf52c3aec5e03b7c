/**
 * The event each Certify call publishes once, on its answer: certify-log.ts logs it and
 * identity-metrics.ts counts it, so a call is classified once (here, from the handler's result) and
 * nothing is counted inline. The events are built by pure functions (tested with tables).
 */
import diagnostics from 'node:diagnostics_channel';
import { CERTIFY_CHANNEL } from './certify-log.js';
import type {
  CallAdmission,
  CertifyCaller,
  CertifyOutcome,
  CertifyResult,
  TokenReviewFailure,
} from './certify-outcome.js';

/**
 * Published once per Certify call (src/identity/certify-log.ts logs it, identity-metrics.ts counts
 * it). An issued certificate carries its serial (lowercase hex, as `isthmus certs revoke --serial`
 * takes it) and notAfter, so one minted with a stolen token can be found and revoked; every event
 * names the caller once its token was reviewed.
 */
export interface CertifyEvent extends CertifyCaller, CallAdmission {
  outcome: CertifyOutcome;
  /** The identity issued, or, on a refusal, the one the caller's account holds by the rules. */
  identity?: string;
  serial?: string;
  /** The serial of the issuer that signed it, or that was why the call was refused (lowercase hex). */
  issuer?: string;
  /** ISO 8601. */
  notAfter?: string;
  reason?: string;
  /** From the call's arrival to its answer. */
  durationMs: number;
  /** The TokenReview itself failed (the API server), not the token: see CertifyFailure. */
  tokenReview?: TokenReviewFailure;
  /** The caller's address (peerAddress: no port), from the connection; the log's rate limit is per address. */
  peer?: string;
}

export const certifyChannel = diagnostics.channel(CERTIFY_CHANNEL);

/** Where and how long: what the gRPC call, not the handler, knows of it. */
export interface CallFacts {
  peer: string;
  durationMs: number;
}

/** The event of a call the handler answered: issued, or refused and why. */
export function certifyEventOf(result: CertifyResult, call: CallFacts): CertifyEvent {
  if (result.ok)
    return {
      outcome: 'issued',
      identity: result.identity,
      serial: result.serial,
      ...(result.issuer ? { issuer: result.issuer } : {}),
      notAfter: new Date(result.response.notAfterUnixMs).toISOString(),
      ...result.caller,
      peer: call.peer,
      durationMs: call.durationMs,
      ...admissionOf(result),
    };
  const { outcome, message, caller, identity, tokenReview, issuer } = result;
  return {
    outcome,
    reason: message,
    ...caller,
    ...(identity ? { identity } : {}),
    ...(issuer ? { issuer } : {}),
    ...(tokenReview ? { tokenReview } : {}),
    peer: call.peer,
    durationMs: call.durationMs,
    ...admissionOf(result),
  };
}

/** The event of a call whose handler threw (signing failed): `reason` is the error. */
export function internalEventOf(reason: string, call: CallFacts): CertifyEvent {
  return { outcome: 'internal', reason, peer: call.peer, durationMs: call.durationMs };
}

export function publishCertifyEvent(event: CertifyEvent): void {
  if (certifyChannel.hasSubscribers) certifyChannel.publish(event);
}

/** The event's account of the call's admission: its wait for a slot, the penalty it brought. */
function admissionOf(result: CertifyResult): CallAdmission {
  return {
    ...(result.waitedMs === undefined ? {} : { waitedMs: result.waitedMs }),
    ...(result.penaltyImposed ? { penaltyImposed: true } : {}),
  };
}
