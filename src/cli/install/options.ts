import { VERSION } from '../../version.js';
import { DEFAULT_GATEWAY_DRAIN, type GatewayDrain } from './gateway-drain.js';
import type { GatewayExposure } from './gateway-exposure.js';
import type { RecordedFlags } from './install-record.js';
import type { NetworkPolicyOptions } from './network-policy.js';
import { type Component, type ContainerResources, DEFAULT_RESOURCES } from './resources.js';
import { DEFAULT_SCHEDULING, type PodScheduling } from './scheduling.js';

/** What `isthmus install` renders from: one cluster's name, its certificates and a few knobs. */
export interface InstallOptions {
  clusterName: string;
  trustDomain: string;
  clusterDomain: string;
  namespace: string;
  image: string;
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  /**
   * false (`--no-gateway`, Linkerd's `--gateway=false`): no gateway and no identity service, for a
   * flat pod network where every Link is one without a gateway. Nothing needs certificates then.
   */
  gateway: boolean;
  /**
   * PEM of the shared trust anchor (public part only: it never leaves the operator's machine).
   * Absent with `--no-gateway`.
   */
  trustAnchorPem?: string;
  /**
   * This cluster's issuer: the key lives only in the identity Deployment's Secret. Absent with
   * `--external-issuer`: the `isthmus-issuer` Secret is someone else's to write (cert-manager).
   */
  issuerCertPem?: string;
  issuerKeyPem?: string;
  gatewayReplicas: number;
  controllerReplicas: number;
  /** Stateless (it only signs), so --ha runs 2: renewals keep working through a node drain. */
  identityReplicas: number;
  /** Label value of TrafficSplits the failover controller acts on (linkerd-failover's default). */
  failoverControlledBy: string;
  egressPortRange: { first: number; last: number };
  /** Service type of the gateway: LoadBalancer in real clusters; NodePort for bare labs. */
  /** ClusterIP: not reachable from other clusters (Links to this one use --no-gateway, or your own exposure). */
  gatewayServiceType: 'LoadBalancer' | 'NodePort' | 'ClusterIP';
  /** Cloud load-balancer annotations, source ranges, class, traffic policy, node port. */
  gatewayExposure: GatewayExposure;
  /**
   * false (`--no-traffic-split-crd`): the TrafficSplit CRD is another chart's (Linkerd's SMI
   * extension, linkerd-failover), so the install neither renders it nor labels it ours.
   */
  trafficSplitCrd: boolean;
  /**
   * Clusters the gateway admits besides the targets of this cluster's Links (the gateway's
   * `--allow-cluster`): a cluster that exports to one it has no Link to must name it here.
   */
  allowClusters: readonly string[];
  /**
   * The gateway's `--dial-pod-ips-only` (`--gateway-dial-pod-ips-only`): it dials only addresses
   * that are a live Pod's IP in the Service's namespace, and its ClusterRole reads pods for that.
   */
  gatewayDialPodIPsOnly: boolean;
  /** The gateway's drain on SIGTERM and its Deployment's minReadySeconds (gateway-drain.ts). */
  gatewayDrain: GatewayDrain;
  /** Grants the controller `create namespaces`, for Links with `enableNamespaceCreation`. */
  enableNamespaceCreation: boolean;
  /** Ingress NetworkPolicies for the install's pods (`--network-policy`); absent: none rendered. */
  networkPolicy?: NetworkPolicyOptions;
  /**
   * A ValidatingAdmissionPolicy that keeps the EndpointSlices of Isthmus's controllers to
   * isthmus-controller (`--admission-policy`, admission-policy.ts); absent or false: none rendered.
   */
  admissionPolicy?: boolean;
  /** Node selectors, tolerations, priority class and pull secrets of the pods. */
  scheduling: PodScheduling;
  /** Each component's container resources: the defaults with `--<component>-resources` merged. */
  resources: Readonly<Record<Component, ContainerResources>>;
  /**
   * The flags to record in the isthmus-config ConfigMap for `isthmus upgrade` (install-record.ts);
   * absent: no ConfigMap (options not made from flags, as in unit tests).
   */
  recordedFlags?: RecordedFlags;
  /**
   * Objects an earlier install rendered that this one does not but that still exist (upgrade found
   * them): kept in the record so each upgrade names them until they are deleted.
   */
  leftoverObjects?: readonly string[];
}

export const INSTALL_DEFAULTS = {
  trustDomain: 'cluster.local',
  clusterDomain: 'cluster.local',
  namespace: 'isthmus-system',
  image: `ghcr.io/isthmus-dev/isthmus:${VERSION}`,
  imagePullPolicy: 'IfNotPresent',
  gatewayReplicas: 1,
  controllerReplicas: 2,
  identityReplicas: 1,
  gateway: true,
  failoverControlledBy: 'linkerd-failover',
  egressPortRange: { first: 20000, last: 29999 },
  gatewayServiceType: 'LoadBalancer',
  gatewayExposure: { annotations: {}, loadBalancerSourceRanges: [] as string[] },
  enableNamespaceCreation: false,
  allowClusters: [] as string[],
  gatewayDialPodIPsOnly: false,
  gatewayDrain: DEFAULT_GATEWAY_DRAIN,
  trafficSplitCrd: true,
  scheduling: DEFAULT_SCHEDULING,
  resources: DEFAULT_RESOURCES,
} as const;

/** The CRD another chart may own (Linkerd's SMI extension, linkerd-failover): `--no-traffic-split-crd`. */
export const TRAFFIC_SPLIT_CRD = 'trafficsplits.split.smi-spec.io';

/**
 * On what `isthmus link` prints besides the Link (its credentials Secret, Role and RoleBinding),
 * valued with the linked cluster's name. They carry PART_OF too, so a prune scoped to the install
 * must leave them out: `-l 'app.kubernetes.io/part-of=isthmus,!isthmus.dev/link,!isthmus.dev/remote-access'`.
 */
export const LINK_LABEL = 'isthmus.dev/link';

export const PART_OF = { 'app.kubernetes.io/part-of': 'isthmus' } as const;

export function componentLabels(component: string): Record<string, string> {
  return {
    ...PART_OF,
    'app.kubernetes.io/name': `isthmus-${component}`,
    'app.kubernetes.io/component': component,
  };
}
