/**
 * Federated services (src/federation): each should be served by at least one member cluster. A
 * member without a ready endpoint is a warning, a federated Service that nobody serves is a
 * failure. A member an affinity holds on standby is ready, so no warning; the controller says which
 * are (servingLabel), as the slices alone look the same for both. The warning names what can be
 * wrong for that member: its pods or its port names, and, only for a remote member reached through
 * a gateway, that gateway (`isthmus gateways`). The local member's endpoints are this cluster's
 * own pods, and a member linked without a gateway (a flat network) lists its pods' own addresses.
 * When the facts already say which it is, only that is said: the controller found its ports all
 * named otherwise, the member's Link says its gateway is not alive, or the member's mirror
 * (`<name>-<member>`) lists no endpoint, as it does when the remote Service has no ready one.
 * A federation whose `<name>-federated` cannot exist at all (NameTooLong, NotOwned: the
 * controller's plan, federated-view.ts) is a warning naming why, as its members still serve alone.
 */
import { federatedServiceName } from '../../../kube/keys.js';
import { mirrorName } from '../../../mirror/mirror-objects.js';
import { type FederatedRow, NO_READY_ENDPOINT, servingLabel } from '../federated-view.js';
import { type CheckFacts, type CheckResult, condition } from '../types.js';
import { GATEWAYS_ALIVE_CHECK, probedGateways, withoutAddress } from './gateways-alive.js';
import { noLocalGatewayReady } from './mirrors.js';
import { resultOf, unreadable } from './result.js';
import { staleLinkStatus } from './stale-status.js';

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

function idleMember(facts: CheckFacts, row: FederatedRow, member: string): string {
  const name = `${row.namespace}/${row.service}`;
  const service = row.service.endsWith(FEDERATED_SUFFIX)
    ? row.service.slice(0, -FEDERATED_SUFFIX.length)
    : row.service;
  const event = `(an event on ${name} says so)`;
  const ports = `its ports are named otherwise than ${name}'s ${event}`;
  const kind = memberKind(facts, member);
  if (kind !== 'local' && kind !== 'without a gateway' && noLocalGatewayReady(facts))
    // Not the member's fault: this cluster's own gateway carries nothing (the mirror check says so too).
    return `${name}: member ${member} has no ready endpoint here: no isthmus-gateway pod of this cluster is ready to carry its traffic`;
  const idle = `${name}: member ${member}${kind === 'local' ? ' (this cluster)' : ''} has no ready endpoint`;
  if (row.noMatchingPort?.includes(member))
    return `${idle}: none of its ports is named as a port of ${name} ${event}`;
  if (kind === 'local')
    return `${idle}: the pods of its Service ${row.namespace}/${service} are not ready, or ${ports}`;
  const known = knownCause(facts, row.namespace, service, member, kind);
  if (known) return `${idle}: ${known}`;
  if (kind === 'without a gateway') return `${idle}: its pods are not ready, or ${ports}`;
  return `${idle}: its pods are not ready, ${ports}, or its gateway does not answer (isthmus gateways)`;
}

/**
 * Why a remote member serves nothing, when the facts say: its Link's probe finds its gateway not
 * alive (checks/gateways-alive.ts), or its mirror lists no endpoint, which the controller writes
 * when the remote Service has no ready one (checks/mirrors.ts). Undefined when nothing is known.
 */
function knownCause(
  facts: CheckFacts,
  namespace: string,
  service: string,
  member: string,
  kind: MemberKind,
): string | undefined {
  const linked = facts.links.ok
    ? facts.links.value.find((l) => l.link.spec?.targetClusterName === member)?.link
    : undefined;
  // With no controller leading, GatewayAlive is the last leader's word: no cause of anything now.
  const alive =
    linked && kind === 'through a gateway' && !staleLinkStatus(facts)
      ? condition(linked, 'GatewayAlive')
      : undefined;
  if (linked && alive?.status === 'False') {
    const why = withoutAddress(alive.message) || alive.reason;
    return `its gateway ${probedGateways(linked)} is not alive (${why}) (see "${GATEWAYS_ALIVE_CHECK}")`;
  }
  const mirror = mirrorOf(facts, namespace, mirrorName(service, member), member);
  if (mirror && mirror.endpoints === 0)
    return `its Service ${namespace}/${service} has no ready endpoint in ${member} (the mirror ${namespace}/${mirror.name} lists none)`;
  return undefined;
}

function mirrorOf(facts: CheckFacts, namespace: string, name: string, cluster: string) {
  if (!facts.mirrors.ok) return undefined;
  return facts.mirrors.value.find(
    (m) => m.namespace === namespace && m.name === name && m.cluster === cluster,
  );
}

export function checkFederated(facts: CheckFacts): CheckResult {
  const blocked = unreadable(SERVED, 'federated Services', facts.federated);
  if (blocked || !facts.federated.ok) return blocked!;
  const failures: string[] = [];
  const warnings: string[] = [];
  for (const row of facts.federated.value) {
    const name = `${row.namespace}/${row.service}`;
    if (row.blocked) {
      // The controller says so only in Warning events on the members (plan-federation.ts).
      warnings.push(
        `${name} cannot be created (${row.blocked.reason}), so members ${row.members.join(', ') || 'none'} serve nothing through it: ${row.blocked.message}`,
      );
      continue;
    }
    const idle = row.members.filter((m) => servingLabel(row, m) === NO_READY_ENDPOINT);
    if (row.members.every((m) => !(row.serving[m] ?? 0))) {
      failures.push(
        `${name}: no member cluster has a ready endpoint (members: ${row.members.join(', ') || 'none'})`,
      );
    } else {
      for (const m of idle) warnings.push(idleMember(facts, row, m));
    }
  }
  return resultOf(SERVED, failures, warnings);
}
