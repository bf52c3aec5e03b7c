/**
 * Which cluster a Link's credentials really reach: the name the remote install gave itself (the
 * label `isthmus.dev/cluster-name` on its `isthmus-system` namespace) against the Link's
 * `targetClusterName`. Shared by `isthmus link` (src/cli/link/render.ts, before a Link is printed)
 * and the controller (remote-cluster.ts, on every connection: credentials mixed up by GitOps, a
 * retyped targetClusterName), so the two cannot drift. Pure.
 *
 * The rule, `isthmus link`'s: a name is refused only when the remote says another one. A namespace
 * without the label (an install that predates it, a remote-discovery-only cluster), no namespace at
 * all, or one the credentials may not read (403) cannot say, so the Link's name is taken as it is.
 */
import { INSTALL_CLUSTER_NAME_LABEL, SYSTEM_NAMESPACE } from '../kube/keys.js';
import type { V1Namespace } from '../kube/types.js';

export type RemoteIdentity =
  /** The remote's label names the Link's cluster. */
  | { verdict: 'confirmed' }
  /** The remote cannot say (see above): trusted, as `isthmus link` trusts it. */
  | { verdict: 'unknown'; why: 'unlabelled' | 'no-namespace' | 'forbidden' }
  /** The remote was installed as `installed`, not as the Link's cluster. */
  | { verdict: 'mismatch'; installed: string };

/** `namespace`: the remote's `isthmus-system`, undefined when it does not exist, 'forbidden' on a 403. */
export function remoteIdentity(
  namespace: V1Namespace | 'forbidden' | undefined,
  cluster: string,
): RemoteIdentity {
  if (namespace === 'forbidden') return { verdict: 'unknown', why: 'forbidden' };
  if (namespace === undefined) return { verdict: 'unknown', why: 'no-namespace' };
  const installed = namespace.metadata?.labels?.[INSTALL_CLUSTER_NAME_LABEL];
  if (installed === undefined) return { verdict: 'unknown', why: 'unlabelled' };
  return installed === cluster ? { verdict: 'confirmed' } : { verdict: 'mismatch', installed };
}

/**
 * The controller's words for a mismatch (the Link's Ready and RemoteAPIAvailable conditions, a
 * Warning Event, the log): both names, the API server the credentials reach, and what to fix.
 */
export function mismatchMessage(opts: {
  cluster: string;
  installed: string;
  server: string;
  secret: string;
}): string {
  const { cluster, installed, server, secret } = opts;
  return (
    `the credentials in Secret ${secret} reach the API server ${server}, which was installed as cluster ` +
    `${JSON.stringify(installed)} (label ${INSTALL_CLUSTER_NAME_LABEL} on namespace ${SYSTEM_NAMESPACE}), ` +
    `not ${JSON.stringify(cluster)} (spec.targetClusterName): until they agree, no mirror is created, ` +
    `changed or deleted; fix the Secret or spec.targetClusterName`
  );
}
