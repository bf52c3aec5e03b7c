/**
 * Does the CRL bundle the gateways load (ConfigMap isthmus-system/isthmus-crl, `isthmus certs
 * revoke`) check out, and does it revoke this cluster's issuer, this cluster's gateway or a linked
 * cluster's gateway? The gateways refuse a bundle they cannot verify (they keep the list in force),
 * and refuse a revoked peer at the handshake, so either explains a Link that is dead although
 * everything else looks right. A revoked issuer or gateway certificate of our own is the same from
 * the other side: every gateway that loads the bundle refuses ours. Our gateway's certificates are
 * each replica's admin `/certificate` and, as the peers see one of them, a handshake with its
 * LoadBalancer address (gather.ts, own-gateway.ts).
 *
 * The fixes follow what the gateways do by themselves (src/gateway/own-certificate-revocation.ts):
 * an identity-issued gateway replaces a revoked certificate of its own once it loads the bundle,
 * retrying while identity cannot sign one, so nothing is restarted; a revoked issuer is renewed,
 * which identity reloads and the gateways' retries then take leaves of. Only a gateway run with
 * `--cert-file` needs new files. A restart is never advised while identity runs nothing: the
 * gateway would start with no certificate at all, where it keeps serving with the revoked one.
 */
import { X509Certificate } from 'node:crypto';
import { describeError } from '../../../errors.js';
import { oneLineName } from '../../../identity/certificate-info.js';
import { RevocationList } from '../../../identity/revocation.js';
import { signs } from '../../../identity/verify-chain.js';
import { GATEWAY_SERVICE_NAME } from '../../../kube/keys.js';
import { type CheckFacts, type CheckResult, type LinkFacts, linkLabel } from '../types.js';
import { clusterNow } from './clock.js';
import { crlFileRefusals } from './crl-file-refused.js';
import { DEPLOYMENTS_CHECK, notAvailable } from './deployments.js';
import { type OwnGatewayChain, ownGatewayChains } from './own-gateway.js';
import { resultOf, unreadable, withoutGateway } from './result.js';

const WHAT = 'no linked gateway is revoked';
/** How other checks refer to this one. */
export const REVOCATION_CHECK = `"${WHAT}"`;

/** What the bundle revokes of what this check sees, as the gateways will judge it. */
export interface Revocations {
  /** Why this cluster's issuer is revoked, when it is. */
  issuer?: { subject: string; reason: string };
  /**
   * Why each certificate this cluster's gateway replicas present is revoked, for those that are,
   * when the issuer in force is not (a revoked issuer is renewed first, and the gateways' renewals
   * that follow cover this). `at`: `at <address>` (the handshake) or `by gateway pod <name>`.
   */
  gateway?: Array<{ serial: string; at: string; reason: string }>;
  /** Why each Link's gateway (its presented chain) is revoked, for those that are. */
  gateways: Map<LinkFacts, ChainRevocation>;
}

/**
 * Why a chain is refused, and whether for its issuer: a revoked leaf of a good issuer is replaced
 * by a new certificate, which the gateway holding it takes by itself; a revoked issuer must be
 * renewed first.
 */
export interface ChainRevocation {
  reason: string;
  issuer: boolean;
}

/**
 * The verdicts of a bundle the gateways accept; `undefined` when there is none to go by (no
 * gateway, no CRL, a read failed, or the gateways refuse the bundle: checkRevocation says which).
 * Pure, so other checks can name a revocation as the reason for what they see.
 */
export function revocationsOf(facts: CheckFacts): Revocations | undefined {
  const list = verifiedList(facts);
  return list && typeof list !== 'string' && facts.links.ok ? revocations(list, facts) : undefined;
}

export function checkRevocation(facts: CheckFacts): CheckResult {
  if (!facts.gatewayInstalled) return withoutGateway(WHAT);
  const judged = judgeBundle(facts);
  // What the pods hold: a file refused against the list in force is invisible in the file alone.
  const pods = crlFileRefusals(facts);
  if (judged.bundleRefused && pods.refusing.length > 0) {
    const [first, ...rest] = judged.failures;
    return resultOf(
      WHAT,
      [`${first}; refused now by ${pods.refusing.join(' and ')}`, ...rest],
      pods.warnings,
    );
  }
  return resultOf(WHAT, [...judged.failures, ...pods.failures], pods.warnings);
}

/** The bundle judged on its own; `bundleRefused`: the first failure says the gateways refuse it. */
function judgeBundle(facts: CheckFacts): { failures: string[]; bundleRefused?: boolean } {
  const blocked =
    unreadable(WHAT, 'ConfigMap isthmus-system/isthmus-crl', facts.crlPem) ??
    unreadable(WHAT, 'ConfigMap isthmus-system/isthmus-trust-anchor', facts.anchorPem) ??
    unreadable(WHAT, 'Links', facts.links);
  if (blocked || !facts.links.ok) return { failures: blocked!.hints };
  const list = verifiedList(facts);
  if (list === undefined) return { failures: [] }; // no CRL: nothing revoked
  if (typeof list === 'string') {
    return {
      failures: [
        `the gateways refuse the CRL bundle in isthmus-crl (${list}); rebuild it with \`isthmus certs revoke\` from the directory of \`isthmus certs\``,
      ],
      bundleRefused: true,
    };
  }
  const { issuer, gateway, gateways } = revocations(list, facts);
  const failures: string[] = [];
  for (const g of gateway ?? []) {
    failures.push(
      `this cluster's gateway certificate (serial ${g.serial}, presented ${g.at}) is revoked (${g.reason}): every gateway that loads this CRL refuses this cluster's gateway; ${ownCertificateFix(facts)}`,
    );
  }
  if (issuer) {
    const cluster = facts.localCluster ?? '<cluster>';
    failures.push(
      `this cluster's issuer "${issuer.subject}" is revoked (${issuer.reason}): every gateway that loads this CRL refuses this cluster's gateway, whose certificate it signed; renew it: isthmus certs --out DIR --clusters ${cluster} --reuse-anchor --force, then isthmus upgrade --issuer-cert DIR/${cluster}/issuer.crt --issuer-key DIR/${cluster}/issuer.key | kubectl apply -f -; isthmus-identity reloads the new issuer and this cluster's gateways take certificates of it by themselves, no restart needed`,
    );
  }
  for (const [{ link, gatewayChain }, revoked] of gateways) {
    failures.push(
      `Link ${linkLabel(link)}: gateway ${gatewayChain?.address} is revoked here (${revoked.reason}); its tunnels are refused until it has a new certificate${peerFix(link.spec?.targetClusterName ?? linkLabel(link), revoked)}`,
    );
  }
  return { failures };
}

/** The bundle as the gateways verify it; a string: why they refuse it; undefined: nothing to verify. */
function verifiedList(facts: CheckFacts): RevocationList | string | undefined {
  if (!facts.gatewayInstalled || !facts.crlPem.ok || !facts.anchorPem.ok) return undefined;
  if (facts.crlPem.value === undefined) return undefined;
  try {
    return RevocationList.fromPem(facts.crlPem.value, facts.anchorPem.value);
  } catch (err) {
    return describeError(err);
  }
}

function revocations(list: RevocationList, facts: CheckFacts): Revocations {
  // As the cluster's gateways judge the issuers shown: by its clock.
  const at = clusterNow(facts);
  const gateways = new Map<LinkFacts, ChainRevocation>();
  for (const linked of facts.links.ok ? facts.links.value : []) {
    const chain = linked.gatewayChain;
    if (!chain?.ok || chain.chainPem.length === 0) continue; // the trust-anchor check reports these
    const reason = revoked(list, chain.chainPem, at);
    if (reason)
      gateways.set(linked, { reason, issuer: !list.revokesItself(new X509Certificate(chain.chainPem[0]!)) });
  }
  const chains = ownGatewayChains(facts);
  const own = facts.issuerPem.ok ? issuerRevocation(list, facts.issuerPem.value, chains, at) : {};
  return { ...own, ...(own.issuer ? {} : ownGatewayRevocation(list, chains, at)), gateways };
}

/**
 * How a linked cluster's gateway, whose chain the CRL refuses, comes to have one it accepts: a
 * revoked leaf is replaced by the gateway itself once it loads the same bundle (its cluster gets
 * the same isthmus-crl ConfigMap); a revoked issuer is renewed in that cluster first.
 */
export function peerFix(cluster: string, revoked: ChainRevocation): string {
  return revoked.issuer
    ? ` from an issuer that is not revoked: ${cluster}'s issuer must be renewed there (isthmus certs --reuse-anchor --force, then isthmus upgrade)`
    : `, which the ${cluster} gateway takes from its identity service by itself once it loads the same CRL (its isthmus-crl ConfigMap)`;
}

const RESTART_GATEWAY = 'kubectl -n isthmus-system rollout restart deployment/isthmus-gateway';
/** What the gateway's log says of each check against a CRL load (own-certificate-revocation.ts). */
const REFUSED_LOG = '"certificate refused by the CRL"';

/**
 * How this cluster's gateway comes to present a certificate the CRL does not revoke, as the facts
 * say it runs: with `--cert-file` (new files, then SIGHUP or a restart), or with certificates from
 * isthmus-identity, which it replaces by itself; while identity runs nothing, identity is named as
 * what blocks it, and no restart is advised (the gateway would start with no certificate at all).
 */
export function ownCertificateFix(facts: Pick<CheckFacts, 'deployments'>): string {
  const deployments = facts.deployments.ok ? facts.deployments.value : undefined;
  const gateway = deployments?.find((d) => d.name === GATEWAY_SERVICE_NAME);
  if (gateway?.args?.some((a) => a === '--cert-file' || a.startsWith('--cert-file=')))
    return `it runs with --cert-file, which it does not renew: replace the files of --cert-file and --key-file with a new certificate and send the gateway SIGHUP (or restart it: ${RESTART_GATEWAY})`;
  const identityDown = deployments && notAvailable(deployments.find((d) => d.name === 'isthmus-identity'));
  if (identityDown)
    return `the gateway replaces it by itself, but only with a certificate from isthmus-identity, which ${identityDown} (see "${DEPLOYMENTS_CHECK}"): bring identity back first, and do not restart the gateway meanwhile (it would start with no certificate at all)`;
  return `the gateway replaces it by itself once it has loaded this CRL and isthmus-identity can issue a new one: its log line starting ${REFUSED_LOG} says whether it did`;
}

/** The chains this cluster's gateway replicas present, judged as their peers judge them. */
function ownGatewayRevocation(
  list: RevocationList,
  chains: readonly OwnGatewayChain[],
  at: Date,
): Pick<Revocations, 'gateway'> {
  const gateway = chains.flatMap((c) => {
    const reason = c.chainPem.length === 0 ? undefined : revoked(list, c.chainPem, at);
    if (!reason) return [];
    const serial = new X509Certificate(c.chainPem[0]!).serialNumber;
    return [{ serial, at: c.pod ? `by gateway pod ${c.pod}` : `at ${c.address}`, reason }];
  });
  return gateway.length > 0 ? { gateway } : {};
}

/** As the gateways judge a peer: the leaf against its issuer's CRL, the issuer against the anchor's. */
function revoked(list: RevocationList, chainPem: readonly string[], at: Date): string | undefined {
  try {
    const [leaf, issuer] = chainPem.map((pem) => new X509Certificate(pem));
    return list.check(leaf!, issuer, at);
  } catch {
    return undefined; // not certificates: the trust-anchor and certificates checks say so
  }
}

/**
 * This cluster's issuer, judged as the peers judge the chains our gateway presents: revoked when
 * the anchor's CRL lists it, or when it signed the gateway's certificate, which the peers refuse
 * though no CRL lists that certificate itself: an issuer renewed with the same key (a new serial)
 * still has its old serial's revocation, and every leaf it signs is refused.
 */
function issuerRevocation(
  list: RevocationList,
  issuerPem: string,
  gatewayChains: readonly OwnGatewayChain[],
  at: Date,
): Pick<Revocations, 'issuer'> {
  const reason =
    revoked(list, [issuerPem], at) ??
    gatewayChains.map((c) => sameKeyRevocation(list, issuerPem, c.chainPem, at)).find((r) => r !== undefined);
  if (!reason) return {};
  return { issuer: { subject: oneLineName(new X509Certificate(issuerPem).subject), reason } };
}

function sameKeyRevocation(
  list: RevocationList,
  issuerPem: string,
  chainPem: readonly string[],
  at: Date,
): string | undefined {
  if (chainPem.length === 0) return undefined;
  const refused = revoked(list, chainPem, at);
  if (!refused) return undefined;
  try {
    const leaf = new X509Certificate(chainPem[0]!);
    return signs(new X509Certificate(issuerPem), leaf) && !list.revokesItself(leaf) ? refused : undefined;
  } catch {
    return undefined; // not certificates: the trust-anchor and certificates checks say so
  }
}
