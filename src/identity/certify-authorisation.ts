/**
 * Who a Certify caller is and what it may be issued: the TokenReview of its token (the one wait on
 * the API server, bounded by a budget and by the call), then, pure, the review's verdict, the
 * identity the account holds by the rules, and the CSR's claim to it.
 */
import { describeError } from '../errors.js';
import { IDENTITY_TOKEN_AUDIENCE } from '../kube/keys.js';
import { untilAborted } from './call-deadline.js';
import { type CertifyCaller, type CertifyFailure, callerGone, refusal } from './certify-outcome.js';
import { checkCsr } from './csr.js';
import { allowedIdentityFor, type IdentityRule } from './identity-policy.js';

/**
 * The identity service: signs gateway CSRs with this cluster's issuer, whose key lives only in this
 * process. Callers prove who they are with a service account token, checked by an injected
 * TokenReviewer (the kube-backed one is src/kube/token-review.ts).
 */
export type TokenReviewer = (
  token: string,
  /** The token must be for one of these (IDENTITY_TOKEN_AUDIENCE): not an API server token. */
  audiences: string[],
  /** Aborted when the answer is no longer wanted (the call ended, or the review took too long). */
  signal?: AbortSignal,
) => Promise<TokenReview>;

export type TokenReview = {
  authenticated: boolean;
  username?: string;
  /** TokenReview's `status.user.extra`: for a pod's bound token, POD_NAME_EXTRA names the pod. */
  extra?: Record<string, string[]>;
  error?: string;
};

/**
 * The `status.user.extra` key kube-apiserver sets on a TokenReview of a token bound to a pod (every
 * projected service account token): the pod the kubelet minted it for.
 */
export const POD_NAME_EXTRA = 'authentication.kubernetes.io/pod-name';

/**
 * Half the gateway's deadline (DEFAULT_CERTIFY_TIMEOUT_MS, 10 s). A review takes milliseconds; one
 * that takes seconds means the API server is in trouble, and the gateway had better hear so and
 * back off than wait on to its deadline.
 */
export const DEFAULT_REVIEW_TIMEOUT_MS = 5000;

/**
 * The TokenReview, stopped when the call ends or after `budgetMs`, whichever first. The reviewer
 * gets the signal to stop its request; a reviewer that ignores it is abandoned all the same.
 */
export async function reviewToken(
  reviewer: TokenReviewer,
  token: string,
  call: AbortSignal,
  budgetMs: number,
): Promise<TokenReview | CertifyFailure> {
  const timeout = AbortSignal.timeout(budgetMs);
  const signal = AbortSignal.any([call, timeout]);
  try {
    return await untilAborted(reviewer(token, [IDENTITY_TOKEN_AUDIENCE], signal), signal);
  } catch (err) {
    if (call.aborted) return callerGone();
    // The token may be fine: the API server is what failed, so the caller should retry.
    const message = timeout.aborted
      ? `token review: no answer from the API server within ${budgetMs} ms`
      : `token review failed: ${describeError(err)}`;
    return {
      ...refusal('unavailable', message),
      tokenReview: timeout.aborted ? 'timeout' : 'error',
    };
  }
}

/** A caller the review named, the identity it holds, and the key its CSR proves it has. */
export interface Authorised {
  ok: true;
  caller: CertifyCaller;
  identity: string;
  publicKeyPem: string;
}

/**
 * What the review's answer and the CSR allow: the identity to sign `csrPem` for, or the refusal.
 * A refusal names the caller once the token named someone, and the identity once the account is
 * known to hold one.
 */
export function authorise(
  review: TokenReview,
  csrPem: string,
  rules: IdentityRule[],
): Authorised | CertifyFailure {
  if (!review.authenticated || !review.username)
    return refusal('unauthenticated', `token not accepted: ${review.error ?? 'not authenticated'}`);
  const caller = callerOf(review);
  const identity = allowedIdentityFor(review.username, rules);
  if (identity === undefined)
    return refusal('denied', `${review.username} may not hold any identity in this cluster`, caller);
  const decision = checkCsr(csrPem, identity);
  if (!decision.ok) {
    const refused =
      decision.status === 'invalid'
        ? refusal('invalid', decision.reason, caller)
        : refusal('denied', `${review.username}: ${decision.reason}`, caller);
    return { ...refused, identity };
  }
  return { ok: true, caller, identity, publicKeyPem: decision.publicKeyPem };
}

/** The account and, for a pod's bound token, the pod (TokenReview's user.extra). */
export function callerOf(review: TokenReview): CertifyCaller {
  const pod = review.extra?.[POD_NAME_EXTRA]?.[0];
  return { user: review.username, ...(pod ? { pod } : {}) };
}
