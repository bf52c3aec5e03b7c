import type { V1EndpointSlice } from '../kube/types.js';

/**
 * Ready addresses of the local gateway pods, from its EndpointSlices, of one address family: a
 * mirror's slice holds one. The install's gateway Service is single-stack, so its slices are of the
 * pods' primary family, which the egress listeners bind. Made dual-stack by hand, it has a slice per
 * family; IPv4 is kept then, as most dual-stack clusters are IPv4-first.
 */
export function readyGatewayAddresses(slices: readonly V1EndpointSlice[]): string[] {
  // The family comes from the slices, not from which pods are ready: an EndpointSlice's addressType
  // is immutable, so a mirror's slice must not flip family while gateway pods restart.
  const family = slices.some((s) => s.addressType === 'IPv4') ? 'IPv4' : 'IPv6';
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
