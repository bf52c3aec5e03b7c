/**
 * The exports of this cluster that admit only the clusters they name (`isthmus.dev/allowed-clusters`):
 * an entry that matches no cluster (a capital, a typo) silently takes the export away from the
 * cluster meant, as its controller then does not mirror it (NotAllowed, which is not a fault on
 * that side). Cluster names are compared as written (the annotation means what it says), so the
 * check says which entries can match nobody: not a DNS label, or none of the clusters this one's
 * gateway admits (those it links to and its --allow-cluster list, src/gateway/peers.ts, read as
 * the gateway reads its flags and environment: gateway-args.ts).
 */
import { GATEWAY_ENV } from '../../../gateway/config.js';
import { allowedClusters } from '../../../gateway/peers.js';
import { ALLOWED_CLUSTERS_ANNOTATION, allowedClusterEntryProblem } from '../../../kube/keys.js';
import type { GatewayAdmission } from '../gateway-args.js';
import type { CheckFacts } from '../types.js';

/**
 * The clusters this cluster's gateway admits, with what was read of it, or undefined when that is
 * not known: no gateway (a flat network's consumers are not admitted here), or its Deployment unread.
 */
function admission(facts: CheckFacts): { admitted: Set<string>; gateway: GatewayAdmission } | undefined {
  if (!facts.gatewayInstalled || !facts.links.ok || !facts.gatewayAdmission?.ok) return undefined;
  const gateway = facts.gatewayAdmission.value;
  if (!gateway) return undefined;
  // Live Links only, as the gateway counts them: one being deleted admits nobody any more.
  const links = facts.links.value.map((l) => l.link);
  return { admitted: allowedClusters(links, gateway.allowCluster), gateway };
}

/** What the gateway's list may hide from this check: a variable it cannot read, or one the flag overrides. */
function listCaveat(gateway: GatewayAdmission): string {
  const name = GATEWAY_ENV.allowCluster;
  if (gateway.unreadList)
    return `, unless the gateway's ${name} names it (${gateway.unreadList}, which check does not read)`;
  if (gateway.overriddenList !== undefined)
    return ` (the gateway's ${name}=${gateway.overriddenList} is not read: its --allow-cluster flag wins)`;
  return '';
}

/** One warning per entry of an allow-list that can match no cluster, with the one meant if only its case differs. */
export function allowListWarnings(facts: CheckFacts): string[] {
  if (!facts.allowLists?.ok) return [];
  const known = admission(facts);
  const names = [...(known?.admitted ?? []), ...(facts.localCluster ? [facts.localCluster] : [])];
  const warnings: string[] = [];
  const unread = facts.gatewayAdmission;
  if (facts.gatewayInstalled && unread?.ok === false && facts.allowLists.value.length > 0)
    warnings.push(
      `cannot tell which clusters the gateway admits from its Deployment (${unread.error}): the ${ALLOWED_CLUSTERS_ANNOTATION} entries of the exports here are checked as cluster names only`,
    );
  for (const { namespace, name, entries, remoteDiscovery } of facts.allowLists.value) {
    const entry = (e: string) => `${namespace}/${name}: its ${ALLOWED_CLUSTERS_ANNOTATION} entry "${e}"`;
    for (const e of entries) {
      const meant = names.find((c) => c !== e && c.toLowerCase() === e.toLowerCase());
      const guess = meant ? `; did you mean "${meant}"? cluster names match as written` : '';
      const problem = allowedClusterEntryProblem(e);
      if (problem) warnings.push(`${entry(e)} ${problem}, so no cluster matches it${guess}`);
      // A remote-discovery export's consumers dial its pods, not this gateway: whom it admits says
      // nothing of them (their controllers still read the entries, hence the check above).
      else if (known && !remoteDiscovery && !names.includes(e))
        warnings.push(
          `${entry(e)} names no cluster this one links to or admits (${[...known.admitted].sort().join(', ') || 'none'}): no cluster's gateway may reach it under that name${listCaveat(known.gateway)}${guess}`,
        );
    }
  }
  return warnings;
}
