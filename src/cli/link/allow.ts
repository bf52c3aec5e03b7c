/**
 * `isthmus allow` (Linkerd's `multicluster allow`): a read-only account of its own for one linking
 * cluster. Every peer that links with the install's shared `isthmus-remote-access` token loses
 * access together when that token is rotated; with an account per peer, deleting one
 * ServiceAccount revokes that peer alone (its token stops authenticating at once). Pure.
 */
import { IsthmusError } from '../../errors.js';
import { REMOTE_ACCESS_SERVICE_ACCOUNT, SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { kubeconfigTokenClaims } from '../../kube/service-account-token.js';
import { isDNS1123Subdomain } from '../../sandbox/validation-strings.js';
import { PART_OF } from '../install/options.js';

/** The Secret the token controller fills for an account; `isthmus link` reads the token there. */
export function tokenSecretName(serviceAccount: string): string {
  return `${serviceAccount}-token`;
}

/** The ClusterRoleBinding that gives one peer's account the install's read-only ClusterRole. */
export function peerBindingName(serviceAccount: string): string {
  return `${REMOTE_ACCESS_SERVICE_ACCOUNT}-${serviceAccount}`;
}

/** A ServiceAccount, its token Secret, and a binding to the install's `isthmus-remote-access` role. */
export function allowManifests(serviceAccount: string): object[] {
  const errors = isDNS1123Subdomain(serviceAccount);
  if (errors.length > 0 || serviceAccount.length > 200) {
    throw usage(
      `--service-account-name ${JSON.stringify(serviceAccount)}: ${errors[0] ?? 'at most 200 characters'}`,
    );
  }
  if (serviceAccount === REMOTE_ACCESS_SERVICE_ACCOUNT) {
    throw usage(
      `--service-account-name ${serviceAccount} is the install's own shared account; name one per peer`,
    );
  }
  const metadata = {
    namespace: SYSTEM_NAMESPACE,
    labels: { ...PART_OF, 'isthmus.dev/remote-access': 'true' },
  };
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: serviceAccount, ...metadata } },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/service-account-token',
      metadata: {
        name: tokenSecretName(serviceAccount),
        ...metadata,
        annotations: { 'kubernetes.io/service-account.name': serviceAccount },
      },
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: peerBindingName(serviceAccount), labels: metadata.labels },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: REMOTE_ACCESS_SERVICE_ACCOUNT,
      },
      subjects: [{ kind: 'ServiceAccount', name: serviceAccount, namespace: SYSTEM_NAMESPACE }],
    },
  ];
}

/**
 * The per-peer account a Link's credentials authenticate as, read from the service-account token
 * in its kubeconfig (legacy Secret tokens name it in `kubernetes.io/serviceaccount/...` claims,
 * bound tokens under `kubernetes.io`); undefined for the shared account or anything unreadable.
 */
export function peerAccountOf(kubeconfig: string): string | undefined {
  const name = kubeconfigTokenClaims(kubeconfig)?.account;
  return name !== undefined && name !== REMOTE_ACCESS_SERVICE_ACCOUNT ? name : undefined;
}

function usage(message: string): IsthmusError {
  return new IsthmusError('USAGE', message, { terminal: true });
}
