/**
 * Do the linked clusters share our trust anchor? The remote-access identity may read only services,
 * endpointslices and namespaces (src/cli/install/rbac.ts), not the remote anchor ConfigMap, so the
 * check needs no extra privilege: it verifies the certificate chain the remote gateway presents in a
 * TLS handshake against the local anchor — exactly what our gateway's tunnel will do. This cluster's
 * own gateway chains (each replica's, and the one its Service's handshake shows: own-gateway.ts)
 * are verified the same way: peers hold the same ca.crt.
 */

import { parseCertificate } from '../../../identity/certificate-info.js';
import {
  type CertificateInfo,
  certificateInfo,
  gatewayIdentityOf,
  parseSpiffeGatewayIdentity,
  splitPem,
  verifyChain,
} from '../../../identity/index.js';
import { signs as signsCertificate } from '../../../identity/verify-chain.js';
import { type CheckFacts, type CheckResult, linkLabel } from '../types.js';
import { clusterNow, startsSoon, startsSoonWarning } from './clock.js';
import {
  namesOf,
  type OwnGatewayChain,
  ownGatewayChains,
  RESTART_GATEWAYS,
  replicasRead,
  restartOf,
} from './own-gateway.js';
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
  const bundle = splitPem(anchor);
  // As the cluster's gateways judge them: by its clock, not by this machine's.
  const now = clusterNow(facts);
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
    const verify = (at: Date) => verifyChain(leaf, intermediates, bundle, at);
    const verdict = verify(now);
    const there = link.spec?.targetClusterName ?? name;
    const soon = verdict.ok ? undefined : startsSoon(chain.chainPem, verify, now);
    if (soon) {
      warnings.push(startsSoonWarning(facts, `Link ${name}: gateway ${chain.address}`, soon, there));
      continue;
    }
    if (!verdict.ok) {
      // Under an anchor of ours out of its validity (step 3 late), the same ca.crt would not help.
      const stale = staleAnchorOf(chain.chainPem, bundle, now);
      failures.push(
        stale
          ? `Link ${name}: gateway ${chain.address} presents a certificate under ${stale.label}, which ${stale.window} but is still in use there: this cluster refuses it. In cluster ${there}, issue from the new anchor (step 2) and restart every gateway replica: ${RESTART_GATEWAYS}`
          : `Link ${name}: gateway ${chain.address} does not chain to the local trust anchor (${verdict.reason}); install both clusters with the same ca.crt`,
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
  // Peers hold the same ca.crt: a chain of our own gateway that it refuses, every peer refuses.
  const own = ownGatewayRefused(facts, bundle, now);
  failures.push(...own.failures);
  warnings.push(...own.warnings);
  if (failures.length + warnings.length === 0) warnings.push(...unusedAnchors(facts, anchor));
  return resultOf(WHAT, failures, warnings);
}

/**
 * Whether `anchorPem` signs `chain` (leaf first) by signature alone, whatever the dates: what is
 * still in use under an anchor, even one out of its validity that verifyChain refuses.
 */
export function signedUnder(chain: readonly string[], anchorPem: string): boolean {
  try {
    const anchor = parseCertificate(anchorPem);
    const [leaf, ...rest] = chain.map((pem) => parseCertificate(pem));
    // leaf → issuer → anchor; the bound stops a loop of certificates signing one another.
    for (let current = leaf, depth = 0; current && depth < 5; depth++) {
      if (signsCertificate(anchor, current)) return true;
      const i = rest.findIndex((c) => signsCertificate(c, current!));
      current = i < 0 ? undefined : rest.splice(i, 1)[0];
    }
  } catch {
    // Not certificates: under nothing.
  }
  return false;
}

/** The anchor of `bundle` out of its validity at `now` that signs `chain`, if any. */
function staleAnchorOf(
  chain: readonly string[],
  bundle: readonly string[],
  now: Date,
): { label: string; window: string } | undefined {
  for (const [i, pem] of bundle.entries()) {
    const window = outOfWindow(pem, now);
    if (window && signedUnder(chain, pem))
      return { label: `anchor #${i + 1} of the ${bundle.length} in ca.crt`, window };
  }
  return undefined;
}

/** `expired at …` / `is not valid before …` when `pem` is a certificate outside its validity at `now`. */
function outOfWindow(pem: string, now: Date): string | undefined {
  try {
    const { notBefore, notAfter } = certificateInfo(pem);
    if (now < notBefore) return `is not valid before ${notBefore.toISOString()}`;
    if (now > notAfter) return `expired at ${notAfter.toISOString()}`;
  } catch {
    // Not a certificate: the certificates check names it.
  }
  return undefined;
}

/**
 * This cluster's gateway presents a chain ca.crt refuses: a replica not restarted since step 2 still
 * presents a leaf of the old issuer, under the old anchor, which expired (step 3 late) or was
 * dropped. One failure per way refused, naming the replicas refused so; a leaf that starts within
 * minutes is a warning about clocks (a restart would not help).
 */
function ownGatewayRefused(
  facts: CheckFacts,
  bundle: readonly string[],
  now: Date,
): { failures: string[]; warnings: string[] } {
  const refused = new Map<
    string,
    { reason: string; stale?: { label: string; window: string }; chains: OwnGatewayChain[] }
  >();
  const warnings: string[] = [];
  for (const chain of ownGatewayChains(facts)) {
    const [leaf, ...rest] = chain.chainPem;
    const verify = (at: Date) =>
      leaf === undefined
        ? { ok: false as const, reason: 'no certificate' }
        : verifyChain(leaf, rest, bundle, at);
    const verdict = verify(now);
    if (verdict.ok) continue;
    const soon = startsSoon(chain.chainPem, verify, now);
    if (soon) {
      warnings.push(startsSoonWarning(facts, chain.by, soon));
      continue;
    }
    const stale = staleAnchorOf(chain.chainPem, bundle, now);
    const key = JSON.stringify([verdict.reason, stale?.label]);
    const group = refused.get(key) ?? { reason: verdict.reason, ...(stale ? { stale } : {}), chains: [] };
    group.chains.push(chain);
    refused.set(key, group);
  }
  const failures = [...refused.values()].map(({ reason, stale, chains }) => {
    const who = namesOf(chains);
    const one = chains.length === 1;
    const r = restartOf(chains);
    const restart = `Restart ${r.whom} so ${r.each} a certificate of the issuer in force: ${r.command}${unknownReplica(facts, chains)}`;
    return stale
      ? `${stale.label} ${stale.window} but is still in use by ${who}: every peer refuses the certificate ${one ? 'it presents' : 'each presents'} (${reason}). ${restart}`
      : `${who} ${one ? 'presents a certificate that does not chain' : 'present certificates that do not chain'} to ca.crt (${reason}): every peer refuses ${one ? 'it' : 'them'}. ${restart}`;
  });
  return { failures, warnings };
}

/**
 * When only the handshake shows a chain and some replicas' `/certificate` was not read: which
 * replica presents it is not known (as before the endpoint), and what was not read is said.
 */
function unknownReplica(facts: CheckFacts, chains: readonly OwnGatewayChain[]): string {
  const read = replicasRead(facts);
  return read && !read.all && chains.some((c) => !c.pod) ? `. ${notRead(read.unread)}` : '';
}

/** `Check could not read the certificate of gateway pods a, b (why)`. */
function notRead(unread: ReadonlyArray<{ pod: string; error: string }>): string {
  const why = [...new Set(unread.map((u) => u.error))].join('; ');
  return `Check could not read the certificate of ${namesOf(unread)} (${why})`;
}

/**
 * During an anchor rotation ca.crt bundles the old anchor and the new one (`isthmus certs
 * new-anchor` writes the new one first, but a bundle made by hand may not). One that signs neither
 * this cluster's issuer, its own gateway nor any linked gateway (by signature, whatever the dates:
 * an expired anchor still signing the issuer is in use, not waiting to be dropped) is either the new anchor,
 * after step 1 (every cluster trusts the bundle, nothing issues from it yet: the next step is to
 * issue from it), or the old one, after step 2 (it is only waiting to be dropped). Dropping the
 * wrong one would cut every cluster off, so they are told apart by notBefore, the date each anchor
 * was made: newer than every anchor in use is the new one, older than every one in use the old
 * one; anything else (the same second, or between two in use) is said to be undecided rather than
 * guessed. Warnings, because only the operator knows how far the other clusters are.
 *
 * This cluster's gateway counts apart from its issuer: after step 2 the issuer Secret holds the new
 * issuer at once, but a gateway replica keeps its leaf of the old one until it renews (~17 h) unless
 * it was restarted after identity took the new issuer. Each replica's chain counts (own-gateway.ts);
 * when some could not be read (a gateway older than `/certificate`), the advice to finish says so.
 */
function unusedAnchors(facts: CheckFacts, bundle: string): string[] {
  const pems = splitPem(bundle);
  if (pems.length < 2 || !facts.issuerPem.ok || !facts.links.ok) return [];
  const issuerPem = facts.issuerPem.value;
  const own = ownGatewayChains(facts);
  const chains: Array<{ by: string; chain: string[] }> = [
    { by: "this cluster's issuer", chain: [issuerPem] },
  ];
  for (const { link, gatewayChain } of facts.links.value) {
    if (gatewayChain?.ok)
      chains.push({
        by: `Link ${linkLabel(link)}'s gateway (${gatewayChain.address})`,
        chain: gatewayChain.chainPem,
      });
  }
  for (const c of own) chains.push({ by: c.by, chain: c.chainPem });
  // By signature alone (signedUnder): an anchor out of its validity still signs what is in use
  // (step 3 late), where verifyChain, which checks dates, would call it unused and advise dropping it.
  const signs = signedUnder;
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
      users: chains.flatMap((c) => (signs(c.chain, pem) ? [c.by] : [])),
      window: outOfWindow(pem, clusterNow(facts)),
      info,
    };
  });
  const inUse = anchors.flatMap((a) => (a.users.length > 0 && a.info ? [a.info.notBefore.getTime()] : []));
  // Nothing chains to any anchor: the certificates and handshake verdicts above say why.
  if (inUse.length === 0) return [];
  const oldestInUse = Math.min(...inUse);
  const newestInUse = Math.max(...inUse);
  const cluster = facts.localCluster ?? '<cluster>';
  const crl = facts.crlPem.ok && facts.crlPem.value !== undefined;
  const issuerAnchors = anchors.filter((a) => signs([issuerPem], a.pem));
  // A chain under none of the anchors failed above (this cluster's gateway, verified now).
  const otherAnchor = new Map<(typeof anchors)[number], OwnGatewayChain[]>();
  for (const c of issuerAnchors.length > 0 ? own : []) {
    const shown = anchors.find((a) => signs(c.chainPem, a.pem));
    if (!shown || issuerAnchors.some((a) => signs(c.chainPem, a.pem))) continue;
    otherAnchor.set(shown, [...(otherAnchor.get(shown) ?? []), c]);
  }
  const ownGateway = [...otherAnchor].map(([shown, on]) => gatewayOnOtherAnchor(on, shown, issuerAnchors));
  const seen = replicasSeen(facts);
  return [
    ...ownGateway,
    ...anchors.flatMap(({ label, users, window, info }) => {
      if (window && users.length > 0) {
        // Only this cluster's issuer gets here: a gateway under it is refused, a failure above.
        return [
          `${label} ${window} but is still in use by ${users.join(', ')}: dropping it (finishing the rotation) would not help. Issue from the new anchor (step 2) with the issuer isthmus certs new-anchor --out DIR wrote: isthmus upgrade --trust-anchor DIR/ca-bundle.crt --issuer-cert DIR/${cluster}/issuer.crt --issuer-key DIR/${cluster}/issuer.key | kubectl apply -f -, then restart isthmus-identity and isthmus-gateway`,
        ];
      }
      if (users.length > 0 || !info) return [];
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

/** What the advice to finish says of this cluster's gateway replicas: what check saw of them. */
function replicasSeen(facts: CheckFacts): string {
  const read = replicasRead(facts);
  const local = facts.localGatewayChain;
  if (read?.all)
    return ` Check read the certificate of every running replica of this cluster's gateway (${read.pods.join(', ')}): none is under it.`;
  // Some, or none at all, read (gateways older than `/certificate`): as before it, hedged.
  if (read)
    return ` ${notRead(read.unread)}${local?.ok ? `; it saw the one its Service sent a handshake to (${local.address})` : ''}: ${RESTART_BEFORE_FINISHING}`;
  if (local === undefined)
    return ` Check did not read the certificate of this cluster's gateway: ${RESTART_BEFORE_FINISHING}`;
  return local.ok
    ? ` Check saw the certificate of one replica of this cluster's gateway (${local.address}): ${RESTART_BEFORE_FINISHING}`
    : ` Check could not read the certificate of this cluster's gateway (${local.error}): ${RESTART_BEFORE_FINISHING}`;
}

const RESTART_BEFORE_FINISHING = `every replica must have been restarted since this cluster's step 2 (${RESTART_GATEWAYS}), or one still presenting a certificate of the old issuer is refused by every peer once it drops the old anchor`;

/**
 * Replicas of this cluster's gateway present a leaf under another anchor than their issuer's: not
 * restarted since the issuer changed (older anchor: step 2 of a rotation), or a rolled-back issuer.
 */
function gatewayOnOtherAnchor(
  chains: readonly OwnGatewayChain[],
  shown: { label: string; info?: CertificateInfo },
  issuerAnchors: ReadonlyArray<{ info?: CertificateInfo }>,
): string {
  const presents = `${namesOf(chains)} ${chains.length === 1 ? 'presents a certificate' : 'present certificates'} under ${shown.label}`;
  const r = restartOf(chains);
  const older =
    shown.info !== undefined &&
    issuerAnchors.every((a) => a.info !== undefined && shown.info!.notBefore < a.info.notBefore);
  return older
    ? `${presents}, the old one, but its issuer is under the new one: a replica not restarted since step 2 keeps its certificate of the old issuer until it renews (about 17 h). Restart ${r.whom} (${r.command}) and check again before finishing the rotation: peers that drop the old anchor refuse it`
    : `${presents}, not under the anchor of its issuer (the isthmus-issuer Secret): restart ${r.whom} (${r.command}) so ${r.each} a certificate of the issuer in force`;
}
