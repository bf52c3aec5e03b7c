/**
 * Do the linked clusters share our trust anchor? The remote-access identity may read only services,
 * endpointslices and namespaces (src/cli/install/rbac.ts), not the remote anchor ConfigMap, so the
 * check needs no extra privilege: it verifies the certificate chain the remote gateway presents in a
 * TLS handshake against the local anchor — exactly what our gateway's tunnel will do.
 */
import {
  gatewayIdentityOf,
  parseSpiffeGatewayIdentity,
  splitPem,
  verifyChain,
} from '../../../identity/index.js';
import { type CheckFacts, type CheckResult, linkLabel } from '../types.js';
import { resultOf, unreadable, withoutGateway } from './result.js';

const WHAT = 'linked clusters share the trust anchor';
export const TRUST_ANCHOR_METHOD =
  'compared by a TLS handshake with each remote gateway against the local isthmus-system/isthmus-trust-anchor (the Link credentials cannot read ConfigMaps)';

export function checkTrustAnchor(facts: CheckFacts): CheckResult {
  if (!facts.gatewayInstalled) return withoutGateway(WHAT);
  const blocked =
    unreadable(WHAT, 'Links', facts.links) ??
    unreadable(WHAT, 'ConfigMap isthmus-system/isthmus-trust-anchor', facts.anchorPem);
  if (blocked || !facts.links.ok || !facts.anchorPem.ok) return blocked!;
  const anchor = facts.anchorPem.value;
  const failures: string[] = [];
  const warnings: string[] = [];
  for (const { link, gatewayChain: chain } of facts.links.value) {
    const name = linkLabel(link);
    if (!chain) continue; // no gateway: nothing of the remote's is verified against our anchor
    if (!chain.ok) {
      warnings.push(
        `Link ${name}: cannot compare, no TLS handshake with gateway ${chain.address}: ${chain.error}`,
      );
      continue;
    }
    const [leaf, ...intermediates] = chain.chainPem;
    if (leaf === undefined) {
      failures.push(`Link ${name}: gateway ${chain.address} presented no certificate`);
      continue;
    }
    const verdict = verifyChain(leaf, intermediates, splitPem(anchor), facts.now);
    if (!verdict.ok) {
      failures.push(
        `Link ${name}: gateway ${chain.address} does not chain to the local trust anchor (${verdict.reason}); install both clusters with the same ca.crt`,
      );
      continue;
    }
    const expected = link.spec?.gatewayIdentity;
    const presented = gatewayIdentityOf(leaf);
    if (expected && presented !== expected) {
      failures.push(
        `Link ${name}: gateway ${chain.address} presents identity ${presented ?? '(none)'}, the Link expects ${expected}`,
      );
      continue;
    }
    // Tunnels and probes expect the gateway identity of the cluster named on the mirrors
    // (mirror.linkerd.io/cluster-name = the Link's targetClusterName), not a name given elsewhere.
    const target = link.spec?.targetClusterName;
    const holder = presented && parseSpiffeGatewayIdentity(presented)?.cluster;
    if (target && holder && holder !== target) {
      failures.push(
        `Link ${name}: gateway ${chain.address} holds cluster ${holder}'s identity, but this Link's mirrors name cluster ${target}: tunnels and probes expect ${target}'s gateway identity, so name the Link ${holder}`,
      );
    }
  }
  if (failures.length + warnings.length > 0) warnings.push(TRUST_ANCHOR_METHOD);
  else warnings.push(...unusedAnchors(facts, anchor));
  return resultOf(WHAT, failures, warnings);
}

/**
 * During an anchor rotation ca.crt bundles the old anchor and the new one. Once neither this
 * cluster's issuer nor any linked gateway chains to one of them, it is only waiting to be dropped:
 * say so, as a warning, because only the operator knows whether every cluster has moved.
 */
function unusedAnchors(facts: CheckFacts, bundle: string): string[] {
  const anchors = splitPem(bundle);
  if (anchors.length < 2 || !facts.issuerPem.ok || !facts.links.ok) return [];
  const chains: string[][] = [[facts.issuerPem.value]];
  for (const { gatewayChain } of facts.links.value) if (gatewayChain?.ok) chains.push(gatewayChain.chainPem);
  const used = (anchor: string) =>
    chains.some(([leaf, ...rest]) => leaf !== undefined && verifyChain(leaf, rest, [anchor], facts.now).ok);
  return anchors.flatMap((anchor, i) =>
    used(anchor)
      ? []
      : [
          `anchor #${i + 1} of the ${anchors.length} in ca.crt signs neither this cluster's issuer nor any linked gateway: once every cluster issues from the new anchor, finish the rotation (isthmus certs new-anchor --finish, then install with the new ca.crt)`,
        ],
  );
}
