/**
 * Mirror services (label mirror.linkerd.io/mirrored-service=true): each should have a ready endpoint
 * and come from a Link that still exists (Linkerd's "all mirror services have endpoints" and
 * "all mirror services are part of a Link").
 */
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
  const clusters = new Set(facts.links.value.map((l) => l.link.spec?.targetClusterName));
  const failures = facts.mirrors.value
    .filter((m) => !clusters.has(m.cluster))
    .map(
      (m) =>
        `${m.namespace}/${m.name}: cluster "${m.cluster}" has no Link; delete the mirror (\`kubectl -n ${m.namespace} delete svc ${m.name}\`) or link the cluster again`,
    );
  return resultOf(OWNED, failures);
}
