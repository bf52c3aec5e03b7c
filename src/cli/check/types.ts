/**
 * What `isthmus check` gathers (facts) and what each check decides (results). The gatherer does all
 * the I/O and records failures as data, so every check is a pure function of the facts and the
 * tables of cases in the tests need no API server.
 */

import type { Link, TrafficSplit, V1Condition, V1Pod } from '../../kube/types.js';
import { splitAddresses } from '../../mirror/link-config.js';
import type { FederatedRow } from './federated-view.js';
import type { GatewayAdmission } from './gateway-args.js';
import type { LinkObject } from './link-objects.js';
import type { ForeignMirror, ForeignSlice, LinkerdFailover, LinkerdLink } from './linkerd-leftovers.js';
import type { ComponentVersions } from './versions-view.js';

/** `warn` does not fail the run (linkerd's ‼); `fail` makes the exit status non-zero. */
export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  description: string;
  status: CheckStatus;
  /** One line per problem, each saying what to do about it. */
  hints: string[];
}

export type Check = (facts: CheckFacts) => CheckResult;

/** A read that may have failed: the value, or why it could not be had. */
export type Fetched<T> = { ok: true; value: T } | { ok: false; error: string };

/** Outcome of using a Link's credentials against the remote API server. */
export type RemoteAccess =
  | { ok: true; version: string; services: number }
  | {
      ok: false;
      /**
       * secret-missing/secret-invalid: local problem; untrusted: the remote API server's certificate
       * fails verification against the Secret's CA; the others: what the remote API answered.
       */
      kind:
        | 'secret-missing'
        | 'secret-invalid'
        | 'unauthorized'
        | 'forbidden'
        | 'untrusted'
        | 'server-error'
        | 'unreachable'
        | 'error';
      message: string;
    };

/** Certificates a remote gateway presented in a TLS handshake (leaf first), or why none came. */
export type PeerChain =
  | { ok: true; address: string; chainPem: string[] }
  | { ok: false; address: string; error: string };

/**
 * One running gateway pod's admin `/certificate`, read through the pod proxy: the chain it
 * presents to peers, leaf first; or why not (a gateway older than the endpoint answers 404).
 */
export type GatewayPodChain =
  | { pod: string; ok: true; chainPem: string[] }
  | { pod: string; ok: false; error: string };

/**
 * Whether one running, not terminating gateway or identity pod holds a CRL file it refused, from
 * its admin `/metrics` through the pod proxy (`isthmus_gateway_crl_file_refused`,
 * `isthmus_identity_crl_file_refused`). `refused` absent: the pod serves no such gauge (a version
 * before it); `ok: false`: the page could not be read, and `error` says why.
 */
export type CrlFileState =
  | { pod: string; component: 'gateway' | 'identity'; ok: true; refused?: boolean }
  | { pod: string; component: 'gateway' | 'identity'; ok: false; error: string };

/** A credentials token that expires (`isthmus link --token-duration`), as its claims say (RFC 3339). */
export interface TokenLifetime {
  notBefore?: string;
  expiresAt: string;
}

export interface LinkFacts {
  link: Link;
  remote: RemoteAccess;
  /** Absent for a token that never expires (a legacy Secret token) or none that can be read. */
  token?: TokenLifetime;
  /** The ServiceAccount the credentials' token names, when it names one. */
  tokenAccount?: string;
  /** undefined: the Link has no gateway (a flat network), so there is nothing to handshake with. */
  gatewayChain?: PeerChain;
}

/** A Service of this cluster that admits only some clusters (`isthmus.dev/allowed-clusters`). */
export interface AllowList {
  namespace: string;
  name: string;
  /** Its entries as the gateway and the mirror controllers read them (allowedClustersOf). */
  entries: string[];
  /** Exported for remote discovery: its consumers reach its pods' IPs, not this cluster's gateway. */
  remoteDiscovery?: boolean;
}

export interface LeaseFacts {
  holder?: string;
  /** RFC 3339 MicroTime, as the API serves it. */
  renewTime?: string;
  leaseDurationSeconds?: number;
}

export interface MirrorFacts {
  namespace: string;
  name: string;
  /** The `mirror.linkerd.io/cluster-name` label ('' when absent). */
  cluster: string;
  endpoints: number;
  readyEndpoints: number;
  /** The egress ports of its `isthmus.dev/egress-ports` annotation. */
  egressPorts: number[];
  /**
   * The ports its slices list, where kube-proxy sends callers (absent: not gathered). The controller
   * lists an egress port there only once this cluster's gateways listen on it.
   */
  listedPorts?: number[];
  /** A remote-discovery mirror (`mirror.linkerd.io/remote-discovery`): its endpoints are remote pods. */
  remoteDiscovery?: boolean;
  /** Its `isthmus.dev/remote-gateway` annotation, when it has one. */
  remoteGateway?: string;
}

/** A mirror route a gateway refused, as its admin `/routes` lists it (src/gateway/watch-mirrors.ts). */
export interface RefusedClaim {
  mirror: string;
  port?: number;
  reason: string;
  /** The Service's last admitted routes still serve (its remote gateway is changing). */
  kept?: boolean;
}

/** One running gateway pod and the egress ports it listens on (its admin `/routes`). */
export interface GatewayListeners {
  pod: string;
  /** Ready and not terminating: only such pods are in the mirrors' slices (controller-scrape.ts). */
  ready: boolean;
  /** Absent when `/routes` could not be read; `error` says why. */
  ports?: number[];
  /** The mirror routes it refused, with the reason (absent from a gateway that predates the list). */
  refused?: RefusedClaim[];
  error?: string;
}

/** One verb on one resource, for a service account of the install (cluster-wide without namespace). */
export interface Permission {
  serviceAccount: string;
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  /** One object only (a Role's resourceNames): a Link's credentials Secret. */
  name?: string;
}

export interface DeploymentFacts {
  name: string;
  /** spec.replicas (1 when unset, as the API defaults it). */
  replicas: number;
  /** status.availableReplicas (0 when unset). */
  available: number;
  /** Its containers' command and args, in order: how the install started the process. */
  args?: string[];
  /** Its pods, read only when fewer than `replicas` are available: they say why. */
  pods?: PodsFetched;
}

/** A pod of a Deployment short of available replicas. */
export interface PodFacts {
  pod: V1Pod;
  /**
   * A running, unready gateway or controller pod's admin `/ready`: the reasons it gives (none: it
   * answers ready by now), or why it could not be read.
   */
  readiness?: Fetched<string[]>;
}

/** `forbidden`: the caller may not list pods (403), which `isthmus check` only needs for details. */
export type PodsFetched = { ok: true; value: PodFacts[] } | { ok: false; error: string; forbidden?: boolean };

export interface CheckFacts {
  now: Date;
  /** The API server's clock (its Date header), which Lease times follow; absent: use `now`. */
  apiNow?: Date;
  /** false: installed with `isthmus install --no-gateway` (no gateway, no identity, no certificates). */
  gatewayInstalled: boolean;
  /** This cluster's name, from the install namespace's `isthmus.dev/cluster-name` label. */
  localCluster?: string;
  /**
   * The install namespace (isthmus-system): there, being deleted (an uninstall's `kubectl delete`
   * under way), or absent. Nothing of the install runs without it (checks/installed.ts).
   */
  installNamespace: Fetched<'active' | 'terminating' | 'absent'>;
  /** CRD name → installed. */
  crds: Fetched<Record<string, boolean>>;
  /** The live Links: those being deleted are apart (linksBeingDeleted), as the gateways count them. */
  links: Fetched<LinkFacts[]>;
  /**
   * Links being deleted (deletionTimestamp set), held by a finalizer until the controller has
   * removed their mirrors: not checked as Links any more. Absent: none (or the Links unread).
   */
  linksBeingDeleted?: Link[];
  /** What `isthmus link` made beside each Link (labelled isthmus.dev/link); absent: not read. */
  linkObjects?: Fetched<LinkObject[]>;
  /** This cluster's Services that name the clusters they admit; absent: not read. */
  allowLists?: Fetched<AllowList[]>;
  /** What the gateway Deployment admits, read only when allowLists has some; undefined value: no Deployment. */
  gatewayAdmission?: Fetched<GatewayAdmission | undefined>;
  /** undefined value: no such Lease. */
  lease: Fetched<LeaseFacts | undefined>;
  /** The controller Deployment's pods, whatever their state: is the Lease's holder among them? */
  controllerPods: Fetched<V1Pod[]>;
  mirrors: Fetched<MirrorFacts[]>;
  anchorPem: Fetched<string>;
  issuerPem: Fetched<string>;
  /** The CRL bundle the gateways load; undefined value: no isthmus-crl ConfigMap (nothing revoked). */
  crlPem: Fetched<string | undefined>;
  /**
   * The chain this cluster's own gateway presents to its peers, from a handshake with its Service's
   * LoadBalancer address (what peers dial), as remote gateways' chains are read: the one replica
   * the load balancer picked (gatewayPodChains has each one's). Read when a CRL
   * could revoke it or while ca.crt holds more than one anchor (a rotation: which anchor it chains
   * to tells whether the rotation may be finished); see needsLocalGatewayChain. Absent: neither, or
   * no gateway.
   */
  localGatewayChain?: PeerChain;
  /**
   * Each running, not terminating gateway pod's chain, from its admin `/certificate` through the
   * pod proxy: during a rotation one replica not restarted can present a leaf of the old issuer
   * while the load balancer shows another. Absent: no gateway (or not read).
   */
  gatewayPodChains?: Fetched<GatewayPodChain[]>;
  /**
   * Each running, not terminating gateway and identity pod's CRL file state, from its admin
   * `/metrics` through the pod proxy: one that refused the file keeps an older list, which the
   * revocation check cannot see in the ConfigMap alone (a rollback, a usable CA's CRL dropped).
   * Absent: no gateway (or not read).
   */
  crlFileStates?: Fetched<CrlFileState[]>;
  /** The Deployments in isthmus-system. */
  deployments: Fetched<DeploymentFacts[]>;
  /** What the API server denies of the installed grants (SubjectAccessReview per permission). */
  deniedPermissions: Fetched<Permission[]>;
  /** Every running gateway pod's egress listeners, read through the API server's pod proxy. */
  gatewayListeners: Fetched<GatewayListeners[]>;
  /** Whether the controller may create namespaces (the opt-in grant Links with enableNamespaceCreation need). */
  controllerMayCreateNamespaces: Fetched<boolean>;
  /**
   * Per default editor ClusterRole (`edit`, `admin`) that exists: what of Endpoints and
   * EndpointSlices it lets a namespace's editors write (checks/endpoint-writers.ts).
   */
  endpointWriters: Fetched<Record<string, string[]>>;
  /** Federated Services (`<name>-federated`) and what each member cluster serves. */
  federated: Fetched<FederatedRow[]>;
  /** The TrafficSplits the failover controller acts on (failover or steer-only), with their status. */
  trafficSplits: Fetched<TrafficSplit[]>;
  /**
   * Whether the TrafficSplit CRD (trafficsplits.split.smi-spec.io) has a status subresource in any
   * served version; undefined value: no such CRD. Without one (Linkerd's SMI extension's, kept with
   * `install --no-traffic-split-crd`) the failover controller writes no status. Absent: not read.
   */
  trafficSplitStatusSubresource?: Fetched<boolean | undefined>;
  /** The versions the install's live pods run, per component (`app.kubernetes.io/version`). */
  podVersions: Fetched<ComponentVersions[]>;
  /**
   * What a move from Linkerd multicluster left behind (linkerd-leftovers.ts), each absent when not
   * read. Mirror-labelled Services of a cluster that Isthmus did not make (Linkerd's, hand-made):
   */
  foreignMirrors?: Fetched<ForeignMirror[]>;
  /** Linkerd multicluster's Links; undefined value: Linkerd multicluster is not installed. */
  linkerdLinks?: Fetched<LinkerdLink[] | undefined>;
  /** EndpointSlices of Isthmus's mirrors (those in `mirrors`) that none of its controllers wrote. */
  foreignSlices?: Fetched<ForeignSlice[]>;
  /** Every TrafficSplit labelled `failover.linkerd.io/controlled-by`, whatever the value. */
  labelledSplits?: Fetched<TrafficSplit[]>;
  /** linkerd-failover's Deployments, in any namespace. */
  linkerdFailover?: Fetched<LinkerdFailover[]>;
  /**
   * The `--failover-controlled-by` the install recorded (isthmus-config), when it recorded one and
   * it could be read: what the failover controller acts on when its Deployment cannot be read.
   */
  recordedControlledBy?: string;
}

export function condition(link: Link, type: string): V1Condition | undefined {
  return link.status?.conditions?.find((c) => c.type === type);
}

/** The controller marked the Link `LinkInvalid` (src/mirror/link-status.ts): it mirrors and probes nothing. */
export function rejectedByController(link: Link): boolean {
  const ready = condition(link, 'Ready');
  return ready?.status === 'False' && ready.reason === 'LinkInvalid';
}

/** The Link is being deleted: a finalizer (the controller's, removing its mirrors) still holds it. */
export function isBeingDeleted(link: Link): boolean {
  return Boolean(link.metadata?.deletionTimestamp);
}

/** How a Link is named in hints: its cluster, and its own name when that differs (it is what kubectl edits). */
export function linkLabel(link: Link): string {
  const cluster = link.spec?.targetClusterName;
  const name = link.metadata?.name;
  if (cluster && name && cluster !== name) return `${name} (cluster ${cluster})`;
  return cluster || name || '?';
}

/**
 * The remote gateway addresses the controller dials: those it follows (the remote LoadBalancer's,
 * in the Link's status), else the Link's own `gatewayAddress` (src/mirror/remote-cluster.ts).
 */
export function followedGatewayHosts(link: Link): string[] {
  const followed = link.status?.gatewayAddresses ?? [];
  return followed.length > 0 ? [...followed] : splitAddresses(link.spec?.gatewayAddress);
}
