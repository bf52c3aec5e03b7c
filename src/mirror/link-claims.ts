/**
 * Which Link may mirror which cluster, and which clusters' mirrors no Link accounts for. Pure.
 *
 * A mirror records only its cluster (`mirror.linkerd.io/cluster-name`), not its Link. So two Links
 * to one cluster would each take the other's mirrors for their own, and each would delete as
 * orphans what the other creates. One Link holds a cluster: the oldest valid one (creationTimestamp,
 * then name: deterministic, and it leaves the Link that made the mirrors in charge of them). The
 * others are invalid (`LinkInvalid`) and touch no mirror until the holder goes.
 *
 * A Link also holds the mirrors of the cluster its status names (`status.mirroredClusterName`: its
 * targetClusterName as last checked against the remote, remote-identity.ts), so a retargeted Link
 * releases the old cluster's mirrors only once its watcher has checked the new name: a mistyped
 * name, which the remote disowns, deletes nothing, and the mirrors are there when it is fixed.
 */
import { CLUSTER_NAME_LABEL } from '../kube/keys.js';
import { oldestFirst } from '../kube/oldest-first.js';
import type { KubeObject, Link, V1Service } from '../kube/types.js';
import { isOurService } from './mirror-objects.js';

/** A valid Link and the cluster it targets. */
export interface LinkClaim {
  link: Link;
  cluster: string;
}

/** The Link that mirrors `cluster`: the oldest of the valid Links targeting it. */
export function clusterHolder(claims: readonly LinkClaim[], cluster: string): Link | undefined {
  let holder: Link | undefined;
  for (const claim of claims) {
    if (claim.cluster === cluster && (!holder || olderThan(claim.link, holder))) holder = claim.link;
  }
  return holder;
}

/** Why `link` may not mirror `cluster` (another Link holds it), or undefined when it may. */
export function claimConflict(link: Link, cluster: string, claims: readonly LinkClaim[]): string | undefined {
  const holder = clusterHolder(claims, cluster);
  if (!holder || sameLink(holder, link)) return undefined;
  return `targetClusterName ${cluster} is already linked by Link ${objectKey(holder)}, which mirrors it (the oldest Link to a cluster does): delete this Link or that one`;
}

export function sameLink(a: Link, b: Link): boolean {
  return objectKey(a) === objectKey(b);
}

/**
 * The cluster whose mirrors a Link holds: the one its status says a connection checked, else (a Link
 * no connection has checked yet, or one from before the field) its targetClusterName.
 */
export function heldCluster(link: Link): string | undefined {
  const checked = link.status?.mirroredClusterName;
  if (typeof checked === 'string' && checked !== '') return checked;
  const target = link.spec?.targetClusterName;
  return typeof target === 'string' ? target : undefined;
}

/**
 * Clusters that have mirrors here (ours: Linkerd's mirrors are never counted) but that no Link
 * names, valid or not, as its targetClusterName or its `status.mirroredClusterName`, and that no
 * running watcher serves: what a Link retargeted while the controller was down, or through an
 * invalid edit, left behind once the new name was checked. An invalid Link keeps its mirrors (its
 * deletion removes them), so only a cluster that no Link names at all is an orphan.
 */
export function orphanClusters(
  services: readonly V1Service[],
  links: readonly Link[],
  watched: Iterable<string>,
): string[] {
  const kept = new Set<string>(watched);
  for (const link of links) {
    for (const name of [link.spec?.targetClusterName, link.status?.mirroredClusterName])
      if (typeof name === 'string') kept.add(name);
  }
  const orphans = new Set<string>();
  for (const svc of services) {
    const cluster = svc.metadata?.labels?.[CLUSTER_NAME_LABEL];
    if (cluster && !kept.has(cluster) && isOurService(svc, cluster)) orphans.add(cluster);
  }
  return [...orphans].sort();
}

function olderThan(a: KubeObject, b: KubeObject): boolean {
  return oldestFirst(a, b) < 0;
}

function objectKey(o: KubeObject): string {
  return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
}
