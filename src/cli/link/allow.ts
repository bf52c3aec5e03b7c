/**
 * `isthmus allow` (Linkerd's `multicluster allow`): a read-only account of its own for one linking
 * cluster. Every peer that links with the install's shared `isthmus-remote-access` token loses
 * access together when that token is rotated; with an account per peer, deleting one
 * ServiceAccount revokes that peer alone (its token stops authenticating at once). Pure.
 */
import { IsthmusError } from '../../errors.js';
import { REMOTE_ACCESS_SERVICE_ACCOUNT, SYSTEM_NAMESPACE } from '../../kube/keys.js';
import { kubeconfigTokenClaims } from '../../kube/service-account-token.js';
import type { KubeObject } from '../../kube/types.js';
import { isDNS1123Subdomain } from '../../kube/validation/strings.js';
import { PART_OF } from '../install/options.js';
import { installGrants } from '../install/rbac.js';

/** On what `allow` prints: the accounts it made, and so may update when re-run. */
export const ALLOW_LABEL = 'isthmus.dev/remote-access';

/** Every account an install renders, with every option on: its processes' own and the shared one. */
const INSTALL_ACCOUNTS: ReadonlySet<string> = new Set(
  installGrants({ gateway: true, enableNamespaceCreation: true }).map((g) => g.serviceAccount),
);

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
  checkAccountName(serviceAccount);
  if (serviceAccount === REMOTE_ACCESS_SERVICE_ACCOUNT) {
    throw usage(
      `--service-account-name ${serviceAccount} is the install's own shared account; name one per peer: isthmus allow --service-account-name <a new name>`,
    );
  }
  refuseProcessAccount(serviceAccount);
  const metadata = {
    namespace: SYSTEM_NAMESPACE,
    labels: { ...PART_OF, [ALLOW_LABEL]: 'true' },
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
 * `link --service-account-name`: an account `allow` made, or the shared read-only one (the
 * default, when the flag is not given). Never one an install process runs as: the Link's Secret
 * would carry that process's rights (the controller's may write Services and EndpointSlices
 * cluster-wide).
 */
export function linkAccountFlag(serviceAccount = REMOTE_ACCESS_SERVICE_ACCOUNT): string {
  checkAccountName(serviceAccount);
  if (serviceAccount !== REMOTE_ACCESS_SERVICE_ACCOUNT) refuseProcessAccount(serviceAccount);
  return serviceAccount;
}

/**
 * `allow` on an account that exists: one it made (its label) is updated in place, so re-running
 * allow is harmless; anyone else's would be relabelled and bound to the read-only role, and
 * `unlink` would later say to delete it.
 */
export function refuseForeignAccount(existing: KubeObject | undefined, serviceAccount: string): void {
  if (!existing || existing.metadata?.labels?.[ALLOW_LABEL] === 'true') return;
  throw usage(
    `${SYSTEM_NAMESPACE}/${serviceAccount} exists and was not made by isthmus allow (no ${ALLOW_LABEL}=true label): ` +
      'allow would take it over, and deleting it to revoke the peer would break whatever uses it. ' +
      'Name an account for this peer alone: isthmus allow --service-account-name <a new name>',
  );
}

/**
 * The per-peer account a Link's credentials authenticate as, read from the service-account token
 * in its kubeconfig (legacy Secret tokens name it in `kubernetes.io/serviceaccount/...` claims,
 * bound tokens under `kubernetes.io`); undefined for the shared account or anything unreadable.
 */
export function peerAccountOf(kubeconfig: string): string | undefined {
  const name = kubeconfigTokenClaims(kubeconfig)?.account;
  // Never an install's account (a Link made before link refused them): deleting it breaks the install.
  return name !== undefined && !INSTALL_ACCOUNTS.has(name) ? name : undefined;
}

function checkAccountName(serviceAccount: string): void {
  const errors = isDNS1123Subdomain(serviceAccount);
  if (errors.length > 0 || serviceAccount.length > 200) {
    throw usage(
      `--service-account-name ${JSON.stringify(serviceAccount)}: ${errors[0] ?? 'at most 200 characters'}`,
    );
  }
}

/** An account the install's own pods run as is theirs: no peer may hold, relabel or delete it. */
function refuseProcessAccount(serviceAccount: string): void {
  if (!INSTALL_ACCOUNTS.has(serviceAccount)) return;
  throw usage(
    `--service-account-name ${serviceAccount} is the install's own account: the ${serviceAccount} pods run as it, ` +
      'with rights no peer may hold, and deleting it to revoke a peer would stop them. ' +
      'Give the peer a read-only account of its own: isthmus allow --service-account-name <a new name>',
  );
}

function usage(message: string): IsthmusError {
  return new IsthmusError('USAGE', message, { terminal: true });
}
