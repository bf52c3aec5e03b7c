/**
 * Typed objects for Isthmus's custom resources. Built-in kinds come from @kubernetes/client-node
 * (V1Service, V1EndpointSlice, ...) and are re-exported here so that other parts import one module.
 */
import type { V1Condition, V1LabelSelector, V1ObjectMeta } from '@kubernetes/client-node';

export type {
  CoreV1Event,
  V1ClusterRole,
  V1Condition,
  V1ConfigMap,
  V1Deployment,
  V1EndpointSlice,
  V1LabelSelector,
  V1LabelSelectorRequirement,
  V1Lease,
  V1Namespace,
  V1ObjectMeta,
  V1Pod,
  V1PolicyRule,
  V1Secret,
  V1Service,
  V1ServicePort,
} from '@kubernetes/client-node';

/** Any object the API serves: what generic helpers (informers, apply) work on. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: V1ObjectMeta;
}

export const LINK_GROUP = 'multicluster.isthmus.dev';
export const LINK_VERSION = 'v1alpha1';
export const LINK_PLURAL = 'links';

export interface ProbeSpec {
  path?: string;
  port?: number;
  /** Go duration string, e.g. "3s". */
  period?: string;
  timeout?: string;
  failureThreshold?: number;
}

export interface LinkSpec {
  targetClusterName: string;
  targetClusterDomain?: string;
  clusterCredentialsSecret: string;
  /** Absent: a Link without a gateway (remote-discovery Services and federated members only). */
  gatewayAddress?: string;
  gatewayPort?: number;
  gatewayIdentity?: string;
  probeSpec?: ProbeSpec;
  /** Absent: mirror.linkerd.io/exported=true. Present but empty: mirrors nothing. */
  selector?: V1LabelSelector;
  /** Remote federated members to mirror. Absent: mirror.linkerd.io/federated=member. Present but empty: none. */
  federatedServiceSelector?: V1LabelSelector;
  /**
   * Remote Services mirrored with their pods' own addresses (flat network, no gateway). Absent:
   * mirror.linkerd.io/exported=remote-discovery. Present but empty: none.
   */
  remoteDiscoverySelector?: V1LabelSelector;
  excludedLabels?: string[];
  excludedAnnotations?: string[];
  mirrorHeadless?: boolean;
  /** Create a missing local namespace for a mirror instead of waiting for it (Linkerd's enableNamespaceCreation). */
  enableNamespaceCreation?: boolean;
}

export interface ServiceMirrorStatus {
  namespace: string;
  name: string;
  /** Reason the service is not mirrored (MissingNamespace, Conflict, InvalidService, ...), or Mirrored. */
  reason: string;
  message?: string;
}

export interface LinkStatus {
  observedGeneration?: number;
  conditions?: V1Condition[];
  mirroredServices?: number;
  gatewayAddresses?: string[];
  /** The first MAX_LISTED_SERVICES of the Services not mirrored, with the reason. */
  services?: ServiceMirrorStatus[];
  /** How many Services are not mirrored in all; present when `services` does not list them all. */
  servicesNotMirrored?: number;
  /** How many of those are `NotAllowed` (the owner's choice, not a fault); present with the above. */
  servicesNotAllowed?: number;
  /**
   * The cluster whose mirrors the Link holds: its targetClusterName as last checked by a connection
   * against the remote's install label (src/mirror/remote-identity.ts). Mirrors of this cluster are
   * kept while the Link exists, so a retyped targetClusterName that cannot be checked deletes none.
   */
  mirroredClusterName?: string;
}

export interface Link extends KubeObject {
  apiVersion?: `${typeof LINK_GROUP}/${typeof LINK_VERSION}`;
  kind?: 'Link';
  metadata?: V1ObjectMeta;
  spec: LinkSpec;
  status?: LinkStatus;
}

export const SPLIT_GROUP = 'split.smi-spec.io';

export const SPLIT_PLURAL = 'trafficsplits';

export interface TrafficSplitBackend {
  service: string;
  /** v1alpha2: integer; v1alpha1: a quantity such as "500m" or 1. */
  weight: number | string;
}

export interface TrafficSplit extends KubeObject {
  metadata?: V1ObjectMeta;
  spec: { service: string; backends: TrafficSplitBackend[] };
  status?: {
    observedGeneration?: number;
    conditions?: V1Condition[];
    activeBackends?: string[];
    state?: string;
  };
}
