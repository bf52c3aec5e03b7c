/**
 * What one federated Service should be. Pure: the controller gathers the members from its caches,
 * asks here, and applies.
 *
 * A federation is named after its members: every Service `<name>` labelled
 * `mirror.linkerd.io/federated=member`, here and in the linked clusters. Remote members reach this
 * cluster as mirrors `<name>-<cluster>` labelled `isthmus.dev/federation=<name>` (src/mirror), whose
 * endpoints are the local gateway's egress listeners; the local member's are its pods.
 * `<name>-federated` gets the union of their ready endpoints (federation-slices.ts).
 */

import {
  CILIUM_AFFINITY_ANNOTATION,
  CLUSTER_NAME_LABEL,
  FEDERATED_LABEL,
  FEDERATED_MEMBER,
  FEDERATED_SERVICE_LABEL,
  FEDERATION_AFFINITY_ANNOTATION,
  FEDERATION_LABEL,
  FEDERATION_MEMBERS_ANNOTATION,
  FEDERATION_NO_MATCHING_PORT_ANNOTATION,
  FEDERATION_STANDBY_ANNOTATION,
  federatedServiceName,
  MANAGED_BY_FEDERATION,
  MANAGED_BY_LABEL,
  MIRRORED_SERVICE_LABEL,
} from '../kube/keys.js';
import type { V1EndpointSlice, V1Service, V1ServicePort } from '../kube/types.js';

export { FEDERATION_STANDBY_ANNOTATION };

/** A Service name is a DNS-1035 label: at most 63 characters. */
const MAX_SERVICE_NAME = 63;
const FEDERATED_SUFFIX = federatedServiceName('');

export interface Member {
  /** The cluster the member's endpoints live in. */
  cluster: string;
  /** The local member (this cluster's own `<name>`), not a mirror. */
  local: boolean;
  /** The local Service that carries them: the member itself, or its mirror. */
  service: string;
}

export interface FederationInput {
  namespace: string;
  /** The federation's name: the member Services' name. */
  name: string;
  localCluster: string;
  /** The local Service `<name>` when it is a member. */
  local?: V1Service;
  /** Mirrors of remote members (`isthmus.dev/federation=<name>`). */
  mirrors: readonly V1Service[];
  /** Whatever holds the name `<name>-federated` now. */
  existing?: V1Service;
}

/**
 * A member that cannot carry the federation's traffic, told so by a Warning event on its own
 * Service.
 * - `NoPorts`: a headless Service without ports; `<name>-federated` is a ClusterIP Service, which
 *   needs a port (the API server answers 422), so it takes the other members' ports.
 * - `UnsupportedServiceType`: the local Service is of type ExternalName, a DNS alias without
 *   endpoints (the mirror side refuses a remote one for the same reason). It is no member: it is
 *   not listed, and decides neither the ports nor the affinity.
 */
export interface MemberProblem {
  service: string;
  reason: 'NoPorts' | 'UnsupportedServiceType';
  message: string;
}

export type FederationPlan =
  /** No member left: the federated Service and its slices go (only if ours). */
  | { kind: 'absent'; invalidMembers: MemberProblem[] }
  /** `NoPorts`: no member has a port, so no `<name>-federated` can exist (invalidMembers says which). */
  | {
      kind: 'conflict';
      reason: 'NotOwned' | 'NameTooLong' | 'NoPorts';
      message: string;
      invalidMembers: MemberProblem[];
    }
  | {
      kind: 'service';
      service: V1Service;
      members: Member[];
      affinity: Affinity;
      problems: string[];
      invalidMembers: MemberProblem[];
    };

/** Which members take traffic while they have ready endpoints (FEDERATION_AFFINITY_ANNOTATION). */
export type Affinity = 'none' | 'local' | 'remote';
const AFFINITIES: readonly string[] = ['none', 'local', 'remote'];

/** The federation a Service is a member of: its own name for the local member, the label on a mirror. */
export function memberFederation(service: V1Service | undefined): string | undefined {
  const labels = service?.metadata?.labels ?? {};
  if (isLocalMember(service)) return service?.metadata?.name;
  if (labels[MIRRORED_SERVICE_LABEL] === 'true') return labels[FEDERATION_LABEL] || undefined;
  return undefined;
}

/** Which federations a Service's events concern: the one it is a member of, or the one it serves. */
export function federationsOf(service: V1Service | undefined): string[] {
  const name = service?.metadata?.name ?? '';
  const member = memberFederation(service);
  const out = member ? [member] : [];
  if (isOurFederatedService(service) && name.endsWith(FEDERATED_SUFFIX)) {
    out.push(name.slice(0, -FEDERATED_SUFFIX.length));
  }
  return out;
}

/**
 * The federation whose `<name>-federated` a Service that is not ours holds (Linkerd 2.17's, a
 * stranger's: `NotOwned`). `federationsOf` leaves such a Service out, so its deletion, which frees
 * the name, would otherwise queue nothing until a member changed.
 */
export function federationNameHeldBy(service: V1Service | undefined): string | undefined {
  const name = service?.metadata?.name ?? '';
  if (isOurFederatedService(service) || !name.endsWith(FEDERATED_SUFFIX)) return undefined;
  return name.slice(0, -FEDERATED_SUFFIX.length) || undefined;
}

/** A local member: labelled so by its owner, and not a mirror (mirrors never carry Linkerd's label). */
export function isLocalMember(service: V1Service | undefined): boolean {
  const labels = service?.metadata?.labels ?? {};
  return labels[FEDERATED_LABEL] === FEDERATED_MEMBER && labels[MIRRORED_SERVICE_LABEL] !== 'true';
}

export function isOurFederatedService(service: V1Service | undefined): boolean {
  return service?.metadata?.labels?.[FEDERATED_SERVICE_LABEL] === 'true';
}

/** Labels that mark an EndpointSlice as the federation's (see SliceOwner). */
export function federationSliceLabels(name: string): Record<string, string> {
  return { [MANAGED_BY_LABEL]: MANAGED_BY_FEDERATION, [FEDERATION_LABEL]: name };
}

export function isFederationSlice(slice: V1EndpointSlice, namespace: string, name: string): boolean {
  const labels = slice.metadata?.labels ?? {};
  return (
    slice.metadata?.namespace === namespace &&
    labels[MANAGED_BY_LABEL] === MANAGED_BY_FEDERATION &&
    labels[FEDERATION_LABEL] === name
  );
}

export function planFederation(input: FederationInput): FederationPlan {
  const serviceName = federatedServiceName(input.name);
  // A local Service that cannot be a member (ExternalName) is told so, and planned without.
  const unsupported = unsupportedLocal(input, serviceName);
  const local = unsupported ? undefined : input.local;
  const members = membersOf(input, local);
  if (members.length === 0) return { kind: 'absent', invalidMembers: unsupported ? [unsupported] : [] };
  if (serviceName.length > MAX_SERVICE_NAME) {
    return {
      kind: 'conflict',
      reason: 'NameTooLong',
      message: `${serviceName} would be longer than ${MAX_SERVICE_NAME} characters; rename the member Services`,
      invalidMembers: [],
    };
  }
  if (input.existing && !isOurFederatedService(input.existing)) {
    return {
      kind: 'conflict',
      reason: 'NotOwned',
      message: `Service ${input.namespace}/${serviceName} exists and is not Isthmus's; it is left alone`,
      invalidMembers: [],
    };
  }
  const byService = new Map([local, ...input.mirrors].map((s) => [s?.metadata?.name ?? '', s]));
  const portsOfMember = (m: Member) => portsOf(byService.get(m.service));
  const noPorts = members
    .filter((m) => portsOfMember(m).length === 0)
    .map((m) => noPortsProblem(m, serviceName));
  const invalidMembers = [...(unsupported ? [unsupported] : []), ...noPorts];
  const reference = referencePorts(members, portsOfMember, input.existing);
  if (!reference) {
    const message = `no member of ${input.name} has a port (headless Services without ports), and ${serviceName}, a ClusterIP Service, needs one: it is not written until a member has one`;
    const told = invalidMembers.map((p) => (p.reason === 'NoPorts' ? { ...p, message } : p));
    return { kind: 'conflict', reason: 'NoPorts', message, invalidMembers: told };
  }
  const problems = [
    ...invalidMembers.map((p) => p.message),
    ...members
      .map((m) => ({ m, ports: portsOfMember(m) }))
      .filter(({ ports }) => ports.length > 0 && portsKey(ports) !== portsKey(reference))
      .map(
        ({ m, ports }) =>
          `member ${m.service} (cluster ${m.cluster}) has ports ${describePorts(ports)}, not ${describePorts(reference)}: only ports of the same name carry its traffic`,
      ),
  ];
  const { affinity, problem } = affinityOf(local);
  if (problem) problems.push(problem);
  const annotations: Record<string, string> = {
    [FEDERATION_MEMBERS_ANNOTATION]: members.map((m) => m.cluster).join(','),
  };
  if (affinity !== 'none') annotations[FEDERATION_AFFINITY_ANNOTATION] = affinity;
  // Members that serve none of it whatever their readiness, which the slices alone cannot tell.
  const unmatched = members.filter((m) => {
    const ports = portsOfMember(m);
    return ports.length > 0 && !ports.some((p) => reference.some((r) => samePort(p, r)));
  });
  if (unmatched.length) {
    annotations[FEDERATION_NO_MATCHING_PORT_ANNOTATION] = unmatched.map((m) => m.cluster).join(',');
  }
  return {
    kind: 'service',
    members,
    affinity,
    problems,
    invalidMembers,
    service: {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: serviceName,
        namespace: input.namespace,
        labels: { [FEDERATED_SERVICE_LABEL]: 'true' },
        annotations,
      },
      // No selector: the endpoints are Isthmus's slices, as for a mirror.
      spec: { type: 'ClusterIP', ports: reference },
    },
  };
}

/**
 * The ports `<name>-federated` takes: the local member's; without it, the ones it has now while
 * each of them is a port of some member by name (only names carry traffic, so a remote member's
 * `http` on 81 serves `http` on 80: callers keep their port when the local member leaves or a
 * cluster joins); else the first cluster's by name. Members without ports define nothing;
 * undefined: no member has any.
 */
function referencePorts(
  members: readonly Member[],
  portsOfMember: (m: Member) => V1ServicePort[],
  existing: V1Service | undefined,
): V1ServicePort[] | undefined {
  const withPorts = members.filter((m) => portsOfMember(m).length > 0);
  const local = withPorts.find((m) => m.local);
  if (local) return portsOfMember(local);
  const current = portsOf(existing);
  const served = (p: V1ServicePort) => withPorts.some((m) => portsOfMember(m).some((q) => samePort(p, q)));
  if (current.length > 0 && current.every(served)) return current;
  return withPorts[0] && portsOfMember(withPorts[0]);
}

/** The members, local first: `local` is the local Service when it is one (not an ExternalName). */
function membersOf(input: FederationInput, local: V1Service | undefined): Member[] {
  const remote = input.mirrors
    .map((s) => ({
      cluster: s.metadata?.labels?.[CLUSTER_NAME_LABEL] ?? '',
      local: false,
      service: s.metadata?.name ?? '',
    }))
    .sort((a, b) => (a.cluster < b.cluster ? -1 : a.cluster > b.cluster ? 1 : 0));
  const here = local ? [{ cluster: input.localCluster, local: true, service: input.name }] : [];
  return [...here, ...remote];
}

/**
 * The affinity the local member asks for: Isthmus's annotation, else Cilium's (the same values),
 * in any case; an unknown value is none, with the problem naming the annotation it came from.
 */
function affinityOf(local: V1Service | undefined): { affinity: Affinity; problem?: string } {
  const annotations = local?.metadata?.annotations ?? {};
  const key = [FEDERATION_AFFINITY_ANNOTATION, CILIUM_AFFINITY_ANNOTATION].find(
    (k) => annotations[k] !== undefined,
  );
  if (key === undefined) return { affinity: 'none' };
  const asked = annotations[key]!;
  const value = asked.toLowerCase();
  if (AFFINITIES.includes(value)) return { affinity: value as Affinity };
  return {
    affinity: 'none',
    problem: `${key} "${asked}" is not one of ${AFFINITIES.join(', ')}: using none`,
  };
}

/** The local Service `<name>` when it is labelled a member and cannot be one (ExternalName). */
function unsupportedLocal(input: FederationInput, serviceName: string): MemberProblem | undefined {
  if (input.local?.spec?.type !== 'ExternalName') return undefined;
  return {
    service: input.name,
    reason: 'UnsupportedServiceType',
    message: `member ${input.name} (cluster ${input.localCluster}) is an ExternalName Service, a DNS alias without endpoints: it is no member of ${serviceName}`,
  };
}

function noPortsProblem(m: Member, serviceName: string): MemberProblem {
  return {
    service: m.service,
    reason: 'NoPorts',
    message: `member ${m.service} (cluster ${m.cluster}) has no ports (a headless Service without ports): it carries none of ${serviceName}'s traffic`,
  };
}

/** The fields of a port the federated Service copies (targetPort is the slices' business). */
function portsOf(service: V1Service | undefined): V1ServicePort[] {
  return (service?.spec?.ports ?? []).map((p) => {
    const port: V1ServicePort = { port: p.port, protocol: p.protocol ?? 'TCP' };
    if (p.name) port.name = p.name;
    if (p.appProtocol) port.appProtocol = p.appProtocol;
    return port;
  });
}

/** The apex planner's match (matchByNameOnly): the same name and protocol. */
function samePort(a: V1ServicePort, b: V1ServicePort): boolean {
  return (a.name ?? '') === (b.name ?? '') && a.protocol === b.protocol;
}

function portsKey(ports: readonly V1ServicePort[]): string {
  return ports
    .map((p) => `${p.name ?? ''}/${p.port}/${p.protocol}`)
    .sort()
    .join(',');
}

function describePorts(ports: readonly V1ServicePort[]): string {
  return ports.map((p) => (p.name ? `${p.name}=${p.port}` : String(p.port))).join(', ') || '(none)';
}
