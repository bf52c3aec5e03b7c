/**
 * The watches of the gateway's own cluster: what the ingress may dial (exported Services, federated
 * members, their EndpointSlices, the Pods with --dial-pod-ips-only), what it never dials (the
 * ClusterIPs of every Service that forwards to a gateway, told by the slices Isthmus writes), what
 * the egress listens for (mirrors, the mirror controller's slices, the Links), and the API client
 * they share.
 */
import type { Logger } from 'pino';
import { describeError } from '../errors.js';
import { KubeClient } from '../kube/client.js';
import { createInformer, type Informer } from '../kube/informer.js';
import { MANAGED_BY_LABEL, MANAGED_BY_MIRROR } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { Link, V1EndpointSlice, V1Service } from '../kube/types.js';
import type { GatewayConfig } from './config.js';
import type { ReadinessState } from './gateway-readiness.js';
import {
  FORWARDING_SLICE_SELECTOR,
  type ForwardingSlice,
  type ServiceClusterIPs,
  trimForwardingSlice,
  trimService,
} from './loop-cluster-ips.js';
import { MIRROR_SELECTOR } from './mirror-cluster-ips.js';
import type { PodAddresses } from './pod-ips.js';
import { ownAddresses } from './slice-drain.js';
import type { StopList } from './stop-list.js';
import { SLICE_SELECTOR } from './watch-exports.js';
import { createPodInformer, podListRefusal } from './watch-pods.js';

// A type, not an interface: readinessOf and startInformers walk it as a record of informers.
export type GatewayInformers = {
  exports: Informer<V1Service>;
  /** Federated members, admitted like exported Services; absent with `--federated-selector ''`. */
  federated?: Informer<V1Service>;
  slices: Informer<V1EndpointSlice>;
  mirrors: Informer<V1Service>;
  mirrorSlices: Informer<V1EndpointSlice>;
  /** Every Service, trimmed to its ClusterIPs and the labels that say it forwards to a gateway. */
  services: Informer<ServiceClusterIPs>;
  /**
   * The failover and federation controllers' slices (trimmed): which Services they fill, and
   * whether they list this pod (config.podIPs), which the drain follows.
   */
  forwardingSlices: Informer<ForwardingSlice>;
  links: Informer<Link>;
  /** `--dial-pod-ips-only`: every Pod of the cluster (trimmed to its phase and IPs). */
  pods?: Informer<PodAddresses>;
};

/** The API client of `config.kube`: in-cluster, or one or more kubeconfig files. */
export function kubeClientFor(config: GatewayConfig): KubeClient {
  if (config.kube.kind === 'in-cluster') return KubeClient.inCluster();
  const { paths, context } = config.kube;
  return paths.length === 1
    ? KubeClient.fromKubeconfigFile(paths[0] as string, context)
    : KubeClient.fromKubeconfigList(paths, context);
}

/** The informers, not started (startInformers); those `config` turns off are absent. */
export function createGatewayInformers(kube: KubeClient, config: GatewayConfig): GatewayInformers {
  // Federated members are admitted like exported Services; '' turns that off (no informer at all).
  const federated =
    config.federatedSelector === ''
      ? undefined
      : createInformer<V1Service>(kube, R.services, { labelSelector: config.federatedSelector });
  // --dial-pod-ips-only: every Pod of the cluster (trimmed to its phase and IPs); none otherwise.
  const pods = config.dialPodIPsOnly ? createPodInformer(kube) : undefined;
  const own = ownAddresses(config.podIPs);
  return {
    exports: createInformer<V1Service>(kube, R.services, { labelSelector: config.exportSelector }),
    ...(federated === undefined ? {} : { federated }),
    slices: createInformer<V1EndpointSlice>(kube, R.endpointSlices, { labelSelector: SLICE_SELECTOR }),
    // Every mirror: the egress opens listeners for the gateway mirrors only (gatewayMirrorsOnly).
    mirrors: createInformer<V1Service>(kube, R.services, { labelSelector: MIRROR_SELECTOR }),
    // The mirror controller's slices: what vouches for a mirror's egress ports (admitRoutes).
    mirrorSlices: createInformer<V1EndpointSlice>(kube, R.endpointSlices, {
      labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_MIRROR}`,
    }),
    // The ingress never dials a ClusterIP these say forwards to a gateway (loop-cluster-ips.ts).
    services: createInformer<ServiceClusterIPs>(kube, R.services, { transform: trimService }),
    forwardingSlices: createInformer<ForwardingSlice>(kube, R.endpointSlices, {
      labelSelector: FORWARDING_SLICE_SELECTOR,
      transform: (slice) => trimForwardingSlice(slice, own),
    }),
    links: createInformer<Link>(kube, R.links, { namespace: config.systemNamespace }),
    ...(pods === undefined ? {} : { pods }),
  };
}

/**
 * Starts every informer: a failing watch is logged (the cache keeps serving), and each change of
 * health or first sync tells `refresh` (readiness). A Pods list the API server refuses is logged
 * once per reason and kept in `state` (/ready says why nothing is dialled).
 */
export function startInformers(
  informers: GatewayInformers,
  state: ReadinessState,
  log: Logger,
  refresh: () => void,
  stops: StopList,
): void {
  // Before the informers start: a 403 on the first list must reach the log and /ready.
  informers.pods?.onHealth((h) => {
    const refusal = h.connected ? undefined : podListRefusal(h.lastError);
    if (refusal !== undefined && refusal !== state.podListRefused) log.error(refusal);
    state.podListRefused = refusal;
  });
  for (const [name, informer] of Object.entries(informers)) {
    informer.onHealth((h) => {
      if (!h.connected)
        log.warn({ informer: name, err: describeError(h.lastError) }, 'watch failing; serving from cache');
      refresh();
    });
    informer.synced.then(() => refresh()).catch(() => {});
    informer.start();
    stops.add(`${name} informer`, () => informer.stop());
  }
}
