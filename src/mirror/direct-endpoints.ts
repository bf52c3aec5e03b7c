/**
 * Remote discovery: the endpoints of a mirror that points at the remote pods themselves (flat pod
 * network, no gateway). Pure: from the remote Service's EndpointSlices, the one set of endpoints
 * and ports the mirror's single EndpointSlice carries.
 */

import { MAX_SLICE_ENDPOINTS } from '../kube/keys.js';
import type { V1EndpointSlice } from '../kube/types.js';
import { nonSpecialIPErrors } from '../sandbox/validation-endpoints.js';

type Endpoint = NonNullable<V1EndpointSlice['endpoints']>[number];
type SlicePort = NonNullable<V1EndpointSlice['ports']>[number];

export { MAX_SLICE_ENDPOINTS };

export interface DirectEndpoints {
  addressType: 'IPv4' | 'IPv6';
  ports: SlicePort[];
  /** Sorted by address, ready ones first when the list had to be cut; `ready` always explicit. */
  endpoints: Endpoint[];
}

export const NO_DIRECT_ENDPOINTS: DirectEndpoints = Object.freeze({
  addressType: 'IPv4',
  ports: [],
  endpoints: [],
}) as DirectEndpoints;

interface Group {
  addressType: 'IPv4' | 'IPv6';
  ports: SlicePort[];
  byAddress: Map<string, Endpoint>;
}

/**
 * All endpoints of one EndpointSlice share its ports, and a Service's slices can differ in them
 * (a named targetPort mid-rollout) or in address family (dual-stack). The mirror has one slice,
 * so it takes a group of `clusterFamily` when there is one (the family the mirror Service gets
 * here: kube-proxy serves a Service from slices of its own family only), and of those the one
 * with the most ready endpoints. FQDN slices have no pod address to dial and are skipped.
 */
export function directEndpoints(slices: Iterable<V1EndpointSlice>, clusterFamily?: string): DirectEndpoints {
  const groups = new Map<string, Group>();
  for (const slice of slices) {
    const addressType = slice.addressType;
    if (addressType !== 'IPv4' && addressType !== 'IPv6') continue;
    const ports = slice.ports ?? [];
    const key = `${addressType} ${portsSignature(ports)}`;
    const group = groups.get(key) ?? { addressType, ports, byAddress: new Map<string, Endpoint>() };
    groups.set(key, group);
    for (const ep of slice.endpoints ?? []) {
      const address = ep.addresses?.[0];
      if (!address || !mayList(address)) continue;
      const seen = group.byAddress.get(address);
      // A pod listed by two slices while it moves between them: the ready entry wins.
      if (!seen || (!isReady(seen) && isReady(ep))) group.byAddress.set(address, ep);
    }
  }
  const best = [...groups.entries()].sort(
    ([ka, a], [kb, b]) =>
      Number(b.addressType === clusterFamily) - Number(a.addressType === clusterFamily) ||
      compareGroups(a, b) ||
      ka.localeCompare(kb),
  )[0];
  if (!best) return NO_DIRECT_ENDPOINTS;
  const group = best[1];
  const all = [...group.byAddress.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([address, ep]) => mirrorEndpoint(address, ep));
  const kept =
    all.length <= MAX_SLICE_ENDPOINTS
      ? all
      : [...all.filter(isReady), ...all.filter((e) => !isReady(e))].slice(0, MAX_SLICE_ENDPOINTS);
  return {
    addressType: group.addressType,
    ports: group.ports.map(({ name, port, protocol, appProtocol }) => ({
      name: name ?? '',
      ...(port === undefined ? {} : { port }),
      protocol: protocol ?? 'TCP',
      ...(appProtocol === undefined ? {} : { appProtocol }),
    })),
    endpoints: kept,
  };
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

function readyCount(group: Group): number {
  let n = 0;
  for (const ep of group.byAddress.values()) if (isReady(ep)) n++;
  return n;
}

/** More ready endpoints first, then more endpoints, then IPv4 (the API's primary family default). */
function compareGroups(a: Group, b: Group): number {
  return (
    readyCount(b) - readyCount(a) ||
    b.byAddress.size - a.byAddress.size ||
    (a.addressType === b.addressType ? 0 : a.addressType === 'IPv4' ? -1 : 1)
  );
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
