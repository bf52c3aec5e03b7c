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
 * cluster's issuer, its own gateway nor any linked gateway chains to is either the new anchor,
 * after step 1 (every cluster trusts the bundle, nothing issues from it yet: the next step is to
 * issue from it), or the old one, after step 2 (it is only waiting to be dropped). Dropping the
 * wrong one would cut every cluster off, so they are told apart by notBefore, the date each anchor
 * was made: newer than every anchor in use is the new one, older than every one in use the old
 * one; anything else (the same second, or between two in use) is said to be undecided rather than
 * guessed. Warnings, because only the operator knows how far the other clusters are.
 *
 * This cluster's gateway counts apart from its issuer: after step 2 the issuer Secret holds the new
 * issuer at once, but a gateway replica keeps its leaf of the old one until it renews (~17 h) unless
 * it was restarted after identity took the new issuer. Check sees one replica (the one its Service
 * sent the handshake to), so the advice to finish says so.
 */
function unusedAnchors(facts: CheckFacts, bundle: string): string[] {
  const pems = splitPem(bundle);
  if (pems.length < 2 || !facts.issuerPem.ok || !facts.links.ok) return [];
  const issuerPem = facts.issuerPem.value;
  const local = facts.localGatewayChain;
  const chains: string[][] = [[issuerPem]];
  for (const { gatewayChain } of facts.links.value) if (gatewayChain?.ok) chains.push(gatewayChain.chainPem);
  if (local?.ok) chains.push(local.chainPem);
  const signs = (chain: string[], pem: string) => {
    const [leaf, ...rest] = chain;
    return leaf !== undefined && verifyChain(leaf, rest, [pem], facts.now).ok;
  };
  const anchors = pems.map((pem, i) => {
    let info: CertificateInfo | undefined;
    try {
      info = certificateInfo(pem);
    } catch {
      // Not a certificate: the certificates check names it.
    }
    return {
      pem,
      label: `anchor #${i + 1} of the ${pems.length} in ca.crt`,
      used: chains.some((c) => signs(c, pem)),
      info,
    };
  });
  const inUse = anchors.flatMap((a) => (a.used && a.info ? [a.info.notBefore.getTime()] : []));
  // Nothing chains to any anchor: the certificates and handshake verdicts above say why.
  if (inUse.length === 0) return [];
  const oldestInUse = Math.min(...inUse);
  const newestInUse = Math.max(...inUse);
  const cluster = facts.localCluster ?? '<cluster>';
  const crl = facts.crlPem.ok && facts.crlPem.value !== undefined;
  const issuerAnchors = anchors.filter((a) => signs([issuerPem], a.pem));
  const ownGateway =
    local?.ok && issuerAnchors.length > 0 && !issuerAnchors.some((a) => signs(local.chainPem, a.pem))
      ? gatewayOnOtherAnchor(
          local.address,
          anchors.find((a) => signs(local.chainPem, a.pem)),
          issuerAnchors,
        )
      : [];
  const seen =
    local === undefined
      ? ` Check did not read the certificate of this cluster's gateway: ${RESTART_BEFORE_FINISHING}`
      : local.ok
        ? ` Check saw the certificate of one replica of this cluster's gateway (${local.address}): ${RESTART_BEFORE_FINISHING}`
        : ` Check could not read the certificate of this cluster's gateway (${local.error}): ${RESTART_BEFORE_FINISHING}`;
  return [
    ...ownGateway,
    ...anchors.flatMap(({ label, used, info }) => {
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
          `${label}, the old one (${since}), signs neither this cluster's issuer nor any linked gateway: once every cluster issues from the new anchor (step 2), finish the rotation: isthmus certs new-anchor --out DIR --finish, ${crl ? 'apply the rebuilt DIR/crl.pem as the isthmus-crl ConfigMap in every cluster, ' : ''}then in every cluster isthmus upgrade --trust-anchor DIR/ca.crt | kubectl apply -f - and restart isthmus-gateway (step 3).${seen}`,
        ];
      }
      return [
        `${label} (${since}, SHA-256 fingerprint ${info.fingerprintSha256}) signs neither this cluster's issuer nor any linked gateway, and its notBefore does not tell whether it is the new anchor or the old one: compare its fingerprint with \`openssl x509 -noout -fingerprint -sha256\` of DIR/ca.crt (the new anchor) and DIR/previous/ca.crt (the old one). If it is the new one, issue from it next (step 2); only the old one may be dropped`,
      ];
    }),
  ];
}

const RESTART_GATEWAYS = 'kubectl -n isthmus-system rollout restart deployment/isthmus-gateway';

const RESTART_BEFORE_FINISHING = `every replica must have been restarted since this cluster's step 2 (${RESTART_GATEWAYS}), or one still presenting a certificate of the old issuer is refused by every peer once it drops the old anchor`;

/**
 * This cluster's gateway presents a leaf under another anchor than its issuer's: a replica not
 * restarted since its issuer changed (older anchor: step 2 of a rotation), or a rolled-back issuer.
 */
function gatewayOnOtherAnchor(
  address: string,
  shown: { label: string; info?: CertificateInfo } | undefined,
  issuerAnchors: ReadonlyArray<{ info?: CertificateInfo }>,
): string[] {
  const under = shown ? `under ${shown.label}` : 'under none of the anchors in ca.crt';
  const older =
    shown?.info !== undefined &&
    issuerAnchors.every((a) => a.info !== undefined && shown.info!.notBefore < a.info.notBefore);
  return [
    older
      ? `this cluster's gateway (${address}) presents a certificate ${under}, the old one, but its issuer is under the new one: a replica not restarted since step 2 keeps its certificate of the old issuer until it renews (about 17 h). Restart every replica (${RESTART_GATEWAYS}) and check again before finishing the rotation: peers that drop the old anchor refuse it`
      : `this cluster's gateway (${address}) presents a certificate ${under}, not under the anchor of its issuer (the isthmus-issuer Secret): restart every replica (${RESTART_GATEWAYS}) so each takes a certificate of the issuer in force`,
  ];
}
