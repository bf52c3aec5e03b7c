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
 *
 * The controller asks again on the same connection (identity-gate.ts), and there a remote that
 * has said a name once and then cannot say is refused (`recheck`): those are the answers another
 * cluster gives when the API address has moved to it, the very case the re-check exists for.
 */
import { INSTALL_CLUSTER_NAME_LABEL, SYSTEM_NAMESPACE } from '../kube/keys.js';
import type { V1Namespace } from '../kube/types.js';

/** Why a remote cannot say which cluster it is. */
export type Unsaid = 'unlabelled' | 'no-namespace' | 'forbidden';

export type RemoteIdentity =
  /** The remote's label names the Link's cluster. */
  | { verdict: 'confirmed' }
  /**
   * The remote cannot say (see above): trusted, as `isthmus link` trusts it, on a connection
   * whose remote has never said a name.
   */
  | { verdict: 'unknown'; why: Unsaid }
  /** The remote was installed as `installed`, not as the Link's cluster. */
  | { verdict: 'mismatch'; installed: string }
  /**
   * The remote cannot say, though on this connection it said `before` (recheck): refused, as
   * another cluster behind the same address would answer so.
   */
  | { verdict: 'unconfirmed'; why: Unsaid; before: NamedIdentity };

/** An answer that named a cluster: the strongest a connection has heard. */
export type NamedIdentity = Extract<RemoteIdentity, { verdict: 'confirmed' | 'mismatch' }>;

/** Whether nothing of the remote may be listed or watched on this answer. */
export function refused(
  identity: RemoteIdentity,
): identity is Extract<RemoteIdentity, { verdict: 'mismatch' | 'unconfirmed' }> {
  return identity.verdict === 'mismatch' || identity.verdict === 'unconfirmed';
}

/** The answer that named a cluster, to keep as the connection's strongest; undefined for one that cannot say. */
export function namedBy(identity: RemoteIdentity): NamedIdentity | undefined {
  return identity.verdict === 'confirmed' || identity.verdict === 'mismatch' ? identity : undefined;
}

/**
 * `answer` as a connection takes it when its remote said `before` (the last answer that named a
 * cluster; undefined if none did): an answer that cannot say is trusted only on a connection that
 * never heard a name, since a remote that said one and then no longer can (its label or namespace
 * gone, the namespace no longer readable) is what another cluster answers once the API address
 * reaches it, under credentials that work on several clusters (a cloud IAM exec plugin, client
 * certificates of a shared CA). Its re-list would delete every mirror as an orphan.
 */
export function recheck(answer: RemoteIdentity, before: NamedIdentity | undefined): RemoteIdentity {
  if (answer.verdict !== 'unknown' || before === undefined) return answer;
  return { verdict: 'unconfirmed', why: answer.why, before };
}

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

const UNSAID: Record<Unsaid, string> = {
  unlabelled: `its namespace ${SYSTEM_NAMESPACE} has no label ${INSTALL_CLUSTER_NAME_LABEL}`,
  'no-namespace': `it has no namespace ${SYSTEM_NAMESPACE}`,
  forbidden: `the credentials may no longer read its namespace ${SYSTEM_NAMESPACE} (forbidden)`,
};

/**
 * The controller's words for a remote that said a name on this connection and cannot say now
 * (`recheck`): what it said, why it cannot say now, and what to fix.
 */
export function unconfirmedMessage(opts: {
  cluster: string;
  why: Unsaid;
  before: NamedIdentity;
  server: string;
  secret: string;
}): string {
  const { cluster, why, before, server, secret } = opts;
  const said = before.verdict === 'confirmed' ? cluster : before.installed;
  return (
    `the credentials in Secret ${secret} reach the API server ${server}, which no longer says it is cluster ` +
    `${JSON.stringify(cluster)}: it answered as cluster ${JSON.stringify(said)} before, and now ${UNSAID[why]}, ` +
    `as another cluster reached at the same address would answer: until it says ${JSON.stringify(cluster)} again, ` +
    `no mirror is created, changed or deleted; restore the label, the namespace or the remote-access role's ` +
    `permission to read it, or the API address if it now reaches another cluster`
  );
}
