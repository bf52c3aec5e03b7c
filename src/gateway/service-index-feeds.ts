/**
 * The ingress's ServiceIndex, fed from the gateway's informers: the admitted Services and their
 * slices, the addresses never dialled (the API server's, this cluster's gateway pods', the
 * ClusterIPs of its Services that forward to a gateway or are Isthmus's own) and, with --dial-pod-ips-only, the Pods' IPs.
 */
import type { Logger } from 'pino';
import type { GatewayConfig } from './config.js';
import type { GatewayInformers } from './gateway-informers.js';
import { feedLoopClusterIPs } from './loop-cluster-ips.js';
import { PodIPBook } from './pod-ips.js';
import { ServiceIndex } from './service-index.js';
import type { StopList } from './stop-list.js';
import { unionSource } from './union-source.js';
import { feedServiceIndex, GATEWAY_SERVICES } from './watch-exports.js';
import { feedPodIPs } from './watch-pods.js';

/** A ServiceIndex following `informers` until `stops` stops; refusals are logged. */
export function followServices(
  config: GatewayConfig,
  informers: GatewayInformers,
  log: Logger,
  stops: StopList,
): ServiceIndex {
  const { pods, federated } = informers;
  const podIPs = pods === undefined ? undefined : new PodIPBook();
  const index = new ServiceIndex({
    // Once per slice change: an exported Service's slice lists an address never dialled.
    onRefused: (r) =>
      log.warn(
        { service: `${r.namespace}/${r.service}`, slice: r.slice, refused: r.refused },
        'endpoints refused: never dialled',
      ),
    ...(podIPs === undefined ? {} : { podIPs }),
    awaitLoopClusterIPs: true,
  });
  if (pods !== undefined && podIPs !== undefined)
    stops.add('pod IP feed', feedPodIPs(index, podIPs, pods, pods.synced));
  const { services, forwardingSlices } = informers;
  stops.add(
    'loop ClusterIP feed',
    feedLoopClusterIPs(
      index,
      services,
      forwardingSlices,
      Promise.all([services.synced, forwardingSlices.synced]),
      { systemNamespace: config.systemNamespace },
    ),
  );
  const admitted = federated === undefined ? informers.exports : unionSource(informers.exports, federated);
  stops.add(
    'service index feed',
    feedServiceIndex(index, admitted, informers.slices, {
      gatewayServices: { namespace: config.systemNamespace, names: GATEWAY_SERVICES.names },
    }),
  );
  return index;
}
