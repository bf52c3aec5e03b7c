/**
 * Federated services (src/federation): each should be served by at least one member cluster. A
 * member without a ready endpoint is a warning, a federated Service that nobody serves is a
 * failure. A member an affinity holds on standby is ready, so no warning; the controller says which
 * are (servingLabel), as the slices alone look the same for both. The warning names what can be
 * wrong for that member: its pods or its port names, and, only for a remote member reached through
 * a gateway, that gateway (`isthmus gateways`). The local member's endpoints are this cluster's
 * own pods, and a member linked without a gateway (a flat network) lists its pods' own addresses.
 */
import { federatedServiceName } from '../../../kube/keys.js';
import { NO_READY_ENDPOINT, servingLabel } from '../federated-view.js';
import type { CheckFacts, CheckResult } from '../types.js';
import { noLocalGatewayReady } from './mirrors.js';
import { resultOf, unreadable } from './result.js';

const SERVED = 'every federated service is served';
const FEDERATED_SUFFIX = federatedServiceName('');

type MemberKind = 'local' | 'through a gateway' | 'without a gateway';

/**
 * Where a member's endpoints come from: this cluster (the name the install gave it, or, on an
 * install that recorded none, the one member no Link names), or a Link with or without a gateway.
 */
function memberKind(facts: CheckFacts, member: string): MemberKind {
  if (member === facts.localCluster) return 'local';
  const links = facts.links.ok ? facts.links.value.map((l) => l.link) : [];
  const linked = links.find((l) => l.spec?.targetClusterName === member);
  if (!linked && facts.localCluster === undefined && facts.links.ok) return 'local';
  return linked && linked.spec.gatewayAddress === undefined ? 'without a gateway' : 'through a gateway';
}

function idleMember(facts: CheckFacts, name: string, member: string): string {
  const ports = `its ports are named otherwise than ${name}'s (an event on ${name} says so)`;
  switch (memberKind(facts, member)) {
    case 'local': {
      const service = name.endsWith(FEDERATED_SUFFIX) ? name.slice(0, -FEDERATED_SUFFIX.length) : name;
      return `${name}: member ${member} (this cluster) has no ready endpoint: the pods of its Service ${service} are not ready, or ${ports}`;
    }
    case 'without a gateway':
      return `${name}: member ${member} has no ready endpoint: its pods are not ready, or ${ports}`;
    default:
      // Not the member's fault: this cluster's own gateway carries nothing (the mirror check says so too).
      if (noLocalGatewayReady(facts))
        return `${name}: member ${member} has no ready endpoint here: no isthmus-gateway pod of this cluster is ready to carry its traffic`;
      return `${name}: member ${member} has no ready endpoint: its pods are not ready, ${ports}, or its gateway does not answer (isthmus gateways)`;
  }
}

export function checkFederated(facts: CheckFacts): CheckResult {
  const blocked = unreadable(SERVED, 'federated Services', facts.federated);
  if (blocked || !facts.federated.ok) return blocked!;
  const failures: string[] = [];
  const warnings: string[] = [];
  for (const row of facts.federated.value) {
    const name = `${row.namespace}/${row.service}`;
    const idle = row.members.filter((m) => servingLabel(row, m) === NO_READY_ENDPOINT);
    if (row.members.every((m) => !(row.serving[m] ?? 0))) {
      failures.push(
        `${name}: no member cluster has a ready endpoint (members: ${row.members.join(', ') || 'none'})`,
      );
    } else {
      for (const m of idle) warnings.push(idleMember(facts, name, m));
    }
  }
  return resultOf(SERVED, failures, warnings);
}
