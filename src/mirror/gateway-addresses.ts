import type { V1EndpointSlice } from '../kube/types.js';

/**
 * Ready addresses of the local gateway pods, from its EndpointSlices, of one address family: a
 * mirror's slice holds one. The install's gateway Service is single-stack, so its slices are of the
 * cluster's primary family. Made dual-stack by hand, it has a slice per family, and the one kept is
 * `clusterFamily` — the family of the `kubernetes` Service, which is the family every Service
 * created without `ipFamilies` gets, mirrors included: kube-proxy serves an IPv6 mirror Service from
 * IPv6 slices only. Without it, IPv4, as most dual-stack clusters are IPv4-first. The egress
 * listeners answer on both families.
 */
export function readyGatewayAddresses(slices: readonly V1EndpointSlice[], clusterFamily?: string): string[] {
  // The family comes from the slices, not from which pods are ready: an EndpointSlice's addressType
  // is immutable, so a mirror's slice must not flip family while gateway pods restart.
  const families = new Set(slices.map((s) => s.addressType));
  const family =
    clusterFamily !== undefined && families.has(clusterFamily)
      ? clusterFamily
      : families.has('IPv4')
        ? 'IPv4'
        : 'IPv6';
  const out = new Set<string>();
  for (const slice of slices) {
    if (slice.addressType !== family) continue; // and FQDN slices name no pod
    for (const ep of slice.endpoints ?? []) {
      if (ep.conditions?.ready === false) continue;
      for (const a of ep.addresses ?? []) out.add(a);
    }
  }
  return [...out].sort();
}
