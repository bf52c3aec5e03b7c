/**
 * Remote discovery: the endpoints of a mirror that points at the remote pods themselves (flat pod
 * network, no gateway). Pure: from the remote Service's EndpointSlices, the address family and the
 * groups of endpoints (one per port set) that the mirror's EndpointSlices carry.
 */

import type { V1EndpointSlice } from '../kube/types.js';
import { nonSpecialIPErrors } from '../kube/validation/endpoint-slice.js';

type Endpoint = NonNullable<V1EndpointSlice['endpoints']>[number];
type SlicePort = NonNullable<V1EndpointSlice['ports']>[number];

/** Endpoints that share one set of ports, as all endpoints of one EndpointSlice do. */
export interface DirectGroup {
  ports: SlicePort[];
  /** Sorted by address; `ready` always explicit. */
  endpoints: Endpoint[];
}

export interface DirectEndpoints {
  addressType: 'IPv4' | 'IPv6';
  /**
   * Every port set of that family with a listable pod, sorted by port signature, each split into
   * slices by the mirror (mirror-objects.ts splitSlices). When no pod is listable, the one
   * preferred port set without endpoints; none without a remote slice.
   */
  groups: DirectGroup[];
}

export const NO_DIRECT_ENDPOINTS: DirectEndpoints = Object.freeze({
  addressType: 'IPv4',
  groups: [],
}) as DirectEndpoints;

interface Group {
  addressType: 'IPv4' | 'IPv6';
  signature: string;
  ports: SlicePort[];
  byAddress: Map<string, Endpoint>;
}

/**
 * All endpoints of one EndpointSlice share its ports, and a Service's slices can differ in them
 * (a named targetPort mid-rollout: old pods on 8080, new on 9090) or in address family
 * (dual-stack). The mirror Service is single-stack, so one family is taken: `clusterFamily` when
 * the remote has it (the family the mirror Service gets here: kube-proxy serves a Service from
 * slices of its own family only), else the one with the most ready endpoints. Within it, every
 * port set is kept, each in slices of its own, as kube's EndpointSlice controller writes them and
 * kube-proxy and CoreDNS read them. FQDN slices have no pod address to dial and are skipped.
 */
export function directEndpoints(slices: Iterable<V1EndpointSlice>, clusterFamily?: string): DirectEndpoints {
  const groups = groupByPorts(slices);
  const family = chooseFamily(groups, clusterFamily);
  if (!family) return NO_DIRECT_ENDPOINTS;
  // Sorted by ports, so the same remote state always gives the same slices in the same order.
  const ofFamily = groups
    .filter((g) => g.addressType === family)
    .sort((a, b) => a.signature.localeCompare(b.signature));
  const listed = ofFamily.filter((g) => g.byAddress.size > 0);
  // No listable pod: one slice without endpoints, with the first port set's ports, as before.
  const kept = listed.length > 0 ? listed : ofFamily.slice(0, 1);
  return {
    addressType: family,
    groups: kept.map((g) => ({ ports: g.ports.map(mirrorPort), endpoints: sortedEndpoints(g) })),
  };
}

/**
 * The remote slices merged by family and port set. A pod listed twice within one port set (moving
 * between slices of the EndpointSlice controller) counts once, the ready entry winning; a pod in
 * two port sets stays in both, since kube-proxy tells endpoints apart by address and port
 * (EndpointSliceCache.addEndpoints keys them by `ip:port` per service port), so those are two.
 */
function groupByPorts(slices: Iterable<V1EndpointSlice>): Group[] {
  const groups = new Map<string, Group>();
  for (const slice of slices) {
    const addressType = slice.addressType;
    if (addressType !== 'IPv4' && addressType !== 'IPv6') continue;
    const ports = slice.ports ?? [];
    const signature = portsSignature(ports);
    const key = `${addressType} ${signature}`;
    const group = groups.get(key) ?? {
      addressType,
      signature,
      ports,
      byAddress: new Map<string, Endpoint>(),
    };
    groups.set(key, group);
    for (const ep of slice.endpoints ?? []) {
      const address = ep.addresses?.[0];
      if (!address || !mayList(address)) continue;
      const seen = group.byAddress.get(address);
      if (!seen || (!isReady(seen) && isReady(ep))) group.byAddress.set(address, ep);
    }
  }
  return [...groups.values()];
}

/**
 * The remote's family of `clusterFamily` when it has one; otherwise the family with more ready
 * pods, then more pods, then IPv4 (the API's primary family default).
 */
function chooseFamily(groups: readonly Group[], clusterFamily?: string): 'IPv4' | 'IPv6' | undefined {
  const families = [...new Set(groups.map((g) => g.addressType))];
  const local = families.find((f) => f === clusterFamily);
  if (local) return local;
  const ranked = families.map((family) => ({ family, ...tally(groups, family) }));
  ranked.sort(
    (a, b) =>
      b.ready - a.ready || b.size - a.size || Number(b.family === 'IPv4') - Number(a.family === 'IPv4'),
  );
  return ranked[0]?.family;
}

/** Pods of one family, and how many are ready; a pod in two port sets counts once. */
function tally(groups: readonly Group[], family: string): { ready: number; size: number } {
  const ready = new Map<string, boolean>();
  for (const g of groups) {
    if (g.addressType !== family) continue;
    for (const [address, ep] of g.byAddress) ready.set(address, ready.get(address) === true || isReady(ep));
  }
  return { ready: [...ready.values()].filter(Boolean).length, size: ready.size };
}

/**
 * Addresses the API server never accepts in an EndpointSlice (not an IP, unspecified, link-local,
 * link-local multicast: its ValidateNonSpecialIP) are dropped, so one bad entry from a remote
 * cluster cannot block the whole mirror; a real remote API server would not have stored them.
 * Loopback is left to the local API server, which refuses it unless it is the lab's sandbox.
 */
function mayList(address: string): boolean {
  return nonSpecialIPErrors(address, { allowLoopbackEndpoints: true }).length === 0;
}

/** An absent `ready` means ready (discovery.k8s.io/v1 EndpointConditions). */
function isReady(ep: Endpoint): boolean {
  return ep.conditions?.ready !== false;
}

function sortedEndpoints(group: Group): Endpoint[] {
  return [...group.byAddress.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([address, ep]) => mirrorEndpoint(address, ep));
}

function mirrorPort({ name, port, protocol, appProtocol }: SlicePort): SlicePort {
  return {
    name: name ?? '',
    ...(port === undefined ? {} : { port }),
    protocol: protocol ?? 'TCP',
    ...(appProtocol === undefined ? {} : { appProtocol }),
  };
}

function portsSignature(ports: SlicePort[]): string {
  return ports
    .map((p) => `${p.name ?? ''}/${p.port ?? ''}/${p.protocol ?? 'TCP'}`)
    .sort()
    .join(',');
}

/**
 * The remote pod's address, conditions and hostname; never its targetRef, nodeName or zone, which
 * name the remote cluster's objects and topology and would mislead local consumers.
 */
function mirrorEndpoint(address: string, ep: Endpoint): Endpoint {
  const { serving, terminating } = ep.conditions ?? {};
  return {
    addresses: [address],
    conditions: {
      ready: isReady(ep),
      ...(serving === undefined ? {} : { serving }),
      ...(terminating === undefined ? {} : { terminating }),
    },
    ...(ep.hostname ? { hostname: ep.hostname } : {}),
  };
}
