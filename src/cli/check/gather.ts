/**
 * The I/O half of `isthmus check`: reads everything the checks decide on, once, in parallel, and
 * turns every failed read into data (Fetched / RemoteAccess / PeerChain) so one broken part never
 * hides the verdicts of the others.
 */

import { parse } from 'yaml';
import { describeError, isIsthmusError } from '../../errors.js';
import { splitMode } from '../../failover/split-selection.js';
import { splitPem } from '../../identity/pem.js';
import type { KubeClient } from '../../kube/client.js';
import { KubeApiError } from '../../kube/errors.js';
import {
  allowedClustersOf,
  CLUSTER_NAME_LABEL,
  CRL_CONFIGMAP,
  EGRESS_PORTS_ANNOTATION,
  EXPORTED_LABEL,
  FAILOVER_CONTROLLED_BY_DEFAULT,
  GATEWAY_SERVICE_NAME,
  INSTALL_CLUSTER_NAME_LABEL,
  INSTALL_GATEWAY_LABEL,
  MANAGED_BY_LABEL,
  MANAGED_BY_MIRROR,
  MIRRORED_SERVICE_LABEL,
  PORTS,
  REMOTE_DISCOVERY_EXPORT,
  REMOTE_DISCOVERY_LABEL,
  REMOTE_GATEWAY_ANNOTATION,
  REMOTE_KUBECONFIG_KEY,
  SERVICE_NAME_LABEL,
  SYSTEM_NAMESPACE,
} from '../../kube/keys.js';
import { claimsRoutes, isIsthmusMirror } from '../../kube/linkerd-mirror.js';
import { R } from '../../kube/resources.js';
import { serverTime } from '../../kube/server-time.js';
import { kubeconfigTokenClaims } from '../../kube/service-account-token.js';
import type {
  KubeObject,
  Link,
  TrafficSplit,
  V1ClusterRole,
  V1ConfigMap,
  V1EndpointSlice,
  V1Lease,
  V1Namespace,
  V1Secret,
  V1Service,
} from '../../kube/types.js';
import { MIRROR_LEASE_NAME } from '../../mirror/leadership.js';
import { parseLinkSpec } from '../../mirror/link-config.js';
import { parseEgressPorts } from '../../mirror/mirror-objects.js';
import { INSTALL_RECORD_CONFIGMAP } from '../install/install-record.js';
import { TRAFFIC_SPLIT_CRD } from '../install/options.js';
import { REQUIRED_CRDS } from './checks/crds.js';
import { EDITOR_ROLES, endpointWrites, gatewayDialsPodIPsOnly } from './checks/endpoint-writers.js';
import { readCrlFileStates, readGatewayCertificates, readGatewayListeners } from './controller-scrape.js';
import { deploymentPods, readDeployments } from './deployment-pods.js';
import { readFederatedRows } from './federated-view.js';
import { readGatewayAdmission } from './gateway-args.js';
import { readLinkObjects } from './link-objects.js';
import {
  readForeignMirrors,
  readForeignSlices,
  readLabelledSplits,
  readLinkerdFailover,
  readLinkerdLinks,
} from './linkerd-leftovers.js';
import { fetchPeerChain } from './peer-chain.js';
import {
  controllerMayCreateNamespaces,
  deniedPermissions,
  deniedToSelf,
  describePermission,
  remoteAccessPermissions,
} from './permissions.js';
import {
  type AllowList,
  type CheckFacts,
  type Fetched,
  followedGatewayHosts,
  isBeingDeleted,
  type LeaseFacts,
  type LinkFacts,
  type MirrorFacts,
  type PeerChain,
  type RemoteAccess,
} from './types.js';
import { readComponentVersions } from './versions-view.js';

export interface GatherOptions {
  /** Deadline of each remote call (remote API, gateway handshake). */
  remoteTimeoutMs?: number;
  /** How to build a client from a credentials Secret (tests substitute; default KubeClient.fromSecret). */
  clientFromSecret?: (secret: V1Secret, timeoutMs: number) => Promise<KubeClient>;
}

async function fetched<T>(read: () => Promise<T>): Promise<Fetched<T>> {
  try {
    return { ok: true, value: await read() };
  } catch (err) {
    return { ok: false, error: describeError(err) };
  }
}

const REMOTE_KIND = {
  KUBE_UNAUTHORIZED: 'unauthorized',
  KUBE_FORBIDDEN: 'forbidden',
  KUBE_API_UNAVAILABLE: 'unreachable',
  KUBECONFIG_INVALID: 'secret-invalid',
} as const;

/**
 * OpenSSL's verify results as Node names them: the server answered, but with a certificate the
 * kubeconfig's CA does not accept (another CA, expired, another name). Not a network problem.
 */
const TLS_VERIFY_FAILURES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_REVOKED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

export function remoteFailure(err: unknown): RemoteAccess {
  const code = isIsthmusError(err) ? err.code : undefined;
  const message = describeError(err);
  if (err instanceof KubeApiError && err.reason && TLS_VERIFY_FAILURES.has(err.reason)) {
    return { ok: false, kind: 'untrusted', message };
  }
  // It answered, with a 5xx: reachable, and the credentials are not in question; the server is.
  if (err instanceof KubeApiError && err.status !== undefined && err.status >= 500) {
    return { ok: false, kind: 'server-error', message };
  }
  const kind = (code && REMOTE_KIND[code as keyof typeof REMOTE_KIND]) || 'error';
  return { ok: false, kind, message };
}

async function defaultClientFromSecret(secret: V1Secret, timeoutMs: number): Promise<KubeClient> {
  const { KubeClient } = await import('../../kube/client.js');
  return KubeClient.fromSecret(secret, { timeoutMs, maxThrottleRetries: 1 });
}

/**
 * A Link's credentials: whether they work (`remote`, used as the controller uses them) and, for a
 * token that expires (`isthmus link --token-duration`), its lifetime.
 */
export async function linkCredentials(
  local: KubeClient,
  link: Link,
  opts: Required<GatherOptions>,
): Promise<Pick<LinkFacts, 'remote' | 'token' | 'tokenAccount'>> {
  const ns = link.metadata?.namespace ?? SYSTEM_NAMESPACE;
  let secret: V1Secret | undefined;
  try {
    secret = await local.get<V1Secret>(R.secrets, ns, link.spec.clusterCredentialsSecret);
  } catch (err) {
    return { remote: { ok: false, kind: 'error', message: `cannot read the Secret: ${describeError(err)}` } };
  }
  if (!secret) return { remote: { ok: false, kind: 'secret-missing', message: 'not found' } };
  const kubeconfig = secret.data?.[REMOTE_KUBECONFIG_KEY];
  if (!kubeconfig) {
    return { remote: { ok: false, kind: 'secret-invalid', message: `no "${REMOTE_KUBECONFIG_KEY}" key` } };
  }
  const claims = kubeconfigTokenClaims(Buffer.from(kubeconfig, 'base64').toString('utf8'));
  const token = claims?.expiresAt
    ? {
        expiresAt: claims.expiresAt.toISOString(),
        ...(claims.notBefore ? { notBefore: claims.notBefore.toISOString() } : {}),
      }
    : undefined;
  return {
    remote: await remoteAccess(secret, opts),
    ...(token ? { token } : {}),
    ...(claims?.account ? { tokenAccount: claims.account } : {}),
  };
}

/** Uses a Link's credentials Secret as the controller does: /version, then list services. */
async function remoteAccess(secret: V1Secret, opts: Required<GatherOptions>): Promise<RemoteAccess> {
  let remote: KubeClient | undefined;
  try {
    remote = await opts.clientFromSecret(secret, opts.remoteTimeoutMs);
    const version = await remote.version();
    const { items } = await remote.list(R.services, { namespace: SYSTEM_NAMESPACE });
    // Reading isthmus-system is not enough: the controller watches Services and EndpointSlices
    // across the whole remote cluster.
    const missing = await deniedToSelf(remote, remoteAccessPermissions(SYSTEM_NAMESPACE));
    if (missing.length > 0) {
      return {
        ok: false,
        kind: 'forbidden',
        message: `may not ${missing.map(describePermission).join(', ')}`,
      };
    }
    return { ok: true, version: version.gitVersion ?? '', services: items.length };
  } catch (err) {
    return remoteFailure(err);
  } finally {
    remote?.close();
  }
}

/** The first of the gateway addresses the controller dials that completes a TLS handshake. */
export async function gatewayChain(link: Link, timeoutMs: number): Promise<PeerChain> {
  const port = link.spec.gatewayPort ?? PORTS.ingress;
  const hosts = followedGatewayHosts(link);
  let last: PeerChain = { ok: false, address: `:${port}`, error: 'the Link has no gatewayAddress' };
  for (const host of hosts) {
    last = await fetchPeerChain(host, port, { timeoutMs });
    if (last.ok) return last;
  }
  return last;
}

/**
 * The chain this cluster's own gateway presents to its peers: a handshake, as with a remote
 * gateway, with the first LoadBalancer address of its Service that completes one, at the Service's
 * ingress port (what `isthmus link` gives the other clusters to dial). Without such an address
 * (NodePort, ClusterIP, a load balancer still pending) it is not read, and says why.
 */
export async function readLocalGatewayChain(client: KubeClient, timeoutMs: number): Promise<PeerChain> {
  let svc: V1Service | undefined;
  try {
    svc = await client.get<V1Service>(R.services, SYSTEM_NAMESPACE, GATEWAY_SERVICE_NAME);
  } catch (err) {
    return {
      ok: false,
      address: '',
      error: `cannot read Service ${SYSTEM_NAMESPACE}/${GATEWAY_SERVICE_NAME}: ${describeError(err)}`,
    };
  }
  if (!svc)
    return { ok: false, address: '', error: `no Service ${SYSTEM_NAMESPACE}/${GATEWAY_SERVICE_NAME}` };
  const port = svc.spec?.ports?.find((p) => p.name === 'ingress')?.port ?? PORTS.ingress;
  const hosts = (svc.status?.loadBalancer?.ingress ?? [])
    .map((i) => i.ip ?? i.hostname)
    .filter((a): a is string => typeof a === 'string' && a !== '');
  let last: PeerChain = {
    ok: false,
    address: `:${port}`,
    error: `Service ${SYSTEM_NAMESPACE}/${GATEWAY_SERVICE_NAME} has no LoadBalancer address to dial`,
  };
  for (const host of hosts) {
    last = await fetchPeerChain(host, port, { timeoutMs });
    if (last.ok) return last;
  }
  return last;
}

/**
 * Whether a check needs the chain this cluster's own gateway presents: the revocation check when a
 * CRL could revoke it, and the trust-anchor check while ca.crt holds more than one anchor (a
 * rotation), where a replica still on the old issuer keeps the old anchor in use.
 */
export function needsLocalGatewayChain(
  gatewayInstalled: boolean,
  crl: Fetched<string | undefined>,
  anchor: Fetched<string>,
): boolean {
  if (!gatewayInstalled) return false;
  return (crl.ok && crl.value !== undefined) || (anchor.ok && splitPem(anchor.value).length > 1);
}

/**
 * Mirror services with their endpoint counts, from the EndpointSlices the mirror controller writes.
 * Counted by address: a remote-discovery mirror lists a pod once per port set (mid-rollout of a
 * named targetPort), and it is one pod, ready if any slice lists it ready.
 */
export function mirrorFacts(services: V1Service[], slices: V1EndpointSlice[]): MirrorFacts[] {
  const readiness = new Map<string, Map<string, boolean>>();
  const slicesOf = new Map<string, V1EndpointSlice[]>();
  const listed = new Map<string, Set<number>>();
  for (const slice of slices) {
    const key = `${slice.metadata?.namespace}/${slice.metadata?.labels?.[SERVICE_NAME_LABEL]}`;
    slicesOf.set(key, [...(slicesOf.get(key) ?? []), slice]);
    const ports = listed.get(key) ?? new Set<number>();
    listed.set(key, ports);
    for (const p of slice.ports ?? []) if (p.port !== undefined) ports.add(p.port);
    const byAddress = readiness.get(key) ?? new Map<string, boolean>();
    readiness.set(key, byAddress);
    for (const e of slice.endpoints ?? []) {
      const address = e.addresses?.[0] ?? '';
      // An absent `ready` means ready (discovery.k8s.io/v1 EndpointConditions).
      byAddress.set(address, byAddress.get(address) === true || e.conditions?.ready !== false);
    }
  }
  const counts = new Map(
    [...readiness].map(([key, byAddress]) => [
      key,
      { endpoints: byAddress.size, ready: [...byAddress.values()].filter(Boolean).length },
    ]),
  );
  // Linkerd's mirrors and federated Services (mid-migration: the Link reports a Conflict) and
  // hand-made ones are not ours to check; a Service that claims an egress route is, as at the gateway.
  const ours = (s: V1Service) =>
    isIsthmusMirror(s, slicesOf.get(`${s.metadata?.namespace}/${s.metadata?.name}`)) || claimsRoutes(s);
  return services
    .filter(ours)
    .map((s) => {
      const namespace = s.metadata?.namespace ?? '';
      const name = s.metadata?.name ?? '';
      const c = counts.get(`${namespace}/${name}`);
      const gateway = s.metadata?.annotations?.[REMOTE_GATEWAY_ANNOTATION];
      return {
        namespace,
        name,
        cluster: s.metadata?.labels?.[CLUSTER_NAME_LABEL] ?? '',
        endpoints: c?.endpoints ?? 0,
        readyEndpoints: c?.ready ?? 0,
        egressPorts: [...parseEgressPorts(s.metadata?.annotations?.[EGRESS_PORTS_ANNOTATION]).values()],
        listedPorts: [...(listed.get(`${namespace}/${name}`) ?? [])],
        ...(s.metadata?.labels?.[REMOTE_DISCOVERY_LABEL] ? { remoteDiscovery: true } : {}),
        ...(gateway === undefined ? {} : { remoteGateway: gateway }),
      };
    })
    .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
}

/** The mirror controllers' leader-election Lease, as the controller check reads it; undefined: none. */
export async function readMirrorLease(client: KubeClient): Promise<LeaseFacts | undefined> {
  const l = await client.get<V1Lease>(R.leases, SYSTEM_NAMESPACE, MIRROR_LEASE_NAME);
  if (!l) return undefined;
  const renew = l.spec?.renewTime as unknown;
  return {
    ...(l.spec?.holderIdentity ? { holder: l.spec.holderIdentity } : {}),
    // client-node types MicroTime as Date; the wire (and our client) gives a string.
    ...(renew ? { renewTime: renew instanceof Date ? renew.toISOString() : String(renew) } : {}),
    ...(l.spec?.leaseDurationSeconds ? { leaseDurationSeconds: l.spec.leaseDurationSeconds } : {}),
  };
}

/**
 * The TrafficSplits the failover controller acts on: labelled with the install's
 * `--failover-controlled-by` value, or steer-only.
 */
async function readFailoverSplits(
  client: KubeClient,
  recorded: Promise<string | undefined>,
): Promise<TrafficSplit[]> {
  const controlledBy = (await recorded) ?? FAILOVER_CONTROLLED_BY_DEFAULT;
  const { items } = await client.list<TrafficSplit>(R.trafficSplitsV1alpha2);
  return items.filter((s) => splitMode(s, controlledBy) !== null);
}

/**
 * Whether the TrafficSplit CRD has a status subresource in any served version (the failover
 * controller writes through v1alpha2, or v1alpha1 for weights that are quantities); undefined: no
 * such CRD. Linkerd's SMI extension's has none, and then no split has a status to check.
 */
export async function readTrafficSplitStatusSubresource(client: KubeClient): Promise<boolean | undefined> {
  const crd = await client.get<KubeObject & { spec?: { versions?: CrdVersion[] } }>(
    R.crds,
    undefined,
    TRAFFIC_SPLIT_CRD,
  );
  if (!crd) return undefined;
  return (crd.spec?.versions ?? []).some((v) => v.served && v.subresources?.status != null);
}

type CrdVersion = { served?: boolean; subresources?: { status?: object | null } };

/** The install's `--failover-controlled-by`, as `isthmus install` recorded it; else the default. */
export async function installedControlledBy(client: KubeClient): Promise<string> {
  return (await recordedControlledBy(client)) ?? FAILOVER_CONTROLLED_BY_DEFAULT;
}

/** The `--failover-controlled-by` the install recorded; undefined when none is (or the record is unreadable). */
async function recordedControlledBy(client: KubeClient): Promise<string | undefined> {
  const record = await client
    .get<V1ConfigMap>(R.configMaps, SYSTEM_NAMESPACE, INSTALL_RECORD_CONFIGMAP)
    .catch(() => undefined);
  return recordedFlag(record, 'failover-controlled-by');
}

/** A value flag from the install record; undefined when absent or the record is unreadable (upgrade says why). */
function recordedFlag(record: V1ConfigMap | undefined, flag: string): string | undefined {
  try {
    const value = (parse(record?.data?.flags ?? '') as Record<string, unknown> | null)?.[flag];
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What the install's namespace says of it: whether it is there at all, whether it has a gateway
 * (only the label `isthmus install --no-gateway` puts there says no) and this cluster's name. A
 * namespace that cannot be read is taken as the default install, and the checks that need it say
 * what they could not read.
 */
async function installFacts(
  client: KubeClient,
): Promise<Pick<CheckFacts, 'installNamespace' | 'gatewayInstalled' | 'localCluster'>> {
  let ns: V1Namespace | undefined;
  let installNamespace: CheckFacts['installNamespace'];
  try {
    ns = await client.get<V1Namespace>(R.namespaces, undefined, SYSTEM_NAMESPACE);
    const state = !ns ? 'absent' : ns.metadata?.deletionTimestamp ? 'terminating' : 'active';
    installNamespace = { ok: true, value: state };
  } catch (err) {
    installNamespace = { ok: false, error: describeError(err) };
  }
  const labels = ns?.metadata?.labels ?? {};
  const localCluster = labels[INSTALL_CLUSTER_NAME_LABEL];
  return {
    installNamespace,
    gatewayInstalled: labels[INSTALL_GATEWAY_LABEL] !== 'false',
    ...(localCluster ? { localCluster } : {}),
  };
}

export async function gatherFacts(client: KubeClient, options: GatherOptions = {}): Promise<CheckFacts> {
  const opts: Required<GatherOptions> = {
    remoteTimeoutMs: options.remoteTimeoutMs ?? 5000,
    clientFromSecret: options.clientFromSecret ?? defaultClientFromSecret,
  };
  const install = await installFacts(client);
  const { gatewayInstalled } = install;
  const crds = fetched(async () => {
    const found = await Promise.all(REQUIRED_CRDS.map((name) => client.get(R.crds, undefined, name)));
    return Object.fromEntries(REQUIRED_CRDS.map((name, i) => [name, found[i] !== undefined]));
  });
  const allLinks = fetched(async () => {
    const { items } = await client.list<Link>(R.links, { namespace: SYSTEM_NAMESPACE });
    return items;
  });
  // A Link being deleted is its own state: its credentials, grants and gateway no longer matter.
  const links = allLinks.then((all): Promise<Fetched<LinkFacts[]>> | Fetched<LinkFacts[]> =>
    !all.ok
      ? all
      : fetched(() =>
          Promise.all(
            all.value
              .filter((link) => !isBeingDeleted(link))
              .map(
                async (link): Promise<LinkFacts> => ({
                  link,
                  ...(await linkCredentials(client, link, opts)),
                  // An invalid Link (the Links check says why) has no address worth a handshake.
                  ...(link.spec.gatewayAddress === undefined || !parseLinkSpec(link).ok
                    ? {}
                    : { gatewayChain: await gatewayChain(link, opts.remoteTimeoutMs) }),
                }),
              ),
          ),
        ),
  );
  const linkObjects = fetched(() => readLinkObjects(client));
  const allowLists = fetched(() => readAllowLists(client));
  const lease = fetched(() => readMirrorLease(client));
  const controllerPods = fetched(() => deploymentPods(client, 'isthmus-controller'));
  const mirrors = fetched(async () => {
    const [services, slices] = await Promise.all([
      client.list<V1Service>(R.services, { labelSelector: `${MIRRORED_SERVICE_LABEL}=true` }),
      client.list<V1EndpointSlice>(R.endpointSlices, {
        labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_MIRROR}`,
      }),
    ]);
    return mirrorFacts(services.items, slices.items);
  });
  const anchorPem = fetched(async () => {
    const cm = await client.get<V1ConfigMap>(R.configMaps, SYSTEM_NAMESPACE, 'isthmus-trust-anchor');
    const pem = cm?.data?.['ca.crt'];
    if (!pem) throw new Error(cm ? 'no ca.crt in the ConfigMap' : 'ConfigMap not found');
    return pem;
  });
  const issuerPem = fetched(async () => {
    const secret = await client.get<V1Secret>(R.secrets, SYSTEM_NAMESPACE, 'isthmus-issuer');
    const b64 = secret?.data?.['tls.crt'];
    if (!b64) throw new Error(secret ? 'no tls.crt in the Secret' : 'Secret not found');
    // cert-manager (--external-issuer) writes the issuer followed by its CA: the issuer is the first.
    const pem = Buffer.from(b64, 'base64').toString('utf8');
    return splitPem(pem)[0] ?? pem;
  });
  const crlPem = fetched(async () => {
    const cm = await client.get<V1ConfigMap>(R.configMaps, SYSTEM_NAMESPACE, CRL_CONFIGMAP);
    if (!cm) return undefined;
    const pem = cm.data?.['crl.pem'];
    if (pem === undefined) throw new Error('no crl.pem in the ConfigMap');
    return pem;
  });
  const localGatewayChain = Promise.all([crlPem, anchorPem]).then(([crl, anchor]) =>
    needsLocalGatewayChain(gatewayInstalled, crl, anchor)
      ? readLocalGatewayChain(client, opts.remoteTimeoutMs)
      : undefined,
  );
  // Every replica's, where the handshake above sees the one the load balancer picks: through the
  // pod proxy, so always (it dials nothing outside the API server).
  const gatewayPodChains = gatewayInstalled
    ? fetched(() => readGatewayCertificates(client, opts.remoteTimeoutMs))
    : undefined;
  // A file a pod refused against the list it holds looks fine on its own: each pod's gauge says.
  const crlFileStates = gatewayInstalled
    ? fetched(() => readCrlFileStates(client, opts.remoteTimeoutMs))
    : undefined;
  const deployments = fetched(() => readDeployments(client, opts.remoteTimeoutMs));
  const denied = fetched(async () => {
    const linked = await links;
    const secrets = linked.ok ? linked.value.map((l) => l.link.spec.clusterCredentialsSecret) : [];
    // A gateway started with --dial-pod-ips-only needs its pods grant too.
    const podIPsOnly = gatewayInstalled && gatewayDialsPodIPsOnly({ deployments: await deployments });
    return deniedPermissions(client, SYSTEM_NAMESPACE, gatewayInstalled, secrets, podIPsOnly);
  });
  const createNamespaces = fetched(() => controllerMayCreateNamespaces(client, SYSTEM_NAMESPACE));
  const endpointWriters = fetched(() => readEndpointWriters(client));
  const gatewayListeners = fetched(() => readGatewayListeners(client, opts.remoteTimeoutMs));
  const federated = fetched(() => readFederatedRows(client));
  const recorded = recordedControlledBy(client);
  const trafficSplits = fetched(() => readFailoverSplits(client, recorded));
  const trafficSplitStatus = fetched(() => readTrafficSplitStatusSubresource(client));
  const podVersions = fetched(() => readComponentVersions(client));
  // What a move from Linkerd multicluster left behind (linkerd-leftovers.ts).
  const foreignMirrors = fetched(() => readForeignMirrors(client));
  const linkerdLinks = fetched(() => readLinkerdLinks(client));
  const foreignSlices = mirrors.then((m) => (m.ok ? fetched(() => readForeignSlices(client, m.value)) : m));
  const labelledSplits = fetched(() => readLabelledSplits(client));
  const linkerdFailover = fetched(() => readLinkerdFailover(client));
  const apiNow = serverTime(client).catch(() => undefined);
  const serverNow = await apiNow;
  return {
    now: new Date(),
    ...(serverNow ? { apiNow: serverNow } : {}),
    ...install,
    crds: await crds,
    links: await links,
    ...(await allLinks.then((all) =>
      all.ok ? { linksBeingDeleted: all.value.filter(isBeingDeleted) } : {},
    )),
    linkObjects: await linkObjects,
    allowLists: await allowLists,
    // Read only when an export names the clusters it admits: what they are checked against.
    ...(await allowLists.then(async (lists) =>
      lists.ok && lists.value.length > 0
        ? { gatewayAdmission: await fetched(() => readGatewayAdmission(client)) }
        : {},
    )),
    lease: await lease,
    controllerPods: await controllerPods,
    mirrors: await mirrors,
    anchorPem: await anchorPem,
    issuerPem: await issuerPem,
    crlPem: await crlPem,
    ...(await localGatewayChain.then((chain) => (chain ? { localGatewayChain: chain } : {}))),
    ...(gatewayPodChains ? { gatewayPodChains: await gatewayPodChains } : {}),
    ...(crlFileStates ? { crlFileStates: await crlFileStates } : {}),
    deniedPermissions: await denied,
    controllerMayCreateNamespaces: await createNamespaces,
    endpointWriters: await endpointWriters,
    gatewayListeners: await gatewayListeners,
    federated: await federated,
    trafficSplits: await trafficSplits,
    trafficSplitStatusSubresource: await trafficSplitStatus,
    deployments: await deployments,
    podVersions: await podVersions,
    foreignMirrors: await foreignMirrors,
    linkerdLinks: await linkerdLinks,
    foreignSlices: await foreignSlices,
    labelledSplits: await labelledSplits,
    linkerdFailover: await linkerdFailover,
    ...(await recorded.then((value) => (value ? { recordedControlledBy: value } : {}))),
  };
}

/**
 * The Services here that admit only the clusters they name: the gateway reads the annotation on any
 * Service (src/gateway/watch-exports.ts), whichever label a consumer's Link selects it by.
 */
async function readAllowLists(client: KubeClient): Promise<AllowList[]> {
  const { items } = await client.list<V1Service>(R.services);
  return items.flatMap((s) => {
    const entries = allowedClustersOf(s.metadata?.annotations);
    return entries === undefined
      ? []
      : [
          {
            namespace: s.metadata?.namespace ?? '',
            name: s.metadata?.name ?? '',
            entries,
            ...(s.metadata?.labels?.[EXPORTED_LABEL] === REMOTE_DISCOVERY_EXPORT
              ? { remoteDiscovery: true }
              : {}),
          },
        ];
  });
}

/** What each default editor ClusterRole lets one write of Endpoints and EndpointSlices (absent roles: none). */
export async function readEndpointWriters(client: KubeClient): Promise<Record<string, string[]>> {
  const roles = await Promise.all(
    EDITOR_ROLES.map(
      async (name) => [name, await client.get<V1ClusterRole>(R.clusterRoles, undefined, name)] as const,
    ),
  );
  return Object.fromEntries(
    roles
      .filter(([, role]) => role !== undefined)
      .map(([name, role]) => [name, endpointWrites(role?.rules ?? [])]),
  );
}
