/**
 * Test fixture: a ServiceIndex that awaits the loop ClusterIPs, fed from in-memory sources as the
 * gateway feeds it from its informers (watch-exports.ts, loop-cluster-ips.ts), with one exported
 * Service already admitted and every refusal it reports kept.
 */
import type { KubeObject, V1EndpointSlice, V1Service } from '../../kube/types.js';
import { MemorySource } from '../e2e/memory-source.js';
import { feedLoopClusterIPs, type ServiceClusterIPs } from '../loop-cluster-ips.js';
import { type RefusedEndpoints, ServiceIndex } from '../service-index.js';
import { feedServiceIndex } from '../watch-exports.js';

/**
 * `exported`'s slices go to `slices`; every Service of the cluster to `services`, Isthmus's
 * forwarding slices to `forwarding`. `listed`: when both of those are first listed (at once).
 */
export function loopIndex(exported: V1Service, listed: Promise<unknown> = Promise.resolve()) {
  const exports = new MemorySource<V1Service>();
  const slices = new MemorySource<V1EndpointSlice>();
  const services = new MemorySource<ServiceClusterIPs>();
  const forwarding = new MemorySource<KubeObject>();
  const reports: RefusedEndpoints[] = [];
  const index = new ServiceIndex({ onRefused: (r) => reports.push(r), awaitLoopClusterIPs: true });
  feedServiceIndex(index, exports, slices, { apiServerClusterIPs: [] });
  const stop = feedLoopClusterIPs(index, services, forwarding, listed);
  exports.put(exported);
  return { slices, services, forwarding, reports, index, stop };
}
