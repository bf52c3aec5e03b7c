/**
 * The Certify decision and signing, without gRPC: the gate (pre-checks, a fair slot, penalties),
 * the TokenReview and what it authorises, then the leaf. What the tests table-drive.
 */
import { DEFAULT_LEAF_LIFETIME_MS, type KeyPairPem } from './ca.js';
import { reviewBudgetMs } from './call-deadline.js';
import {
  authorise,
  DEFAULT_REVIEW_TIMEOUT_MS,
  reviewToken,
  type TokenReviewer,
} from './certify-authorisation.js';
import { type CertifyCall, type CertifyGateOptions, createCertifyGate } from './certify-gate.js';
import { type CertifyResult, callerGone } from './certify-outcome.js';
import { signCertificate } from './certify-signing.js';
import { defaultIdentityRules, type IdentityRule } from './identity-policy.js';
import type { CertifyRequest } from './protocol.js';

export interface CertifyDeps extends CertifyGateOptions {
  /** The issuer, or where to read the one in force at each request (it is reloaded when renewed). */
  issuer: KeyPairPem | (() => KeyPairPem);
  trustDomain: string;
  cluster: string;
  reviewer: TokenReviewer;
  /** Default: the gateway service account holds this cluster's gateway identity. */
  rules?: IdentityRule[];
  lifetimeMs?: number;
  /** The longest a TokenReview may take (DEFAULT_REVIEW_TIMEOUT_MS), less if the caller's deadline is near. */
  reviewTimeoutMs?: number;
  now?: () => Date;
}

/** The issuer in force: `issuer` itself, or what it reads. */
export function issuerSource(issuer: CertifyDeps['issuer']): () => KeyPairPem {
  return typeof issuer === 'function' ? issuer : () => issuer;
}

/** The Certify decision and signing, without gRPC: what the tests table-drive. */
export function createCertifyHandler(
  deps: CertifyDeps,
): (req: CertifyRequest, call?: CertifyCall) => Promise<CertifyResult> {
  const rules = deps.rules ?? defaultIdentityRules(deps.trustDomain, deps.cluster);
  const lifetimeMs = deps.lifetimeMs ?? DEFAULT_LEAF_LIFETIME_MS;
  const reviewTimeoutMs = deps.reviewTimeoutMs ?? DEFAULT_REVIEW_TIMEOUT_MS;
  const issuerOf = issuerSource(deps.issuer);
  const gate = createCertifyGate(deps);

  const certify = async (req: CertifyRequest, call: CertifyCall): Promise<CertifyResult> => {
    const signal = call.signal ?? new AbortController().signal;
    const budgetMs = reviewBudgetMs(call.msLeft ?? Number.POSITIVE_INFINITY, reviewTimeoutMs);
    // The deadline passed while it waited for a slot: no TokenReview for an answer nobody hears.
    if (budgetMs <= 0) return callerGone();
    const review = await reviewToken(deps.reviewer, req.token, signal, budgetMs);
    if ('ok' in review) return review;
    // All that follows is synchronous: the last moment to notice that nobody waits for the answer.
    if (signal.aborted) return callerGone();
    const authorised = authorise(review, req.csrPem, rules);
    if (!authorised.ok) return authorised;
    const now = (deps.now?.() ?? new Date()).getTime();
    return signCertificate(issuerOf(), authorised, now, lifetimeMs);
  };

  return (req, call = {}) => gate(req, call, (msLeft) => certify(req, { ...call, msLeft }));
}
