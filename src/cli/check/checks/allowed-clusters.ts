/**
 * The exports of this cluster that admit only the clusters they name (`isthmus.dev/allowed-clusters`):
 * an entry that matches no cluster (a capital, a typo) silently takes the export away from the
 * cluster meant, as its controller then does not mirror it (NotAllowed, which is not a fault on
 * that side). Cluster names are compared as written (the annotation means what it says), so the
 * check says which entries can match nobody: not a DNS label, or none of the clusters this one's
 * gateway admits (those it links to and its --allow-cluster list, src/gateway/peers.ts).
 */
import { allowedClusters } from '../../../gateway/peers.js';
import {
  ALLOWED_CLUSTERS_ANNOTATION,
  allowedClusterEntryProblem,
  GATEWAY_SERVICE_NAME,
} from '../../../kube/keys.js';
import { flagValues } from '../gateway-args.js';
import type { CheckFacts } from '../types.js';

/**
 * The clusters this cluster's gateway admits, or undefined when that is not known: no gateway
 * (a flat network's consumers are not admitted here), or its Deployment unread.
 */
function admittedClusters(facts: CheckFacts): Set<string> | undefined {
  if (!facts.gatewayInstalled || !facts.deployments.ok || !facts.links.ok) return undefined;
  const gateway = facts.deployments.value.find((d) => d.name === GATEWAY_SERVICE_NAME);
  if (!gateway) return undefined;
  // Live Links only, as the gateway counts them: one being deleted admits nobody any more.
  const links = facts.links.value.map((l) => l.link);
  return allowedClusters(links, flagValues(gateway.args ?? [], '--allow-cluster'));
}

/** One warning per entry of an allow-list that can match no cluster, with the one meant if only its case differs. */
export function allowListWarnings(facts: CheckFacts): string[] {
  if (!facts.allowLists?.ok) return [];
  const admitted = admittedClusters(facts);
  const known = [...(admitted ?? []), ...(facts.localCluster ? [facts.localCluster] : [])];
  const warnings: string[] = [];
  for (const { namespace, name, entries } of facts.allowLists.value) {
    const entry = (e: string) => `${namespace}/${name}: its ${ALLOWED_CLUSTERS_ANNOTATION} entry "${e}"`;
    for (const e of entries) {
      const meant = known.find((c) => c !== e && c.toLowerCase() === e.toLowerCase());
      const guess = meant ? `; did you mean "${meant}"? cluster names match as written` : '';
      const problem = allowedClusterEntryProblem(e);
      if (problem) warnings.push(`${entry(e)} ${problem}, so no cluster matches it${guess}`);
      else if (admitted && !known.includes(e))
        warnings.push(
          `${entry(e)} names no cluster this one links to or admits (${[...admitted].sort().join(', ') || 'none'}): no cluster's gateway may reach it under that name${guess}`,
        );
    }
  }
  return warnings;
}
