/**
 * TokenReview (authentication.k8s.io/v1): asks the API server who a bearer token belongs to.
 * The identity service uses it to check that a CSR comes from the gateway's service account.
 */
import type { KubeClient } from './client.js';
import { R, resourcePath } from './resources.js';

export interface TokenReviewResult {
  authenticated: boolean;
  username?: string;
  groups?: string[];
  /** `status.user.extra`: for a token bound to a pod, `authentication.kubernetes.io/pod-name` names it. */
  extra?: Record<string, string[]>;
  /** The server's explanation when not authenticated. */
  error?: string;
}

interface TokenReviewStatus {
  authenticated?: boolean;
  user?: { username?: string; groups?: string[]; extra?: Record<string, string[]> };
  audiences?: string[];
  error?: string;
}

/**
 * Returns a reviewer bound to `client`. An API failure throws (mapped IsthmusError) rather than
 * answering "not authenticated": the caller must tell "denied" from "could not check". Aborting
 * `signal` ends the request (the identity service's caller gave up).
 */
export function createTokenReviewer(
  client: KubeClient,
): (token: string, audiences?: string[], signal?: AbortSignal) => Promise<TokenReviewResult> {
  return async (token, audiences, signal) => {
    const body = {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token, ...(audiences && audiences.length > 0 ? { audiences } : {}) },
    };
    const res = await client.request('create', 'POST', resourcePath(R.tokenReviews), { body, signal });
    const status = ((res.body as { status?: TokenReviewStatus } | undefined)?.status ??
      {}) as TokenReviewStatus;
    if (!status.authenticated)
      return { authenticated: false, error: status.error ?? 'token not authenticated' };
    // An authenticator that ignores audiences answers without ours: not a token for us (the
    // TokenReview API asks reviewers to check this).
    if (audiences && audiences.length > 0 && !audiences.some((a) => status.audiences?.includes(a)))
      return {
        authenticated: false,
        error: `the API server did not confirm the token is for ${audiences.join(', ')} (audiences: ${status.audiences?.join(', ') || 'none'})`,
      };
    return {
      authenticated: true,
      username: status.user?.username,
      groups: status.user?.groups ?? [],
      ...(status.user?.extra ? { extra: status.user.extra } : {}),
    };
  };
}
