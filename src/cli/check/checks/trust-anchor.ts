/**
 * Do the linked clusters share our trust anchor? The remote-access identity may read only services,
 * endpointslices and namespaces (src/cli/install/rbac.ts), not the remote anchor ConfigMap, so the
 * check needs no extra privilege: it verifies the certificate chain the remote gateway presents in a
 * TLS handshake against the local anchor — exactly what our gateway's tunnel will do.
 */
import {
  type CertificateInfo,
  certificateInfo,
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
 * During an anchor rotation ca.crt bundles the old anchor and the new one (`isthmus certs
 * new-anchor` writes the new one first, but a bundle made by hand may not). One that neither this
 * cluster's issuer nor any linked gateway chains to is either the new anchor, after step 1 (every
 * cluster trusts the bundle, nothing issues from it yet: the next step is to issue from it), or
 * the old one, after step 2 (it is only waiting to be dropped). Dropping the wrong one would cut
 * every cluster off, so they are told apart by notBefore, the date each anchor was made: newer
 * than every anchor in use is the new one, older than every one in use the old one; anything else
 * (the same second, or between two in use) is said to be undecided rather than guessed. Warnings,
 * because only the operator knows how far the other clusters are.
 */
function unusedAnchors(facts: CheckFacts, bundle: string): string[] {
  const pems = splitPem(bundle);
  if (pems.length < 2 || !facts.issuerPem.ok || !facts.links.ok) return [];
  const chains: string[][] = [[facts.issuerPem.value]];
  for (const { gatewayChain } of facts.links.value) if (gatewayChain?.ok) chains.push(gatewayChain.chainPem);
  const anchors = pems.map((pem, i) => {
    const used = chains.some(
      ([leaf, ...rest]) => leaf !== undefined && verifyChain(leaf, rest, [pem], facts.now).ok,
    );
    let info: CertificateInfo | undefined;
    try {
      info = certificateInfo(pem);
    } catch {
      // Not a certificate: the certificates check names it.
    }
    return { label: `anchor #${i + 1} of the ${pems.length} in ca.crt`, used, info };
  });
  const inUse = anchors.flatMap((a) => (a.used && a.info ? [a.info.notBefore.getTime()] : []));
  // Nothing chains to any anchor: the certificates and handshake verdicts above say why.
  if (inUse.length === 0) return [];
  const oldestInUse = Math.min(...inUse);
  const newestInUse = Math.max(...inUse);
  const cluster = facts.localCluster ?? '<cluster>';
  const crl = facts.crlPem.ok && facts.crlPem.value !== undefined;
  return anchors.flatMap(({ label, used, info }) => {
    if (used || !info) return [];
    const since = `notBefore ${info.notBefore.toISOString()}`;
    const at = info.notBefore.getTime();
    if (at > newestInUse) {
      return [
        `${label}, the new one (${since}), signs neither this cluster's issuer nor any linked gateway yet: the rotation is under way. Once every cluster trusts the bundle (step 1), issue from the new anchor (step 2) with the issuer isthmus certs new-anchor --out DIR wrote: isthmus upgrade --trust-anchor DIR/ca-bundle.crt --issuer-cert DIR/${cluster}/issuer.crt --issuer-key DIR/${cluster}/issuer.key | kubectl apply -f -, then restart isthmus-identity and isthmus-gateway. Keep the old anchor in ca.crt: it still signs what is in use`,
      ];
    }
    if (at < oldestInUse) {
      return [
        `${label}, the old one (${since}), signs neither this cluster's issuer nor any linked gateway: once every cluster issues from the new anchor (step 2), finish the rotation: isthmus certs new-anchor --out DIR --finish, ${crl ? 'apply the rebuilt DIR/crl.pem as the isthmus-crl ConfigMap in every cluster, ' : ''}then in every cluster isthmus upgrade --trust-anchor DIR/ca.crt | kubectl apply -f - and restart isthmus-gateway (step 3)`,
      ];
    }
    return [
      `${label} (${since}, SHA-256 fingerprint ${info.fingerprintSha256}) signs neither this cluster's issuer nor any linked gateway, and its notBefore does not tell whether it is the new anchor or the old one: compare its fingerprint with \`openssl x509 -noout -fingerprint -sha256\` of DIR/ca.crt (the new anchor) and DIR/previous/ca.crt (the old one). If it is the new one, issue from it next (step 2); only the old one may be dropped`,
    ];
  });
}
