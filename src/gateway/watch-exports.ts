/**
 * Feeds the ingress's ServiceIndex from the informers of the gateway's own cluster: admitted
 * Services (exported ones by the export selector, `mirror.linkerd.io/exported=true` by default, and
 * federated members by the federated selector, joined by union-source.ts) and EndpointSlices
 * (every slice labelled `kubernetes.io/service-name` except those Isthmus writes: NOT_ISTHMUS_SLICES). The conversions are pure and table-tested;
 * the watcher is level-triggered: each event re-reads the informer cache for that key, so a missed
 * or reordered event is healed by the next one or by a relist.
 */
import { isIP } from 'node:net';
import {
  allowedClustersOf,
  GATEWAY_SERVICE_NAME,
  NOT_ISTHMUS_SLICES,
  SERVICE_NAME_LABEL,
  SYSTEM_NAMESPACE,
} from '../kube/keys.js';
import type { V1EndpointSlice, V1Service } from '../kube/types.js';
import type { EndpointView, ExportedService, ServiceIndex } from './service-index.js';
/**
 * What the watchers need of src/kube's `Informer<T>`: the cache and its change events. Structural,
 * so unit tests drive the watchers with a plain in-memory stand-in.
 */
export interface WatchSource<T> {
  list(): T[];
  get(namespace: string | undefined, name: string): T | undefined;
  /** Returns an unsubscribe function. */
  onEvent(listener: (event: { type: 'add' | 'update' | 'delete'; object: T }) => void): () => void;
}

export function toExportedService(svc: V1Service): ExportedService | null {
  const namespace = svc.metadata?.namespace;
  const name = svc.metadata?.name;
  if (!namespace || !name) return null;
  const ports = (svc.spec?.ports ?? []).map((p) => {
    const port: ExportedService['ports'][number] = { port: p.port };
    if (p.name) port.name = p.name;
    if (p.protocol) port.protocol = p.protocol;
    return port;
  });
  const allowedClusters = allowedClustersOf(svc.metadata?.annotations);
  return {
    namespace,
    name,
    ports,
    headless: svc.spec?.clusterIP === 'None',
    ...(allowedClusters ? { allowedClusters } : {}),
  };
}

export interface SliceEndpoints {
  namespace: string;
  service: string;
  slice: string;
  endpoints: EndpointView[];
}

/**
 * The endpoints of one EndpointSlice, or null when the slice belongs to no Service. Per the
 * discovery.k8s.io/v1 API reference:
 * - `conditions.ready` absent means ready ("a nil value should be interpreted as true"); `serving`
 *   and `terminating` do not change that (a terminating endpoint is published with ready=false),
 *   but a not-ready endpoint that is both is marked: resolve falls back to those when nothing is
 *   ready, as kube-proxy does;
 * - `addresses` are fungible and "clients may choose to only use the first element", as kube-proxy
 *   does, so one view per endpoint with its first address;
 * - a slice port with no `port` number means "unrestricted" and cannot be dialled: it is skipped;
 * - as kube-proxy, only IP addresses of IPv4 and IPv6 slices count: an FQDN slice (or a name in
 *   an address) would have the gateway resolve and dial whatever a name points at.
 */
export function toEndpointViews(slice: V1EndpointSlice): SliceEndpoints | null {
  const namespace = slice.metadata?.namespace;
  const name = slice.metadata?.name;
  const service = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
  if (!namespace || !name || !service) return null;
  const family = slice.addressType === 'IPv4' ? 4 : slice.addressType === 'IPv6' ? 6 : 0;
  const ports: EndpointView['ports'] = [];
  for (const p of slice.ports ?? []) {
    if (typeof p.port !== 'number') continue;
    ports.push(p.name ? { name: p.name, port: p.port } : { port: p.port });
  }
  const endpoints: EndpointView[] = [];
  for (const ep of slice.endpoints ?? []) {
    const address = ep.addresses?.[0];
    if (address === undefined || family === 0 || isIP(address) !== family) continue;
    const ready = ep.conditions?.ready !== false;
    const view: EndpointView = { address, ready, ports };
    if (ep.hostname) view.hostname = ep.hostname;
    // kube-proxy: `serving` absent means what `ready` says, `terminating` absent means false.
    if (!ready && ep.conditions?.serving === true && ep.conditions.terminating === true)
      view.servingTerminating = true;
    endpoints.push(view);
  }
  return { namespace, service, slice: name, endpoints };
}

/**
 * The label selector of the EndpointSlice informer: any slice that belongs to a Service and lists
 * its pods, never one Isthmus wrote (NOT_ISTHMUS_SLICES): the ingress never re-tunnels.
 */
export const SLICE_SELECTOR = `${SERVICE_NAME_LABEL},${NOT_ISTHMUS_SLICES}`;

/**
 * The API server's Service: its EndpointSlices list the API servers' own addresses (written by
 * kube-apiserver's endpoint reconciler, labelled `kubernetes.io/service-name=kubernetes`, so the
 * slice informer of SLICE_SELECTOR, cluster-wide, holds them).
 */
export const API_SERVER_SERVICE = { namespace: 'default', name: 'kubernetes' } as const;

/** Every address of an EndpointSlice of `default/kubernetes`, ready or not; null for any other slice. */
export function apiServerAddresses(slice: V1EndpointSlice): string[] | null {
  if (slice.metadata?.namespace !== API_SERVER_SERVICE.namespace) return null;
  if (slice.metadata.labels?.[SERVICE_NAME_LABEL] !== API_SERVER_SERVICE.name) return null;
  return (slice.endpoints ?? []).flatMap((ep) => ep.addresses ?? []);
}

/**
 * The ClusterIP of `default/kubernetes` as the kubelet gives it to every container
 * (KUBERNETES_SERVICE_HOST); none outside a pod (the lab's gateways).
 */
export function apiServerClusterIPs(env: NodeJS.ProcessEnv = process.env): string[] {
  const host = env.KUBERNETES_SERVICE_HOST;
  return host !== undefined && isIP(host) !== 0 ? [host] : [];
}

/**
 * The Services whose endpoints are this cluster's gateway pods, as the install names them
 * (src/cli/install/workloads.ts): the ingress's LoadBalancer and the admin Service. The slice
 * informer (SLICE_SELECTOR, cluster-wide) holds their slices, written by kube's EndpointSlice
 * controller.
 */
export const GATEWAY_SERVICES = {
  namespace: SYSTEM_NAMESPACE,
  names: [GATEWAY_SERVICE_NAME, `${GATEWAY_SERVICE_NAME}-admin`],
} as const;

/**
 * Every address of an EndpointSlice of one of `gateways`' Services, ready or not (a gateway pod
 * draining, or not ready yet, still listens); null for any other slice.
 */
export function gatewayPodAddresses(
  slice: V1EndpointSlice,
  gateways: { namespace: string; names: readonly string[] } = GATEWAY_SERVICES,
): string[] | null {
  if (slice.metadata?.namespace !== gateways.namespace) return null;
  const service = slice.metadata.labels?.[SERVICE_NAME_LABEL];
  if (service === undefined || !gateways.names.includes(service)) return null;
  return (slice.endpoints ?? []).flatMap((ep) => ep.addresses ?? []);
}

export interface FeedOptions {
  /** The `kubernetes` Service's ClusterIPs, never dialled. Default: apiServerClusterIPs(). */
  apiServerClusterIPs?: readonly string[];
  /**
   * The Services of this cluster's gateway pods, whose addresses are never dialled (a tunnel loop).
   * Default: GATEWAY_SERVICES (the gateway's --system-namespace, when it is another, goes here).
   */
  gatewayServices?: { namespace: string; names: readonly string[] };
}

/**
 * Keeps `index` equal to what the two informers hold, and tells it the API server's addresses (the
 * `default/kubernetes` slices the slice informer holds, and the ClusterIP) and this cluster's
 * gateway pods' (the slices of `gatewayServices`), which it never dials.
 * Returns an unsubscribe function; the informers' lifecycle (start/stop) belongs to the caller.
 */
export function feedServiceIndex(
  index: ServiceIndex,
  services: WatchSource<V1Service>,
  slices: WatchSource<V1EndpointSlice>,
  options: FeedOptions = {},
): () => void {
  const clusterIPs = options.apiServerClusterIPs ?? apiServerClusterIPs();
  const apiServerSlices = new Map<string, string[]>();
  const syncApiServer = (name: string, current: V1EndpointSlice | undefined): void => {
    const addresses = current === undefined ? null : apiServerAddresses(current);
    if (addresses !== null) apiServerSlices.set(name, addresses);
    else if (!apiServerSlices.delete(name)) return;
    index.setApiServerAddresses([...clusterIPs, ...[...apiServerSlices.values()].flat()]);
  };
  index.setApiServerAddresses(clusterIPs);
  const gateways = options.gatewayServices ?? GATEWAY_SERVICES;
  const gatewaySlices = new Map<string, string[]>();
  const syncGateways = (name: string, current: V1EndpointSlice | undefined): void => {
    const addresses = current === undefined ? null : gatewayPodAddresses(current, gateways);
    if (addresses !== null) gatewaySlices.set(name, addresses);
    else if (!gatewaySlices.delete(name)) return;
    index.setGatewayAddresses([...gatewaySlices.values()].flat());
  };

  // Slices carry the service name only in a label, so remember where each slice was filed: a
  // delete (or a relabel) must remove it from the service it was filed under.
  const filedUnder = new Map<string, string>();

  const syncService = (namespace: string, name: string): void => {
    const current = services.get(namespace, name);
    const exported = current === undefined ? null : toExportedService(current);
    if (exported === null) index.removeService(namespace, name);
    else index.upsertService(exported);
  };

  const syncSlice = (namespace: string, name: string): void => {
    const key = `${namespace}/${name}`;
    const current = slices.get(namespace, name);
    if (namespace === API_SERVER_SERVICE.namespace) syncApiServer(name, current);
    if (namespace === gateways.namespace) syncGateways(name, current);
    const view = current === undefined ? null : toEndpointViews(current);
    const previous = filedUnder.get(key);
    if (previous !== undefined && previous !== view?.service) {
      index.removeSlice(namespace, previous, name);
      filedUnder.delete(key);
    }
    if (view !== null) {
      index.setSliceEndpoints(namespace, view.service, name, view.endpoints);
      filedUnder.set(key, view.service);
    }
  };

  const offServices = services.onEvent((ev) => {
    const { namespace, name } = ev.object.metadata ?? {};
    if (namespace && name) syncService(namespace, name);
  });
  const offSlices = slices.onEvent((ev) => {
    const { namespace, name } = ev.object.metadata ?? {};
    if (namespace && name) syncSlice(namespace, name);
  });
  // Whatever the caches already hold (subscribing after the initial list is allowed).
  for (const svc of services.list()) syncService(svc.metadata?.namespace ?? '', svc.metadata?.name ?? '');
  // The API server's and the gateways' slices first: no other slice is admitted with an address
  // refused a moment later.
  const refusing = (s: V1EndpointSlice): number =>
    Number(apiServerAddresses(s) !== null || gatewayPodAddresses(s, gateways) !== null);
  const listed = slices.list().sort((a, b) => refusing(b) - refusing(a));
  for (const s of listed) syncSlice(s.metadata?.namespace ?? '', s.metadata?.name ?? '');

  return () => {
    offServices();
    offSlices();
  };
}
