/**
 * Mirror services (label mirror.linkerd.io/mirrored-service=true): each should have a ready endpoint
 * and come from a Link that still exists (Linkerd's "all mirror services have endpoints" and
 * "all mirror services are part of a Link"). A Service anyone labels as a mirror is no proof of one:
 * its remote gateway must also be one its cluster's Link names, as the gateway requires before it
 * opens an egress listener for it (src/gateway/watch-mirrors.ts, `admitRoutes`).
 */

import { linkedGateways, targetKey } from '../../../gateway/probe-targets.js';
import { parseHostPort } from '../../../host-port.js';
import type { CheckFacts, CheckResult } from '../types.js';
import { resultOf, unreadable } from './result.js';

const ENDPOINTS = 'every mirror service has endpoints';
const OWNED = 'every mirror service belongs to a Link';

export function checkMirrorEndpoints(facts: CheckFacts): CheckResult {
  const blocked = unreadable(ENDPOINTS, 'mirror services', facts.mirrors);
  if (blocked || !facts.mirrors.ok) return blocked!;
  const failures: string[] = [];
  // A gateway mirror's slice lists the local gateway pods, so it is empty too when none is ready.
  const listeners = facts.gatewayListeners;
  const noLocalGateway = listeners.ok && !listeners.value.some((g) => g.ready);
  for (const m of facts.mirrors.value) {
    if (m.readyEndpoints > 0) continue;
    const cluster = m.cluster || '?';
    failures.push(
      m.endpoints === 0
        ? !m.remoteDiscovery && noLocalGateway
          ? `${m.namespace}/${m.name}: no endpoints: no isthmus-gateway pod of this cluster is ready to carry its traffic`
          : `${m.namespace}/${m.name}: no endpoints: the service has no ready endpoint in cluster ${cluster}`
        : m.remoteDiscovery
          ? `${m.namespace}/${m.name}: ${m.endpoints} remote pod(s) of cluster ${cluster}, none ready`
          : `${m.namespace}/${m.name}: ${m.endpoints} endpoint(s), none ready: the gateway of cluster ${cluster} is not alive`,
    );
  }
  return resultOf(ENDPOINTS, failures);
}

export function checkMirrorsOwned(facts: CheckFacts): CheckResult {
  const blocked =
    unreadable(OWNED, 'mirror services', facts.mirrors) ?? unreadable(OWNED, 'Links', facts.links);
  if (blocked || !facts.mirrors.ok || !facts.links.ok) return blocked!;
  const links = facts.links.value.map((l) => l.link);
  const clusters = new Set(links.map((l) => l.spec?.targetClusterName));
  const gateways = linkedGateways(links);
  const failures: string[] = [];
  for (const m of facts.mirrors.value) {
    const key = `${m.namespace}/${m.name}`;
    const remove = `\`kubectl -n ${m.namespace} delete svc ${m.name}\``;
    if (!clusters.has(m.cluster)) {
      failures.push(
        `${key}: cluster "${m.cluster}" has no Link; delete the mirror (${remove}) or link the cluster again`,
      );
      continue;
    }
    if (m.remoteGateway === undefined) continue; // remote discovery: no gateway, no egress port
    const remote = parseHostPort(m.remoteGateway);
    if (remote !== null && gateways.get(targetKey(remote))?.has(m.cluster)) continue;
    failures.push(
      `${key}: its remote gateway ${m.remoteGateway} is not one the Link to cluster "${m.cluster}" names (spec.gatewayAddress and gatewayPort, or status.gatewayAddresses), so the gateway refuses its routes; if the controller did not write it, it is no mirror: delete it (${remove})`,
    );
  }
  return resultOf(OWNED, failures);
}
