/**
 * Which peer gateways the ingress admits: the target clusters of the Links in the system namespace
 * (a Link to west means west's traffic is expected here too, as Links are created pairwise) plus a
 * configured `--allow-cluster` list. A peer proves its cluster with the URI SAN
 * `spiffe://<trust-domain>/cluster/<cluster>/gateway` (shared/DESIGN.md, "The tunnel").
 */
import { isValidClusterName, parseSpiffeGatewayIdentity } from '../identity/spiffe.js';
import type { Link } from '../kube/types.js';

/** Shaped as the ingress's `authorizePeer` option expects. */
export type PeerDecision = { ok: true; cluster: string } | { ok: false; cluster?: string; reason: string };

/**
 * The cluster named by a gateway SPIFFE ID of `trustDomain`, or null when `identity` is not one.
 * Matching is exact (no case folding): SPIFFE IDs compare byte for byte.
 */
export function gatewayClusterOf(identity: string, trustDomain: string): string | null {
  const parsed = parseSpiffeGatewayIdentity(identity);
  if (parsed === undefined || parsed.trustDomain !== trustDomain) return null;
  return isValidClusterName(parsed.cluster) ? parsed.cluster : null;
}

/** Decides whether a peer presenting `identity` may open tunnels here. */
export function authorizePeer(
  identity: string | undefined,
  allowed: ReadonlySet<string>,
  trustDomain: string,
): PeerDecision {
  if (identity === undefined || identity === '') {
    return { ok: false, reason: 'peer certificate has no SPIFFE URI SAN' };
  }
  const cluster = gatewayClusterOf(identity, trustDomain);
  if (cluster === null) {
    return {
      ok: false,
      reason: `"${identity}" is not a gateway identity of trust domain ${trustDomain}`,
    };
  }
  if (!allowed.has(cluster)) {
    return {
      ok: false,
      cluster,
      reason: `cluster "${cluster}" is not linked and not in --allow-cluster`,
    };
  }
  return { ok: true, cluster };
}

/**
 * The clusters this one is linked with. A Link being deleted no longer counts: its finalizer holds
 * it only while the controller removes its mirrors, and an unlink means traffic stops both ways now.
 */
export function linkedClusters(links: readonly Link[]): Set<string> {
  const clusters = new Set<string>();
  for (const link of links) for (const cluster of clustersOfLink(link)) clusters.add(cluster);
  return clusters;
}

/**
 * The clusters a live Link stands for: its target and, while a retarget is not yet verified, the
 * cluster whose mirrors it still holds (`status.mirroredClusterName`, which only the controller
 * writes): a typo in targetClusterName keeps those mirrors, and their traffic with them. None for a
 * Link being deleted.
 */
export function clustersOfLink(link: Link): string[] {
  if (link.metadata?.deletionTimestamp) return [];
  const names = [link.spec?.targetClusterName, link.status?.mirroredClusterName];
  return [...new Set(names.filter((c): c is string => typeof c === 'string' && c !== ''))];
}

/**
 * The admitted clusters: live Link targets ∪ the static list. Not the cluster a retargeted Link
 * still holds mirrors of (`clustersOfLink`): those mirrors need this gateway's egress, not that
 * cluster's traffic here, and a retarget left unfixed must not admit it for good.
 */
export function allowedClusters(links: readonly Link[], staticClusters: readonly string[]): Set<string> {
  const clusters = new Set<string>();
  for (const link of links) {
    const target = link.spec?.targetClusterName;
    if (!link.metadata?.deletionTimestamp && typeof target === 'string' && target !== '')
      clusters.add(target);
  }
  for (const cluster of staticClusters) clusters.add(cluster);
  return clusters;
}

/** What the peer policy needs of the Link informer (src/kube's `Informer<Link>`). */
export interface LinkSource {
  list(): Link[];
}

/**
 * The live policy the ingress consults on each handshake. It re-reads the informer cache on each
 * call (level-triggered, no copy to keep in step), which is cheap: a cluster has a handful of Links.
 */
export class PeerPolicy {
  constructor(
    private readonly links: LinkSource,
    private readonly staticClusters: readonly string[],
    private readonly trustDomain: string,
  ) {}

  allowed(): Set<string> {
    return allowedClusters(this.links.list(), this.staticClusters);
  }

  authorize(identity: string | undefined): PeerDecision {
    return authorizePeer(identity, this.allowed(), this.trustDomain);
  }
}
