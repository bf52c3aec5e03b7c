/**
 * Which remote key a local EndpointSlice's event queues. Pure: the watcher passes its cache lookup.
 */
import { SERVICE_NAME_LABEL } from '../kube/keys.js';
import type { V1EndpointSlice, V1Service } from '../kube/types.js';
import { remoteKeyOf } from './mirror-sync.js';

/**
 * A slice is labelled with its mirror Service (and the first one is named after it), whose labels
 * say which remote key it serves. A Service not in the cache (deleted first) is stood in for by the
 * slice's own metadata under the Service's name.
 */
export function sliceRemoteKey(
  slice: V1EndpointSlice,
  service: (namespace: string | undefined, name: string) => V1Service | undefined,
  cluster: string,
): string | undefined {
  const meta = slice.metadata ?? {};
  const name = meta.labels?.[SERVICE_NAME_LABEL] ?? meta.name ?? '';
  const owner = service(meta.namespace, name) ?? ({ metadata: { ...meta, name } } as V1Service);
  return remoteKeyOf(owner, cluster);
}
