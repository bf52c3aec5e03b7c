/**
 * What a remote Service's EndpointSlices say of its endpoints, as a sync reads them (pure): how
 * many are ready, the hostnames of the ready ones, and how many there are, ready or not.
 */
import type { V1EndpointSlice } from '../kube/types.js';
import type { RemoteEndpoints } from './mirror-sync.js';

export function remoteEndpoints(slices: Iterable<V1EndpointSlice>): RemoteEndpoints {
  let ready = 0;
  let total = 0;
  let named = false;
  const hostnames: string[] = [];
  for (const slice of slices) {
    for (const ep of slice.endpoints ?? []) {
      total++;
      // Ready or not, as Linkerd's shouldExportAsHeadlessService counts (mirror-kind.ts).
      if (ep.hostname) named = true;
      // An absent `ready` means ready (discovery.k8s.io/v1 EndpointConditions).
      if (ep.conditions?.ready === false) continue;
      ready++;
      if (ep.hostname && !hostnames.includes(ep.hostname)) hostnames.push(ep.hostname);
    }
  }
  return { ready, hostnames: hostnames.sort(), total, named };
}
