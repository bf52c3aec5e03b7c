/**
 * TokenRequest (POST .../serviceaccounts/<name>/token): a ServiceAccount token bound to audiences
 * and a lifetime, what the kubelet mounts from a projected `serviceAccountToken` volume. The lab
 * plays that kubelet for the gateway's identity token.
 */
import { IsthmusError } from '../errors.js';
import type { KubeClient } from './client.js';
import { R, resourcePath } from './resources.js';

export interface BoundToken {
  token: string;
  expirationTimestamp: string;
}

export async function requestServiceAccountToken(
  client: KubeClient,
  namespace: string,
  serviceAccount: string,
  /** No audiences: a token for the API server itself. */
  spec: { audiences?: string[]; expirationSeconds: number },
): Promise<BoundToken> {
  const res = await client.request(
    'create',
    'POST',
    `${resourcePath(R.serviceAccounts, namespace, serviceAccount)}/token`,
    { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec } },
  );
  const status = (res.body as { status?: Partial<BoundToken> } | undefined)?.status;
  if (!status?.token)
    throw new IsthmusError(
      'KUBE_REQUEST_FAILED',
      `no token in the TokenRequest answer for ${namespace}/${serviceAccount}`,
    );
  return { token: status.token, expirationTimestamp: status.expirationTimestamp ?? '' };
}
