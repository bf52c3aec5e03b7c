/**
 * What one federated Service should be. Pure: the controller gathers the members from its caches,
 * asks here, and applies.
 *
 * A federation is named after its members: every Service `<name>` labelled
 * `mirror.linkerd.io/federated=member`, here and in the linked clusters. Remote members reach this
 * cluster as mirrors `<name>-<cluster>` labelled `isthmus.dev/federation=<name>` (src/mirror), whose
 * endpoints are the local gateway's egress listeners; the local member's are its pods.
 * `<name>-federated` gets the union of their ready endpoints (plan-apex-slices.ts writes them).
 */

import type { ParsedBackend } from '../failover/parse-split.js';
import {
  type ApexPlan,
  BACKEND_LABEL,
  listableEndpointCount,
  type PortMatching,
  planApexSlices,
} from '../failover/plan-apex-slices.js';
import {
  CLUSTER_NAME_LABEL,
  FEDERATED_LABEL,
  FEDERATED_MEMBER,
  FEDERATED_SERVICE_LABEL,
  FEDERATION_AFFINITY_ANNOTATION,
  FEDERATION_LABEL,
  FEDERATION_MEMBERS_ANNOTATION,
  federatedServiceName,
  MANAGED_BY_FEDERATION,
  MANAGED_BY_LABEL,
  MIRRORED_SERVICE_LABEL,
} from '../kube/keys.js';
import type { V1EndpointSlice, V1Service, V1ServicePort } from '../kube/types.js';

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

export type FederationPlan =
  /** No member left: the federated Service and its slices go (only if ours). */
  | { kind: 'absent' }
  | { kind: 'conflict'; reason: 'NotOwned' | 'NameTooLong'; message: string }
  | { kind: 'service'; service: V1Service; members: Member[]; affinity: Affinity; problems: string[] };

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
  const members = membersOf(input);
  const first = members[0];
  if (!first) return { kind: 'absent' };
  const serviceName = federatedServiceName(input.name);
  if (serviceName.length > MAX_SERVICE_NAME) {
    return {
      kind: 'conflict',
      reason: 'NameTooLong',
      message: `${serviceName} would be longer than ${MAX_SERVICE_NAME} characters; rename the member Services`,
    };
  }
  if (input.existing && !isOurFederatedService(input.existing)) {
    return {
      kind: 'conflict',
      reason: 'NotOwned',
      message: `Service ${input.namespace}/${serviceName} exists and is not Isthmus's; it is left alone`,
    };
  }
  // The first member's ports (the local one, else the first cluster by name) define the Service.
  const byService = new Map([input.local, ...input.mirrors].map((s) => [s?.metadata?.name ?? '', s]));
  const reference = portsOf(byService.get(first.service));
  const problems = members
    .filter((m) => portsKey(portsOf(byService.get(m.service))) !== portsKey(reference))
    .map(
      (m) =>
        `member ${m.service} (cluster ${m.cluster}) has ports ${describePorts(portsOf(byService.get(m.service)))}, not ${describePorts(reference)}: only ports of the same name carry its traffic`,
    );
  const asked = input.local?.metadata?.annotations?.[FEDERATION_AFFINITY_ANNOTATION];
  const affinity = (asked !== undefined && AFFINITIES.includes(asked) ? asked : 'none') as Affinity;
  if (asked !== undefined && affinity !== asked) {
    problems.push(
      `${FEDERATION_AFFINITY_ANNOTATION} "${asked}" is not one of ${AFFINITIES.join(', ')}: using none`,
    );
  }
  const annotations: Record<string, string> = {
    [FEDERATION_MEMBERS_ANNOTATION]: members.map((m) => m.cluster).join(','),
  };
  if (affinity !== 'none') annotations[FEDERATION_AFFINITY_ANNOTATION] = affinity;
  return {
    kind: 'service',
    members,
    affinity,
    problems,
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

/** Only ports of the same name carry a federation's traffic (a member's `admin` port never serves `http`). */
const FEDERATION_PORTS: PortMatching = { matchByNameOnly: true };

/**
 * Weights that make the apex planner list every ready endpoint of every member that takes traffic:
 * each member weighs what the planner can list of it (listableEndpointCount: the same count, so a
 * dual-stack pod counts once on both sides), and kube-proxy then spreads connections evenly over
 * local pods and the gateway endpoints of each remote member. With an affinity, the preferred
 * side alone while it has an endpoint to list.
 */
export function federationWeights(
  apex: V1Service,
  members: readonly Member[],
  slicesByService: ReadonlyMap<string, readonly V1EndpointSlice[]>,
  affinity: Affinity = 'none',
): ParsedBackend[] {
  const listable = members.map((m) =>
    listableEndpointCount(apex, slicesByService.get(m.service) ?? [], FEDERATION_PORTS),
  );
  const preferred = (m: Member) => affinity === 'none' || m.local === (affinity === 'local');
  const preferredServes = members.some((m, i) => preferred(m) && listable[i]! > 0);
  return members.map((m, i) => ({
    service: m.service,
    weight: preferredServes && !preferred(m) ? 0 : listable[i]!,
  }));
}

export interface FederationSlicesInput {
  namespace: string;
  /** The federation's name. */
  name: string;
  /** `<name>-federated` as stored: its uid owns the slices, its ipFamilies say what to list. */
  apex: V1Service;
  members: readonly Member[];
  affinity: Affinity;
  /** Slices by `kubernetes.io/service-name`, for the apex and every member. */
  slicesByService: ReadonlyMap<string, readonly V1EndpointSlice[]>;
}

/** The federated Service's EndpointSlices: every member's listable endpoints, labelled with its cluster. */
export function planFederationSlices(input: FederationSlicesInput): ApexPlan {
  const { namespace, apex, members, slicesByService } = input;
  const owner = {
    apiVersion: 'v1',
    kind: 'Service',
    name: apex.metadata?.name ?? '',
    uid: apex.metadata?.uid ?? '',
    labels: federationSliceLabels(input.name),
  };
  const weights = federationWeights(apex, members, slicesByService, input.affinity);
  const plan = planApexSlices({ namespace, apex, owner, weights, slicesByService, ...FEDERATION_PORTS });
  return plan.ok ? { ...plan, slices: plan.slices.map((s) => withMemberCluster(s, members)) } : plan;
}

/** Which member cluster a slice's endpoints serve, for `isthmus federated` and `kubectl get -l`. */
function withMemberCluster(slice: V1EndpointSlice, members: readonly Member[]): V1EndpointSlice {
  const backend = slice.metadata?.labels?.[BACKEND_LABEL];
  const cluster = members.find((m) => m.service === backend)?.cluster ?? '';
  const labels = { ...slice.metadata?.labels, [CLUSTER_NAME_LABEL]: cluster };
  return { ...slice, metadata: { ...slice.metadata, labels } };
}

function membersOf(input: FederationInput): Member[] {
  const remote = input.mirrors
    .map((s) => ({
      cluster: s.metadata?.labels?.[CLUSTER_NAME_LABEL] ?? '',
      local: false,
      service: s.metadata?.name ?? '',
    }))
    .sort((a, b) => (a.cluster < b.cluster ? -1 : a.cluster > b.cluster ? 1 : 0));
  const local = input.local ? [{ cluster: input.localCluster, local: true, service: input.name }] : [];
  return [...local, ...remote];
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

function portsKey(ports: readonly V1ServicePort[]): string {
  return ports
    .map((p) => `${p.name ?? ''}/${p.port}/${p.protocol}`)
    .sort()
    .join(',');
}

function describePorts(ports: readonly V1ServicePort[]): string {
  return ports.map((p) => (p.name ? `${p.name}=${p.port}` : String(p.port))).join(', ') || '(none)';
}
