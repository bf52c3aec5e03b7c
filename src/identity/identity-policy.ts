import { SYSTEM_NAMESPACE } from '../kube/keys.js';
import { gatewayIdentity } from './spiffe.js';

/**
 * Which service account may hold which identity. Policy is data plus a default: one rule per
 * account; an account without a rule holds nothing. Like Linkerd, the account is what the
 * TokenReview API says the token belongs to, never what the caller claims.
 */
export interface IdentityRule {
  namespace: string;
  serviceAccount: string;
  identity: string;
}

/** The gateway Deployment's service account (the manifests of `isthmus install` use this name). */
export const GATEWAY_SERVICE_ACCOUNT = 'isthmus-gateway';

export function defaultIdentityRules(trustDomain: string, cluster: string): IdentityRule[] {
  return [
    {
      namespace: SYSTEM_NAMESPACE,
      serviceAccount: GATEWAY_SERVICE_ACCOUNT,
      identity: gatewayIdentity(trustDomain, cluster),
    },
  ];
}

/** `system:serviceaccount:<ns>:<sa>`, the username the API server gives service account tokens. */
export function parseServiceAccountUsername(
  username: string,
): { namespace: string; serviceAccount: string } | undefined {
  const parts = username.split(':');
  if (parts.length !== 4 || parts[0] !== 'system' || parts[1] !== 'serviceaccount') return undefined;
  const [, , namespace, serviceAccount] = parts;
  if (!namespace || !serviceAccount) return undefined;
  return { namespace, serviceAccount };
}

export function allowedIdentityFor(username: string, rules: readonly IdentityRule[]): string | undefined {
  const account = parseServiceAccountUsername(username);
  if (!account) return undefined;
  return rules.find((r) => r.namespace === account.namespace && r.serviceAccount === account.serviceAccount)
    ?.identity;
}
