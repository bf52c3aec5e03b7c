/**
 * What a ServiceAccount token says of itself: the JWT claims kube-apiserver writes, read without
 * verifying the signature (only the API server can, and it does on every request). For messages,
 * warnings and metrics (which account a Link's token is, when it stops working), never for
 * decisions of trust. Legacy Secret tokens name the account in `kubernetes.io/serviceaccount/...`
 * claims and never expire; bound tokens (TokenRequest) nest it under `kubernetes.io` and carry
 * `iat`/`nbf`/`exp`.
 */
import { parse } from 'yaml';

export interface ServiceAccountTokenClaims {
  /** The ServiceAccount's name, when the token names one. */
  account?: string;
  /** From `nbf` (else `iat`): when the token's lifetime began. */
  notBefore?: Date;
  /** From `exp`: absent for a token that never expires (a legacy Secret token). */
  expiresAt?: Date;
}

/** The claims of a JWT-shaped token; undefined for anything that is not one. */
export function serviceAccountTokenClaims(token: string): ServiceAccountTokenClaims | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  let claims: Record<string, unknown>;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (claims === null || typeof claims !== 'object') return undefined;
  const bound = claims['kubernetes.io'] as { serviceaccount?: { name?: unknown } } | undefined;
  const account = claims['kubernetes.io/serviceaccount/service-account.name'] ?? bound?.serviceaccount?.name;
  const notBefore = epochDate(claims.nbf) ?? epochDate(claims.iat);
  const expiresAt = epochDate(claims.exp);
  return {
    ...(typeof account === 'string' ? { account } : {}),
    ...(notBefore ? { notBefore } : {}),
    ...(expiresAt ? { expiresAt } : {}),
  };
}

/** The bearer token of a kubeconfig's first user (what `isthmus link` writes), if it has one. */
export function kubeconfigBearerToken(kubeconfig: string): string | undefined {
  try {
    const config = parse(kubeconfig) as { users?: { user?: { token?: unknown } }[] } | null;
    const token = config?.users?.[0]?.user?.token;
    return typeof token === 'string' && token !== '' ? token : undefined;
  } catch {
    return undefined;
  }
}

/** The claims of the token in a kubeconfig; undefined when it has no readable token. */
export function kubeconfigTokenClaims(kubeconfig: string): ServiceAccountTokenClaims | undefined {
  const token = kubeconfigBearerToken(kubeconfig);
  return token === undefined ? undefined : serviceAccountTokenClaims(token);
}

/** JWT NumericDate (seconds since the epoch); undefined beyond what a Date holds (±8.64e15 ms). */
function epochDate(value: unknown): Date | undefined {
  if (typeof value !== 'number') return undefined;
  const date = new Date(value * 1000);
  return Number.isFinite(date.getTime()) ? date : undefined;
}
