/**
 * Why the remote API cannot be listed, as the reason RemoteAPIAvailable (and Ready, while the first
 * list waits on it) gives, and what to do about it. Pure: the watcher passes the error and names.
 *
 * A 401 or a 403 is the remote API server answering and refusing the credentials: waiting does not
 * fix it, someone has to. So it is named as kube names those answers (metav1.StatusReasonUnauthorized,
 * StatusReasonForbidden; the Kubernetes API conventions, "HTTP Status codes"), with the fix
 * `isthmus check` gives (src/cli/check/checks/credentials.ts: same wording, kept in step by hand).
 * Anything else (connection refused, a timeout, a TLS failure, a 5xx) is `Unreachable`, its message
 * the error alone, as before.
 */

import { describeError } from '../errors.js';
import { KubeApiError } from '../kube/errors.js';
import { REMOTE_ACCESS_SERVICE_ACCOUNT } from '../kube/keys.js';

/**
 * - Unauthorized: the remote API server rejects the token (401): revoked, expired or wrong.
 * - Forbidden: the remote account may not read what the Link lists (403).
 * - Unreachable: no answer, or one that says nothing of the credentials.
 */
export type RemoteApiReason = 'Unauthorized' | 'Forbidden' | 'Unreachable';

/** What the fix names: the Link's cluster, its credentials Secret, and the remote account if recorded. */
export interface CredentialsNames {
  /** targetClusterName. */
  cluster: string;
  /** `namespace/name` of the credentials Secret. */
  secret: string;
  /** The remote account `isthmus link` recorded on the Link (LINK_SERVICE_ACCOUNT_ANNOTATION). */
  account: string | undefined;
}

export interface RemoteApiFailure {
  reason: RemoteApiReason;
  message: string;
}

/** What the Link reads of the remote, as RBAC names it (the install's isthmus-remote-access grants it). */
const LISTED = 'services, endpointslices and namespaces';

/** A 401 or 403 answer of the remote API server; any other failure is Unreachable. */
export function remoteApiReason(err: unknown): RemoteApiReason {
  // By status, not code: KUBE_UNAUTHORIZED also covers credentials that could not be computed
  // locally (an exec plugin failing), which the remote never saw.
  const status = err instanceof KubeApiError ? err.status : undefined;
  if (status === 401) return 'Unauthorized';
  if (status === 403) return 'Forbidden';
  return 'Unreachable';
}

/** The `isthmus link` that makes new credentials for the same account. */
function relink(names: CredentialsNames): string {
  const account =
    names.account && names.account !== REMOTE_ACCESS_SERVICE_ACCOUNT
      ? ` --service-account-name ${names.account}`
      : '';
  return `\`isthmus link --context <${names.cluster}> --cluster-name ${names.cluster}${account} <the Link's other flags> | kubectl apply -f -\``;
}

/**
 * How to give the remote account back what the Link reads (services, endpointslices, namespaces);
 * `isthmus check` gives the same advice for a 403.
 */
export function regrant(names: CredentialsNames): string {
  const { cluster, account } = names;
  const install = `re-apply the install's isthmus-remote-access RBAC in cluster ${cluster} (\`isthmus upgrade --context <${cluster}> | kubectl --context <${cluster}> apply -f -\`)`;
  const allow = (name: string) =>
    `\`isthmus allow --context <${cluster}> --service-account-name ${name} | kubectl --context <${cluster}> apply -f -\``;
  if (account === REMOTE_ACCESS_SERVICE_ACCOUNT) return install;
  if (account) return `re-apply its binding with ${allow(account)}, or if that is in place, ${install}`;
  return `for an account made by \`isthmus allow\`, re-run ${allow('<name>')}; for the shared ${REMOTE_ACCESS_SERVICE_ACCOUNT}, ${install}`;
}

/**
 * The reason and message for a list or watch of the remote that failed with `err`; `resource`: what
 * it read (remote-api-sources.ts), named in a 403's message, since the account may read the rest.
 */
export function remoteApiFailure(err: unknown, names: CredentialsNames, resource?: string): RemoteApiFailure {
  const reason = remoteApiReason(err);
  const error = describeError(err);
  switch (reason) {
    case 'Unauthorized':
      return {
        reason,
        message: `${error}: the remote API server rejects the token in Secret ${names.secret} (revoked, expired or wrong); mirrors are kept meanwhile. Re-create it with ${relink(names)}`,
      };
    case 'Forbidden': {
      const who = names.account ? `remote account ${names.account}` : 'remote account';
      const what = resource ? `${resource} (the Link lists ${LISTED})` : `the ${LISTED} the Link lists`;
      return {
        reason,
        message: `${error}: the ${who} may not read ${what}; mirrors are kept meanwhile. To grant it, ${regrant(names)}`,
      };
    }
    default:
      return { reason, message: error };
  }
}
