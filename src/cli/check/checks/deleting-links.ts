/**
 * Links being deleted (`isthmus unlink`, `kubectl delete link`): the controller's finalizer holds
 * each until it has deleted the Link's mirrors (src/mirror/link-manager.ts). Meanwhile the Link is
 * no Link to check (its credentials may be gone already, its grants too, and the gateways no longer
 * admit its cluster) and its mirrors are on their way out, not strays. One line says so: a
 * warning, as it is the normal course of an unlink; a failure only once a leading controller has
 * left it so for longer than a clean-up takes, since then the controller is stuck on it.
 */
import { LINK_FINALIZER } from '../../../kube/keys.js';
import type { Link } from '../../../kube/types.js';
import { type CheckFacts, linkLabel } from '../types.js';
import { clusterNow } from './clock.js';
import { CONTROLLER_CHECK } from './controller.js';
import { staleLinkStatus } from './stale-status.js';

/** Longer than the controller takes to delete a Link's mirrors, with its retries. */
export const STUCK_AFTER_MS = 5 * 60_000;

/** The controller still holds the Link: it has yet to delete the Link's mirrors, then release it. */
export function heldByController(link: Link): boolean {
  return (link.metadata?.finalizers ?? []).includes(LINK_FINALIZER);
}

/**
 * The Link being deleted that stood for `cluster`, when no live Link does, while the controller
 * still holds it: its mirrors go with it. Once the controller has released it (only another
 * finalizer left, a GitOps tool's say), it has deleted them already: one left is a stray.
 */
export function deletedLinkOf(facts: CheckFacts, cluster: string): Link | undefined {
  const live = facts.links.ok && facts.links.value.some((l) => l.link.spec?.targetClusterName === cluster);
  if (live) return undefined;
  return (facts.linksBeingDeleted ?? []).find(
    (l) =>
      heldByController(l) &&
      (l.spec?.targetClusterName === cluster || l.status?.mirroredClusterName === cluster),
  );
}

/** What a mirror of `cluster` is while its Link is being deleted; undefined when it is not. */
export function removedWithLink(facts: CheckFacts, cluster: string): string | undefined {
  const link = deletedLinkOf(facts, cluster);
  return link
    ? `being removed with Link ${linkLabel(link)} (being deleted): the controller deletes it before it releases the Link`
    : undefined;
}

/** One line per Link being deleted, as a failure when a leading controller is stuck on it. */
export function deletingLinkLines(facts: CheckFacts): { failures: string[]; warnings: string[] } {
  const failures: string[] = [];
  const warnings: string[] = [];
  const now = clusterNow(facts);
  const noLeader = staleLinkStatus(facts);
  for (const link of facts.linksBeingDeleted ?? []) {
    const finalizers = link.metadata?.finalizers ?? [];
    // A Date as client-node types it, an RFC 3339 string as the wire (and our client) gives it.
    const since = new Date(link.metadata?.deletionTimestamp as Date | string);
    const forS = Math.max(0, Math.round((now.getTime() - since.getTime()) / 1000));
    const head = `Link ${linkLabel(link)} is being deleted (deletionTimestamp set ${forS}s ago)`;
    if (!heldByController(link)) {
      // Not the controller's to release: another finalizer (a GitOps tool's, say) holds it.
      warnings.push(
        `${head}: held by finalizer(s) ${finalizers.join(', ') || 'none'}, not isthmus-controller's`,
      );
    } else if (noLeader) {
      warnings.push(
        `${head}: isthmus-controller removes its mirrors, then releases its finalizer ${LINK_FINALIZER}; no controller leads to do so now (${noLeader}: see "${CONTROLLER_CHECK}")`,
      );
    } else if (now.getTime() - since.getTime() > STUCK_AFTER_MS) {
      failures.push(
        `${head}, and the leading isthmus-controller has not released its finalizer ${LINK_FINALIZER}: it cannot delete the Link's mirrors; see its log (\`kubectl -n isthmus-system logs deploy/isthmus-controller\`)`,
      );
    } else {
      warnings.push(
        `${head}: isthmus-controller removes its mirrors, then releases its finalizer ${LINK_FINALIZER}`,
      );
    }
  }
  return { failures, warnings };
}
