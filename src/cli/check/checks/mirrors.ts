/**
 * Mirror services (label mirror.linkerd.io/mirrored-service=true): each should have a ready endpoint
 * and come from a Link that still exists (Linkerd's "all mirror services have endpoints" and
 * "all mirror services are part of a Link"). A Service anyone labels as a mirror is no proof of one:
 * its remote gateway must also be one its cluster's Link names, as the gateway requires before it
 * opens an egress listener for it (src/gateway/watch-mirrors.ts, `admitRoutes`). A mirror whose
 * cluster has only an invalid Link (edited by hand, say) is the controller's all the same: the Link
 * is what to fix, and the gateways keep serving its last admitted routes meanwhile (`kept`).
 * What a move from Linkerd left is judged with the endpoints (linkerd-leftovers.ts): a mirror of a
 * linked cluster that Isthmus did not make and that has no ready endpoint, and slices of Isthmus's
 * mirrors that another writer made.
 */

import { linkedGateways, targetKey } from '../../../gateway/probe-targets.js';
import { parseHostPort } from '../../../host-port.js';
import type { Link } from '../../../kube/types.js';
import { parseLinkSpec } from '../../../mirror/link-config.js';
import {
  type CheckFacts,
  type CheckResult,
  condition,
  linkLabel,
  type MirrorFacts,
  rejectedByController,
} from '../types.js';
import { removedWithLink } from './deleting-links.js';
import { LISTENERS_CHECK } from './gateway-listeners.js';
import { foreignMirrorProblems, foreignSliceProblems } from './linkerd-leftovers.js';
import { resultOf, unreadable } from './result.js';

export const ENDPOINTS = 'every mirror service has endpoints';
const OWNED = 'every mirror service belongs to a Link';

/**
 * No gateway pod of this cluster is ready: a gateway mirror's slice lists the local gateway pods,
 * so every mirror through a gateway is empty then, whatever its remote cluster does.
 */
export function noLocalGatewayReady(facts: CheckFacts): boolean {
  const listeners = facts.gatewayListeners;
  return listeners.ok && !listeners.value.some((g) => g.ready);
}

/**
 * The egress ports of a gateway mirror that its slices do not list yet: the controller lists one only
 * once this cluster's gateway pods listen on it (src/mirror/gateway-listening.ts), so its endpoints
 * are not ready meanwhile, whatever the remote gateway does. None when the slices were not gathered.
 */
function notListedYet(m: MirrorFacts): number[] {
  // A slice that lists a port is ready once the gateways are (the controller's readiness): with
  // none ready, the remote gateway is to blame, whatever ports still wait.
  if (m.listedPorts === undefined || m.remoteDiscovery || m.listedPorts.length > 0) return [];
  return m.egressPorts.filter((p) => !m.listedPorts!.includes(p));
}

export function checkMirrorEndpoints(facts: CheckFacts): CheckResult {
  const blocked = unreadable(ENDPOINTS, 'mirror services', facts.mirrors);
  if (blocked || !facts.mirrors.ok) return blocked!;
  // Isthmus's faults fail; a remote Service without ready pods is its application's state (a
  // failover moves traffic off it, a scaled-down backend is one), which Isthmus mirrors faithfully:
  // a warning, so that check does not fail through every intended failover.
  const failures: string[] = [];
  const warnings: string[] = [];
  const noLocalGateway = noLocalGatewayReady(facts);
  for (const m of facts.mirrors.value) {
    // Its Link is being deleted: it goes with it ("every mirror service belongs to a Link" says so).
    if (m.readyEndpoints > 0 || removedWithLink(facts, m.cluster)) continue;
    const key = `${m.namespace}/${m.name}`;
    const cluster = m.cluster || '?';
    if (m.endpoints === 0 && !m.remoteDiscovery && noLocalGateway)
      failures.push(
        `${key}: no endpoints: no isthmus-gateway pod of this cluster is ready to carry its traffic`,
      );
    else if (m.endpoints === 0)
      warnings.push(`${key}: no endpoints: the service has no ready endpoint in cluster ${cluster}`);
    else if (m.remoteDiscovery)
      warnings.push(`${key}: ${m.endpoints} remote pod(s) of cluster ${cluster}, none ready`);
    else if (notListedYet(m).length > 0)
      failures.push(
        `${key}: ${m.endpoints} endpoint(s), none ready: waiting for this cluster's gateway pods to listen on egress port(s) ${notListedYet(m).join(', ')} (the controller lists a port only once they do; "${LISTENERS_CHECK}" and \`isthmus routes\` say why they do not)`,
      );
    else
      failures.push(
        `${key}: ${m.endpoints} endpoint(s), none ready: the gateway of cluster ${cluster} is not alive`,
      );
  }
  // What a move from Linkerd left: a name Isthmus cannot take, or slices it did not write.
  const [names, slices] = [foreignMirrorProblems(facts), foreignSliceProblems(facts)];
  failures.push(...names.failures, ...slices.failures);
  return resultOf(ENDPOINTS, failures, [...warnings, ...names.warnings, ...slices.warnings]);
}

export function checkMirrorsOwned(facts: CheckFacts): CheckResult {
  const blocked =
    unreadable(OWNED, 'mirror services', facts.mirrors) ?? unreadable(OWNED, 'Links', facts.links);
  if (blocked || !facts.mirrors.ok || !facts.links.ok) return blocked!;
  const links = facts.links.value.map((l) => l.link);
  const clusters = new Set(links.map((l) => l.spec?.targetClusterName));
  const gateways = linkedGateways(links);
  const failures: string[] = [];
  const warnings: string[] = [];
  for (const m of facts.mirrors.value) {
    const key = `${m.namespace}/${m.name}`;
    const remove = `\`kubectl -n ${m.namespace} delete svc ${m.name}\``;
    const removed = removedWithLink(facts, m.cluster);
    if (removed) {
      warnings.push(`${key}: ${removed}`);
      continue;
    }
    if (!clusters.has(m.cluster)) {
      failures.push(
        `${key}: cluster "${m.cluster}" has no Link; delete the mirror (${remove}) or link the cluster again`,
      );
      continue;
    }
    if (m.remoteGateway === undefined) continue; // remote discovery: no gateway, no egress port
    const remote = parseHostPort(m.remoteGateway);
    if (remote !== null && gateways.get(targetKey(remote))?.has(m.cluster)) continue;
    const invalid = onlyInvalidLink(links, m.cluster, facts.gatewayInstalled);
    if (invalid) {
      const served = keptBy(facts, key);
      const text = `${key}: the Link ${linkLabel(invalid.link)} to cluster "${m.cluster}" is invalid (${invalid.why}), so it names no gateway for the mirror's routes (to ${m.remoteGateway}): fix the Link (see "every Link is valid"); the mirror is the controller's, keep it`;
      if (served === 'all')
        warnings.push(`${text}; the gateways still serve its last admitted routes (/routes: kept)`);
      else if (served === 'unknown') failures.push(text);
      else if (served.length > 0)
        failures.push(
          `${text}; only ${served.join(', ')} still serve${served.length === 1 ? 's' : ''} its last admitted routes (/routes: kept), the other gateways refuse them`,
        );
      else failures.push(`${text}; until then the gateways refuse its routes`);
      continue;
    }
    failures.push(
      `${key}: its remote gateway ${m.remoteGateway} is not one the Link to cluster "${m.cluster}" names (spec.gatewayAddress and gatewayPort, or status.gatewayAddresses), so the gateway refuses its routes; if the controller did not write it, it is no mirror: delete it (${remove})`,
    );
  }
  return resultOf(OWNED, failures, warnings);
}

/**
 * The Link to `cluster` with why it is invalid, when every Link to that cluster is (to us or to the
 * controller, whose LinkInvalid message is quoted): it then names no gateway, and that is the
 * fault, not the mirror. Undefined while a valid Link to the cluster exists.
 */
export function onlyInvalidLink(
  links: readonly Link[],
  cluster: string,
  localGateway: boolean,
): { link: Link; why: string } | undefined {
  const toCluster = links.filter((l) => l.spec?.targetClusterName === cluster);
  let invalid: { link: Link; why: string } | undefined;
  for (const link of toCluster) {
    const parsed = parseLinkSpec(link, { localGateway });
    if (parsed.ok && !rejectedByController(link)) return undefined;
    const said = rejectedByController(link) ? condition(link, 'Ready')?.message : undefined;
    invalid ??= { link, why: said || (parsed.ok ? 'LinkInvalid' : parsed.reason) };
  }
  return invalid;
}

/**
 * The ready gateway pods that still serve a mirror's last admitted routes (their `/routes` lists it
 * refused but `kept`): 'all' when every ready pod that answered does, 'unknown' when none answered.
 */
function keptBy(facts: CheckFacts, mirror: string): string[] | 'all' | 'unknown' {
  const answered = facts.gatewayListeners.ok
    ? facts.gatewayListeners.value.filter((p) => p.ready && p.refused !== undefined)
    : [];
  if (answered.length === 0) return 'unknown';
  const keeping = answered.filter((p) => p.refused?.some((r) => r.mirror === mirror && r.kept === true));
  return keeping.length === answered.length ? 'all' : keeping.map((p) => p.pod);
}
