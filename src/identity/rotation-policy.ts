/**
 * When to renew and how to retry: data plus pure functions, so the timing is tested with tables and
 * the rotator only applies it. Renewing at 70% of the remaining lifetime leaves 30% (7 h of a 24 h
 * certificate) for retries, the margin Linkerd's proxy keeps.
 */
export interface RotationPolicy {
  /** Renew when this fraction of the time from issuance to notAfter has passed. */
  renewAtFraction: number;
  /** ± this fraction of each delay, so a fleet restarted together does not renew together. */
  jitterFraction: number;
  /** First retry delay after a failure; doubles per attempt up to retryMaxMs. */
  retryInitialMs: number;
  retryMaxMs: number;
  /** A certificate unchanged by the source is only reported once less than this fraction is left. */
  quietUntilFractionLeft: number;
}

export const DEFAULT_ROTATION_POLICY: RotationPolicy = {
  renewAtFraction: 0.7,
  jitterFraction: 0.1,
  retryInitialMs: 1000,
  retryMaxMs: 30_000,
  quietUntilFractionLeft: 0.1,
};

/** Timers never fire sooner than this, which bounds a busy loop on a nearly-expired certificate. */
export const MIN_DELAY_MS = 50;

/** ms from `nowMs` until a certificate valid until `notAfterMs` should be renewed. */
export function renewalDelay(
  nowMs: number,
  notAfterMs: number,
  policy: RotationPolicy,
  random: () => number = Math.random,
): number {
  const base = Math.max(0, notAfterMs - nowMs) * policy.renewAtFraction;
  return Math.max(MIN_DELAY_MS, Math.round(jitter(base, policy.jitterFraction, random)));
}

/**
 * ms before retry number `attempt` (1-based). Exponential with jitter, but while the current
 * certificate is still valid never more than half of what is left of it: the next retry must come
 * before expiry, and a later one still fits after it.
 */
export function retryDelay(
  attempt: number,
  remainingMs: number | undefined,
  policy: RotationPolicy,
  random: () => number = Math.random,
): number {
  const exponential = Math.min(policy.retryMaxMs, policy.retryInitialMs * 2 ** Math.max(0, attempt - 1));
  let delay = jitter(exponential, policy.jitterFraction, random);
  if (remainingMs !== undefined && remainingMs > 0) delay = Math.min(delay, remainingMs / 2);
  return Math.max(MIN_DELAY_MS, Math.round(delay));
}

function jitter(value: number, fraction: number, random: () => number): number {
  return value * (1 + fraction * (2 * random() - 1));
}
