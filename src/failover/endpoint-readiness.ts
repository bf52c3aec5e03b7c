/**
 * Ready endpoints of a Service, read from its EndpointSlices. The failover controller's apex slices
 * are left out: they point at the backups, so counting them as the apex's (= the primary's)
 * endpoints would make a dead primary look alive and flip traffic back and forth. A federated
 * Service's slices are counted: they are its only endpoints (it can be a split's backend).
 */
import { MANAGED_BY_FAILOVER, MANAGED_BY_FEDERATION, MANAGED_BY_LABEL } from '../kube/keys.js';
import type { V1EndpointSlice } from '../kube/types.js';

export function isFailoverSlice(slice: V1EndpointSlice): boolean {
  return slice.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_FAILOVER;
}

/**
 * Slices Isthmus writes for a Service from other Services' endpoints: a split's apex, a federation.
 * None of them is the Service's own (selector) endpoints when it is planned as an apex.
 */
export function isApexSlice(slice: V1EndpointSlice): boolean {
  const manager = slice.metadata?.labels?.[MANAGED_BY_LABEL];
  return manager === MANAGED_BY_FAILOVER || manager === MANAGED_BY_FEDERATION;
}

/**
 * `ready` absent means ready (discovery.k8s.io/v1 EndpointConditions: "nil should be interpreted
 * as true"); a terminating endpoint is never ready for new connections.
 */
export function isReadyEndpoint(endpoint: V1EndpointSlice['endpoints'][number]): boolean {
  return endpoint.conditions?.ready !== false && endpoint.conditions?.terminating !== true;
}

/** Distinct ready addresses of a Service (its own slices, not Isthmus's apex slices). */
export function readyEndpointCount(slices: readonly V1EndpointSlice[]): number {
  const seen = new Set<string>();
  for (const slice of slices) {
    if (isFailoverSlice(slice)) continue;
    for (const ep of slice.endpoints ?? []) {
      if (!isReadyEndpoint(ep)) continue;
      // The API reads only the first address of an endpoint (EndpointSlice API: "consumers
      // MUST use the first element"), and a pod with two ports is still one endpoint.
      const address = ep.addresses?.[0];
      if (address !== undefined) seen.add(address);
    }
  }
  return seen.size;
}
