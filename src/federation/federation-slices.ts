/**
 * The federated Service's EndpointSlices, and which members an affinity holds on standby. Pure:
 * plan-federation.ts says who the members are, plan-apex-slices.ts writes the slices.
 */
import type { ParsedBackend } from '../failover/parse-split.js';
import {
  type ApexPlan,
  BACKEND_LABEL,
  listableEndpointCount,
  type PortMatching,
  planApexSlices,
} from '../failover/plan-apex-slices.js';
import { CLUSTER_NAME_LABEL } from '../kube/keys.js';
import type { V1EndpointSlice, V1Service } from '../kube/types.js';
import {
  type Affinity,
  FEDERATION_STANDBY_ANNOTATION,
  federationSliceLabels,
  type Member,
} from './plan-federation.js';

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
  return memberParts(apex, members, slicesByService, affinity).map((p) => ({
    service: p.member.service,
    weight: p.weight,
  }));
}

/**
 * The clusters an affinity holds on standby: they have endpoints to list, and are left out while
 * the preferred side has one (FEDERATION_STANDBY_ANNOTATION).
 */
export function standbyClusters(
  apex: V1Service,
  members: readonly Member[],
  slicesByService: ReadonlyMap<string, readonly V1EndpointSlice[]>,
  affinity: Affinity,
): string[] {
  return memberParts(apex, members, slicesByService, affinity)
    .filter((p) => p.listable > 0 && p.weight === 0)
    .map((p) => p.member.cluster);
}

/**
 * The members that could serve the federation now: ready endpoints on ports named as its ports
 * (a member whose pods are ready on a port of another name serves none of its traffic). Those an
 * affinity holds on standby count: they are ready, only not preferred.
 */
export function readyMembers(
  apex: V1Service,
  members: readonly Member[],
  slicesByService: ReadonlyMap<string, readonly V1EndpointSlice[]>,
): Member[] {
  return memberParts(apex, members, slicesByService, 'none')
    .filter((p) => p.listable > 0)
    .map((p) => p.member);
}

/** `service` annotated with the clusters on standby (none: no annotation). */
export function withStandby(service: V1Service, standby: readonly string[]): V1Service {
  if (standby.length === 0) return service;
  const annotations = {
    ...service.metadata?.annotations,
    [FEDERATION_STANDBY_ANNOTATION]: standby.join(','),
  };
  return { ...service, metadata: { ...service.metadata, annotations } };
}

/** What each member could list, and what it lists: nothing while an affinity prefers the other side. */
function memberParts(
  apex: V1Service,
  members: readonly Member[],
  slicesByService: ReadonlyMap<string, readonly V1EndpointSlice[]>,
  affinity: Affinity,
): { member: Member; listable: number; weight: number }[] {
  const listable = members.map((m) =>
    listableEndpointCount(apex, slicesByService.get(m.service) ?? [], FEDERATION_PORTS),
  );
  const preferred = (m: Member) => affinity === 'none' || m.local === (affinity === 'local');
  const preferredServes = members.some((m, i) => preferred(m) && listable[i]! > 0);
  return members.map((member, i) => ({
    member,
    listable: listable[i]!,
    weight: preferredServes && !preferred(member) ? 0 : listable[i]!,
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
