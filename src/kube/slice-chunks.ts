import { MAX_SLICE_ENDPOINTS } from './keys.js';

/**
 * Endpoints cut into runs of at most MAX_SLICE_ENDPOINTS, in order: the API server refuses an
 * EndpointSlice with more, so a larger set is written over several, as kube's EndpointSlice
 * controller does. None for an empty list.
 */
export function sliceChunks<T>(items: readonly T[], size = MAX_SLICE_ENDPOINTS): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
