/**
 * Labels, annotations and names that the parts of Isthmus agree on (shared/DESIGN.md, "Names and
 * keys"). Label keys are Linkerd's on purpose: tooling written for Linkerd multicluster keeps
 * working against Isthmus mirrors.
 */
import { isDNS1123Label } from './validation/strings.js';

export const EXPORTED_LABEL = 'mirror.linkerd.io/exported';
export const MIRRORED_SERVICE_LABEL = 'mirror.linkerd.io/mirrored-service';
export const CLUSTER_NAME_LABEL = 'mirror.linkerd.io/cluster-name';
export const HEADLESS_MIRROR_LABEL = 'mirror.linkerd.io/headless-mirror-svc-name';
export const REMOTE_SVC_FQ_NAME_ANNOTATION = 'mirror.linkerd.io/remote-svc-fq-name';
export const REMOTE_RESOURCE_VERSION_ANNOTATION = 'mirror.linkerd.io/remote-resource-version';
export const REMOTE_GATEWAY_ANNOTATION = 'isthmus.dev/remote-gateway';
export const EGRESS_PORTS_ANNOTATION = 'isthmus.dev/egress-ports';
/** Label values may not contain '/', hence mirror.isthmus.dev rather than a path-like value. */
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
export const MANAGED_BY_MIRROR = 'mirror.isthmus.dev';
export const MANAGED_BY_FAILOVER = 'failover.isthmus.dev';
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/**
 * On every EndpointSlice of a headless Service (`v1.IsHeadlessService`, value ""), as kube's
 * EndpointSlice controller sets it: kube-proxy lists slices with `!service.kubernetes.io/headless`,
 * since a headless Service has no cluster IP to serve; CoreDNS reads them all the same.
 */
export const HEADLESS_SERVICE_LABEL = 'service.kubernetes.io/headless';

/**
 * Federated services (Linkerd 2.17's label): a Service labelled `mirror.linkerd.io/federated=member`
 * in any linked cluster, and in the local one, joins `<name>-federated`, whose endpoints are the
 * union of every member's (see src/federation).
 */
export const FEDERATED_LABEL = 'mirror.linkerd.io/federated';
export const FEDERATED_MEMBER = 'member';
export const DEFAULT_FEDERATED_SELECTOR = `${FEDERATED_LABEL}=${FEDERATED_MEMBER}`;
/**
 * Remote discovery (Linkerd 2.14's pod-to-pod mode): a Service labelled
 * `mirror.linkerd.io/exported=remote-discovery` is mirrored with the remote pods' own addresses as
 * its endpoints, for clusters whose pod networks reach each other (flat network, as Cilium
 * ClusterMesh needs): no gateway hop and no tunnel. The mirror carries Linkerd's two labels.
 */
export const REMOTE_DISCOVERY_EXPORT = 'remote-discovery';
export const REMOTE_DISCOVERY_LABEL = 'mirror.linkerd.io/remote-discovery';
export const REMOTE_SERVICE_LABEL = 'mirror.linkerd.io/remote-service';
/**
 * On the Endpoints (never the Service) of each gateway mirror Linkerd's service mirror writes, so
 * also on the EndpointSlices kube mirrors from them. Isthmus neither writes nor copies it; it tells
 * its own mirrors by ISTHMUS_MIRROR_LABEL instead (src/kube/linkerd-mirror.ts).
 */
export const LINKERD_GATEWAY_IDENTITY_ANNOTATION = 'mirror.linkerd.io/remote-gateway-identity';
/**
 * On every mirror Isthmus writes (gateway mirror, headless parent, per-pod mirror, remote-discovery
 * mirror), with the mirror's cluster as its value: what makes a mirror Isthmus's
 * (src/kube/linkerd-mirror.ts). Linkerd's service mirror writes our two labels but never this, and a
 * label lets `kubectl ... -l '!isthmus.dev/mirror'` pick Linkerd's mirrors only. Never copied from a
 * remote Service (no `isthmus.dev/*` key is).
 */
export const ISTHMUS_MIRROR_LABEL = 'isthmus.dev/mirror';
/**
 * On a Linkerd 2.17 federated Service `<name>-federated`: its remote members (`<name>@<cluster>`,
 * comma-separated) and its local member. Linkerd labels it `mirror.linkerd.io/mirrored-service=true`
 * without a cluster-name label; these say it is Linkerd's.
 */
export const LINKERD_REMOTE_DISCOVERY_ANNOTATION = 'multicluster.linkerd.io/remote-discovery';
export const LINKERD_LOCAL_DISCOVERY_ANNOTATION = 'multicluster.linkerd.io/local-discovery';
/** On the mirror of a remote federated member: the federation (the remote Service's name) it serves. */
export const FEDERATION_LABEL = 'isthmus.dev/federation';
/** On a `<name>-federated` Service that Isthmus owns. */
export const FEDERATED_SERVICE_LABEL = 'isthmus.dev/federated-service';
/** On a `<name>-federated` Service: the member clusters whose endpoints it carries, comma-separated. */
export const FEDERATION_MEMBERS_ANNOTATION = 'isthmus.dev/federation-members';
export const MANAGED_BY_FEDERATION = 'federation.isthmus.dev';
/**
 * On the local member (and copied onto `<name>-federated`): `local` sends traffic to the local pods
 * while any is ready and to the remote members only then, `remote` the other way round, `none`
 * (the default) to all at once; as Cilium's `service.cilium.io/affinity` on a global Service.
 */
export const FEDERATION_AFFINITY_ANNOTATION = 'isthmus.dev/federation-affinity';
/**
 * Cilium ClusterMesh's affinity annotation (`local`, `remote`, `none`), read on the local member
 * as an alias of FEDERATION_AFFINITY_ANNOTATION when that one is absent.
 */
export const CILIUM_AFFINITY_ANNOTATION = 'service.cilium.io/affinity';

/**
 * On a `<name>-federated` Service: the member clusters an affinity holds on standby (ready, but
 * left out while the preferred side serves), comma-separated; absent when none is. A member neither
 * listed in the slices nor on standby has no ready endpoint, which `isthmus federated` could not
 * tell from the slices alone.
 */
export const FEDERATION_STANDBY_ANNOTATION = 'isthmus.dev/federation-standby';

/**
 * On a `<name>-federated` Service: the member clusters none of whose ports is named as one of its
 * ports (so they carry none of its traffic, however ready their pods), comma-separated; absent when
 * none is. `isthmus federated` shows them as `no matching port` rather than `no ready endpoint`.
 */
export const FEDERATION_NO_MATCHING_PORT_ANNOTATION = 'isthmus.dev/federation-no-matching-port';

/**
 * EndpointSlices Isthmus did not write (`notin` also matches slices without the label). A mirror's,
 * a split apex's or a federated Service's slices list gateway egress listeners and other Services'
 * endpoints, not pods: a gateway dialing them, or a remote controller counting them as ready
 * endpoints, would chain tunnels across clusters, and two clusters failing over to each other
 * would loop. Gateways and remote readers watch only the others.
 */
export const NOT_ISTHMUS_SLICES = `${MANAGED_BY_LABEL} notin (${MANAGED_BY_MIRROR},${MANAGED_BY_FAILOVER},${MANAGED_BY_FEDERATION})`;

export function federatedServiceName(name: string): string {
  return `${name}-federated`;
}

/**
 * On an exported Service (or federated member): the only clusters that may reach it, comma-separated.
 * Absent: every linked cluster. The ingress refuses other peers (403) by their mTLS identity, and
 * their mirror controllers do not mirror it (`NotAllowed`).
 */
export const ALLOWED_CLUSTERS_ANNOTATION = 'isthmus.dev/allowed-clusters';

/** The clusters an exported Service admits, or undefined for every linked cluster. */
export function allowedClustersOf(annotations: Record<string, string> | undefined): string[] | undefined {
  const value = annotations?.[ALLOWED_CLUSTERS_ANNOTATION];
  if (value === undefined) return undefined;
  return value
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '');
}

/**
 * Why an entry of `isthmus.dev/allowed-clusters` can match no cluster, or undefined: cluster names
 * are DNS-1123 labels, compared as written, so `East` or `west.` admits nobody.
 */
export function allowedClusterEntryProblem(entry: string): string | undefined {
  return isDNS1123Label(entry).length > 0 ? 'is no cluster name (a lowercase DNS-1123 label)' : undefined;
}

export const FAILOVER_CONTROLLED_BY_LABEL = 'failover.linkerd.io/controlled-by';
export const FAILOVER_CONTROLLED_BY_DEFAULT = 'linkerd-failover';
export const FAILOVER_PRIMARY_ANNOTATION = 'failover.linkerd.io/primary-service';
export const FAILOVER_RESTORE_AFTER_ANNOTATION = 'failover.isthmus.dev/restore-after';

export const SYSTEM_NAMESPACE = 'isthmus-system';
/** The CRL bundle (`isthmus certs revoke` writes crl.pem) as a ConfigMap the gateways mount. */
export const CRL_CONFIGMAP = 'isthmus-crl';
/** The trust anchor (bundle) every pod of the install mounts, as `ca.crt`. */
export const TRUST_ANCHOR_CONFIGMAP = 'isthmus-trust-anchor';
/** The issuer's certificate and key (kubernetes.io/tls), mounted by identity only. */
export const ISSUER_SECRET = 'isthmus-issuer';
export const GATEWAY_SERVICE_NAME = 'isthmus-gateway';
/** The identity service's Service: its serving certificate names it (`identityDnsNames`). */
export const IDENTITY_SERVICE_NAME = 'isthmus-identity';
/**
 * On the install namespace, `false` when `isthmus install --no-gateway` made it: no gateway, no
 * identity, so every Link of this cluster and to it is a Link without a gateway. `isthmus check`
 * and `isthmus link` read it.
 */
export const INSTALL_GATEWAY_LABEL = 'isthmus.dev/gateway';
/** On the install namespace: the name `isthmus install --cluster-name` gave this cluster. */
export const INSTALL_CLUSTER_NAME_LABEL = 'isthmus.dev/cluster-name';
export const REMOTE_ACCESS_SERVICE_ACCOUNT = 'isthmus-remote-access';
/**
 * On a Link `isthmus link` printed: the remote ServiceAccount whose token its credentials Secret
 * holds (`--service-account-name`, else REMOTE_ACCESS_SERVICE_ACCOUNT). It outlives the Secret, so
 * `isthmus check` can say to re-link with the same account when the Secret is gone.
 */
export const LINK_SERVICE_ACCOUNT_ANNOTATION = 'isthmus.dev/remote-service-account';
export const LINK_FINALIZER = 'multicluster.isthmus.dev/mirrors';
/** Secret type of Link credentials, as Linkerd names it. */
export const REMOTE_KUBECONFIG_SECRET_TYPE = 'mirror.linkerd.io/remote-kubeconfig';
export const REMOTE_KUBECONFIG_KEY = 'kubeconfig';

/**
 * The audience of the ServiceAccount tokens a gateway shows the identity service (a projected
 * `serviceAccountToken` volume; Linkerd's is `identity.l5d.io`): a token the API server would
 * accept is refused, so a token leaked from any pod of the account cannot be turned into a
 * gateway certificate, and the gateway's own cannot be used against the API server.
 */
export const IDENTITY_TOKEN_AUDIENCE = 'identity.isthmus.dev';

export const DEFAULT_EXPORT_SELECTOR = `${EXPORTED_LABEL}=true`;
export const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';

export const PORTS = {
  ingress: 4143,
  admin: 4191,
  /** Certify, over TLS (the identity's own serving certificate). */
  identity: 8080,
  /** Identity's plaintext grpc.health.v1, for the kubelet's gRPC probes (Linkerd's identity admin port). */
  identityHealth: 9990,
  /** Identity's HTTP admin: /metrics, /live, /ready (next to its health port; clear of 4191, which is the gateway's). */
  identityAdmin: 9991,
  egressRange: { first: 20000, last: 29999 },
} as const;

export function gatewayIdentity(trustDomain: string, cluster: string): string {
  return `spiffe://${trustDomain}/cluster/${cluster}/gateway`;
}

/** The API's limit on endpoints per EndpointSlice (discovery.k8s.io/v1 validation). */
export const MAX_SLICE_ENDPOINTS = 1000;

/**
 * The Role (and RoleBinding) `isthmus link` prints beside a Link: the controller may read that
 * Link's credentials Secret by name, and no other Secret of the namespace (the issuer's key is there).
 */
export function credentialsRoleName(cluster: string): string {
  return `isthmus-controller-credentials-${cluster}`;
}
