/**
 * Remote gateways alive, as the controller's probes see them (the Link's GatewayAlive condition).
 * A failed probe is a network problem unless something here explains it. The probe goes through
 * this cluster's gateway (its admin `/probe`, src/mirror/probe-worker.ts), so with no replica of it
 * available every probe fails whatever the remote does: the hint then names our gateway and why
 * (the Deployments check's facts). Otherwise the CRL bundle may explain it: a gateway revoked here
 * is refused by ours, and a revoked issuer of this cluster gets ours refused by every gateway that
 * loads the same bundle, and so does a revoked certificate of our gateway's own. The hint then
 * points at the revocation, not at the network. When the controller itself found the probes failing
 * on this side (GatewayAlive=Unknown/LocalGatewayUnavailable, src/mirror/link-status.ts), that is
 * the failure, with its message: nothing is known of the remote, and waiting does not help. With
 * no controller leading, the condition is the last leader's, however old: a warning that says so
 * (stale-status.ts), neither a pass nor the remote's failure.
 */
import { hostPort } from '../../../host-port.js';
import type { Link } from '../../../kube/types.js';
import { parseLinkSpec } from '../../../mirror/link-config.js';
import { podLines } from '../pod-diagnosis.js';
import {
  type CheckFacts,
  type CheckResult,
  condition,
  followedGatewayHosts,
  linkLabel,
  rejectedByController,
} from '../types.js';
import { DEPLOYMENTS_CHECK, notAvailable } from './deployments.js';
import { resultOf, unreadable } from './result.js';
import {
  type ChainRevocation,
  ownCertificateFix,
  peerFix,
  REVOCATION_CHECK,
  revocationsOf,
} from './revocation.js';
import { staleHint, staleLinkStatus } from './stale-status.js';

const WHAT = 'remote gateways are alive';
/** How other checks refer to this one. */
export const GATEWAYS_ALIVE_CHECK = WHAT;

export function checkGatewaysAlive(facts: CheckFacts): CheckResult {
  const blocked = unreadable(WHAT, 'Links', facts.links);
  if (blocked || !facts.links.ok) return blocked!;
  const failures: string[] = [];
  const warnings: string[] = [];
  let probed = 0;
  const revoked = revocationsOf(facts);
  const localDown = localGatewayDown(facts);
  // No controller leads: GatewayAlive is the last leader's word, True or False alike.
  const stale = staleLinkStatus(facts);
  for (const linked of facts.links.value) {
    const { link } = linked;
    const parsed = parseLinkSpec(link, { localGateway: facts.gatewayInstalled });
    // Invalid (to us or to the controller, e.g. a second Link to one cluster): reported by "every
    // Link is valid", never probed. No gateway: nothing to probe.
    if (!parsed.ok || rejectedByController(link) || !parsed.config.hasGateway) continue;
    probed++;
    const name = linkLabel(link);
    const gw = probedGateways(link);
    const alive = condition(link, 'GatewayAlive');
    if (stale) {
      const said = alive ? `its GatewayAlive=${alive.status}` : 'its status';
      warnings.push(`Link ${name}: unknown whether gateway ${gw} is alive: ${staleHint(said, stale)}`);
      continue;
    }
    if (alive?.status === 'True') continue;
    if (alive?.reason === 'LocalGatewayUnavailable') {
      // A gateway whose own certificate or issuer the CRL revokes cannot probe (every peer refuses
      // it): the revocation says what to do, before the generic "fix this cluster's gateway".
      const fix =
        ownRevocationWhy(revoked, facts) ??
        localDown ??
        "fix this cluster's gateway first: every probe goes through it";
      failures.push(`Link ${name}: gateway ${gw} cannot be probed from here (${alive.message}); ${fix}`);
      continue;
    }
    if (alive?.status === 'False') {
      const gatewayRevoked = revoked?.gateways.get(linked);
      const why =
        localDown ??
        (gatewayRevoked
          ? `its certificate is revoked here (${gatewayRevoked.reason}), so this cluster's gateway refuses it: ${revokedPeerFix(link.spec?.targetClusterName ?? name, gatewayRevoked)} (see ${REVOCATION_CHECK})`
          : (ownRevocationWhy(revoked, facts) ??
            refusedThere(alive.message, name, facts.localCluster) ??
            `check that the ${name} gateway runs and that this cluster's gateway can reach its port`));
      failures.push(
        `Link ${name}: gateway ${gw} is not alive (${withoutAddress(alive.message) || alive.reason}); ${why}`,
      );
    } else {
      warnings.push(`Link ${name}: gateway ${gw} not probed yet; run the check again in a few seconds`);
    }
  }
  // Links without a gateway (a flat pod network) have nothing to probe: say so rather than tick it.
  if (probed === 0 && facts.links.value.length > 0) return resultOf(`${WHAT}: no Link has a gateway`, []);
  return resultOf(WHAT, failures, warnings);
}

/** This cluster's issuer or gateway certificate revoked: why its probes fail, and what to do. */
function ownRevocationWhy(revoked: ReturnType<typeof revocationsOf>, facts: CheckFacts): string | undefined {
  if (revoked?.issuer)
    return `this cluster's issuer is revoked (see ${REVOCATION_CHECK}), and gateways that load the same CRL refuse this cluster's gateway: renew this cluster's issuer first`;
  if (revoked?.gateway)
    return `this cluster's gateway certificate (serial ${revoked.gateway.map((g) => g.serial).join(', ')}) is revoked (see ${REVOCATION_CHECK}), and gateways that load the same CRL refuse it: ${ownCertificateFix(facts)}`;
  return undefined;
}

/**
 * Why no probe can pass here, whatever the remote gateway does: this cluster's gateway has no
 * available replica. Said with its first unready pod's reason, and identity's state when identity
 * runs nothing either (a gateway gets its certificates from it, and dials no peer without one).
 */
function localGatewayDown(facts: CheckFacts): string | undefined {
  if (!facts.gatewayInstalled || !facts.deployments.ok) return undefined;
  const deployments = facts.deployments.value;
  const gateway = deployments.find((d) => d.name === 'isthmus-gateway');
  const down = notAvailable(gateway);
  if (!down) return undefined;
  const identityDown = notAvailable(deployments.find((d) => d.name === 'isthmus-identity'));
  const why = [
    ...(gateway && gateway.replicas > 0 ? [`0/${gateway.replicas}`] : []),
    ...(gateway?.pods ? podLines(gateway.pods).filter((l) => l.startsWith('pod ')) : []).slice(0, 1),
    ...(identityDown ? [`isthmus-identity, which issues its certificates, ${identityDown}`] : []),
  ];
  const detail = why.length > 0 ? ` (${why.join('; ')})` : '';
  return `the probe goes through this cluster's gateway, which ${down}${detail}: fix it first (see "${DEPLOYMENTS_CHECK}")`;
}

/**
 * The remote gateway answered and turned ours away, saying why in its GOAWAY (the probe's
 * GATEWAY_REFUSED: "refused this cluster's gateway: …"), or at the TLS handshake, saying nothing
 * (OpenSSL refused our chain): no network problem. Not linked there is
 * the common case, after an unlink on that side: the remote admits the clusters it links to and
 * its --allow-cluster list.
 */
function refusedThere(
  message: string | undefined,
  name: string,
  local: string | undefined,
): string | undefined {
  if (!message?.includes(REFUSED_BY_PEER)) return undefined;
  if (message.includes(REFUSED_AT_HANDSHAKE))
    return `the ${name} gateway refuses this cluster's gateway certificate at the TLS handshake: it does not trust this cluster's trust anchor (in a trust-anchor rotation: step 1 not done there), or the certificate is expired or not yet valid (clocks) there; the ${name} gateway's log line "peer gateway refused" says which`;
  const self = local === undefined ? 'this cluster' : `this cluster (${local})`;
  return message.includes('is not linked')
    ? `the ${name} gateway turns this cluster's away: link ${name} to this cluster there (isthmus link, run against ${name}), or add ${self} to its --allow-cluster (isthmus upgrade --allow-cluster)`
    : `the ${name} gateway turns this cluster's away, for the reason it gave`;
}

/** The remote gateway addresses (host:port) the controller probes, as the hints name them. */
export function probedGateways(link: Link): string {
  return followedGatewayHosts(link)
    .map((a) => hostPort(a, link.spec.gatewayPort ?? 4143))
    .join(', ');
}

/** A revoked leaf: the peer gateway replaces it by itself; a revoked issuer: that cluster renews it. */
function revokedPeerFix(cluster: string, revoked: ChainRevocation): string {
  return revoked.issuer
    ? `${cluster} needs a gateway certificate${peerFix(cluster, revoked)}`
    : `the ${cluster} gateway takes a new one from its identity service by itself once it loads the same CRL`;
}

/** What the session pool's GATEWAY_REFUSED says (src/gateway/session-pool.ts). */
const REFUSED_BY_PEER = "refused this cluster's gateway";
/** What the pool's refusedAtHandshake adds (src/gateway/session-support.ts): OpenSSL's silent refusal. */
const REFUSED_AT_HANDSHAKE = 'certificate at the TLS handshake';

/** The probe's message names the gateway too (`gateway a:4143 unreachable: …`): once is enough. */
export const withoutAddress = (message: string | undefined) => message?.replace(/^gateway \S+ /, '');
