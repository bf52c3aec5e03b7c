/**
 * Do the linked clusters share our trust anchor? The remote-access identity may read only services,
 * endpointslices and namespaces (src/cli/install/rbac.ts), not the remote anchor ConfigMap, so the
 * check needs no extra privilege: it verifies the certificate chain the remote gateway presents in a
 * TLS handshake against the local anchor — exactly what our gateway's tunnel will do.
 */
import { gatewayIdentityOf, splitPem, verifyChain } from '../../../identity/index.js';
import { type CheckFacts, type CheckResult, linkLabel } from '../types.js';
import { resultOf, unreadable } from './result.js';

const WHAT = 'linked clusters share the trust anchor';
export const TRUST_ANCHOR_METHOD =
  'compared by a TLS handshake with each remote gateway against the local isthmus-system/isthmus-trust-anchor (the Link credentials cannot read ConfigMaps)';

export function checkTrustAnchor(facts: CheckFacts): CheckResult {
  const blocked =
    unreadable(WHAT, 'Links', facts.links) ??
    unreadable(WHAT, 'ConfigMap isthmus-system/isthmus-trust-anchor', facts.anchorPem);
  if (blocked || !facts.links.ok || !facts.anchorPem.ok) return blocked!;
  const anchor = facts.anchorPem.value;
  const failures: string[] = [];
  const warnings: string[] = [];
  for (const { link, gatewayChain: chain } of facts.links.value) {
    const name = linkLabel(link);
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
    }
  }
  if (failures.length + warnings.length > 0) warnings.push(TRUST_ANCHOR_METHOD);
  return resultOf(WHAT, failures, warnings);
}
