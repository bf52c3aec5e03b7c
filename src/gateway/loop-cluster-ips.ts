/**
 * The ClusterIPs of this cluster's Services that kube-proxy forwards to a gateway or to another
 * part of Isthmus, fed to the ingress's ServiceIndex, which never dials them (dial-refusal.ts): an
 * exported Service's slice listing one would chain tunnels through the gateways, cluster to
 * cluster, or open Isthmus's own ports to every linked cluster. Such a Service is
 *
 * - a mirror (labelled): its slices list this cluster's gateway egress, or a remote cluster's pods;
 * - a `<name>-federated` Service (labelled, or filled by the federation controller): its slices list
 *   its members' mirrors' endpoints, that same egress, and remote pods;
 * - a TrafficSplit apex while the failover controller writes its slices: they list the backends'
 *   endpoints, a mirror backend's being the egress. The apex is the user's Service and carries no
 *   mark of ours, so it is told by those slices (their `managed-by` and `kubernetes.io/service-name`
 *   labels, which kube-proxy routes by too), and its ClusterIP read from every Service the gateway
 *   caches, trimmed (trimService): no write to a user's object, and a forged slice can only make its
 *   own namespace's Service refused;
 * - any Service of Isthmus's system namespace (the gateway's LoadBalancer and admin Services, the
 *   identity service): kube-proxy forwards them to the gateway pods, whose addresses are refused,
 *   or to Isthmus's other parts, never a tunnel's target (SYSTEM_SERVICE_CLUSTER_IP_REFUSAL).
 *
 * Decisions are pure (loopReason); feedLoopClusterIPs follows the two informers, level-triggered.
 */
import {
  FEDERATED_SERVICE_LABEL,
  MANAGED_BY_FAILOVER,
  MANAGED_BY_FEDERATION,
  MANAGED_BY_LABEL,
  MIRRORED_SERVICE_LABEL,
  SERVICE_NAME_LABEL,
  SYSTEM_NAMESPACE,
} from '../kube/keys.js';
import type { KubeObject, V1EndpointSlice, V1Service } from '../kube/types.js';
import {
  APEX_CLUSTER_IP_REFUSAL,
  FEDERATED_CLUSTER_IP_REFUSAL,
  MIRROR_CLUSTER_IP_REFUSAL,
  SYSTEM_SERVICE_CLUSTER_IP_REFUSAL,
} from './dial-refusal.js';
import { clusterIPsOf } from './mirror-cluster-ips.js';
import type { ServiceIndex } from './service-index.js';
import { isOwn } from './slice-drain.js';
import type { WatchSource } from './watch-exports.js';

/** What the gateway keeps of every Service of its cluster (trimService). */
export type ServiceClusterIPs = Pick<V1Service, 'metadata' | 'spec'>;

/** The labels loopReason reads: the only ones trimService keeps. */
const LOOP_LABELS = [MIRRORED_SERVICE_LABEL, FEDERATED_SERVICE_LABEL] as const;

/**
 * The Service informer's transform: every Service of the cluster is cached, so only its name, its
 * ClusterIPs and LOOP_LABELS are kept (a Service's ports, selector and annotations are most of it).
 */
export function trimService(svc: V1Service): ServiceClusterIPs {
  const { namespace, name, resourceVersion, labels = {} } = svc.metadata ?? {};
  const kept = LOOP_LABELS.filter((l) => labels[l] !== undefined);
  const { clusterIP, clusterIPs } = svc.spec ?? {};
  return {
    metadata: {
      namespace,
      name,
      resourceVersion,
      ...(kept.length === 0 ? {} : { labels: Object.fromEntries(kept.map((l) => [l, labels[l] as string])) }),
    },
    spec: {
      ...(clusterIP === undefined ? {} : { clusterIP }),
      ...(clusterIPs === undefined ? {} : { clusterIPs: [...clusterIPs] }),
    },
  };
}

/** The slices that make their Service forward to a gateway: a split apex's, a federated Service's. */
export const FORWARDING_SLICE_SELECTOR = `${MANAGED_BY_LABEL} in (${MANAGED_BY_FAILOVER},${MANAGED_BY_FEDERATION})`;

/**
 * A forwarding slice as the gateway caches it: its Service and manager, and of its endpoints only
 * those at this pod's own addresses (none, mostly), which a draining gateway waits for
 * (gateway-shutdown.ts): kube-proxy sends the apex's and the federated Service's callers there too.
 */
export type ForwardingSlice = KubeObject & Partial<Pick<V1EndpointSlice, 'endpoints'>>;

/**
 * The slice informer's transform: which Service a slice belongs to and who wrote it, and the
 * endpoints at one of `own` (slice-drain.ts ownAddresses), each with only those addresses and its
 * ready and serving conditions; not the rest, which every forwarding slice of the cluster would hold.
 */
export function trimForwardingSlice(
  slice: KubeObject,
  own: ReadonlySet<string> = new Set(),
): ForwardingSlice {
  const { namespace, name, resourceVersion, labels = {} } = slice.metadata ?? {};
  const kept = [SERVICE_NAME_LABEL, MANAGED_BY_LABEL].filter((l) => labels[l] !== undefined);
  const endpoints =
    own.size === 0
      ? []
      : ((slice as V1EndpointSlice).endpoints ?? []).flatMap((e) => {
          const addresses = (e.addresses ?? []).filter((a) => isOwn(own, a));
          if (addresses.length === 0) return [];
          const { ready, serving } = e.conditions ?? {};
          const conditions = {
            ...(ready === undefined ? {} : { ready }),
            ...(serving === undefined ? {} : { serving }),
          };
          return [{ addresses, conditions }];
        });
  return {
    metadata: {
      namespace,
      name,
      resourceVersion,
      labels: Object.fromEntries(kept.map((l) => [l, labels[l] as string])),
    },
    ...(endpoints.length === 0 ? {} : { endpoints }),
  };
}

/**
 * Why the ClusterIPs of `svc` are never dialled, or null: it is one of Isthmus's own (in
 * `systemNamespace`), a mirror, a federated Service (by its label, or by `managers`, the
 * `managed-by` of its slices, for one not labelled yet) or an apex the failover controller steers.
 * Labels are read as their selectors read them (`=true`).
 */
export function loopReason(
  svc: ServiceClusterIPs,
  managers: ReadonlySet<string>,
  systemNamespace: string = SYSTEM_NAMESPACE,
): string | null {
  if (svc.metadata?.namespace === systemNamespace) return SYSTEM_SERVICE_CLUSTER_IP_REFUSAL;
  const labels = svc.metadata?.labels ?? {};
  if (labels[MIRRORED_SERVICE_LABEL] === 'true') return MIRROR_CLUSTER_IP_REFUSAL;
  if (labels[FEDERATED_SERVICE_LABEL] === 'true' || managers.has(MANAGED_BY_FEDERATION))
    return FEDERATED_CLUSTER_IP_REFUSAL;
  if (managers.has(MANAGED_BY_FAILOVER)) return APEX_CLUSTER_IP_REFUSAL;
  return null;
}

export interface LoopFeedOptions {
  /** Isthmus's namespace (the gateway's --system-namespace): its Services are never dialled. */
  systemNamespace?: string;
}

/**
 * Keeps `index`'s loop ClusterIPs equal to those `services` and `slices` (FORWARDING_SLICE_SELECTOR)
 * call for, from when `listed` resolves (both informers' first lists: until then the index dials
 * nothing, awaitLoopClusterIPs). Each event re-reads the cache for its key; the index is told only
 * when a Service's refused addresses or reason change (ClusterIPs are immutable: when a Service
 * comes, goes, or starts or stops forwarding). Returns an unsubscribe function; the informers'
 * lifecycle belongs to the caller.
 */
export function feedLoopClusterIPs(
  index: Pick<ServiceIndex, 'setLoopClusterIPs'>,
  services: WatchSource<ServiceClusterIPs>,
  slices: WatchSource<KubeObject>,
  listed: Promise<unknown>,
  { systemNamespace = SYSTEM_NAMESPACE }: LoopFeedOptions = {},
): () => void {
  /** The `managed-by` of each forwarding slice, by its name, of each Service (`namespace/name`). */
  const managersOf = new Map<string, Map<string, string>>();
  /** The Service each forwarding slice (`namespace/slice`) named when last read: its namespace's. */
  const serviceOf = new Map<string, string>();
  /** What is refused of each Service that forwards to a gateway. */
  const loops = new Map<string, { ips: readonly string[]; reason: string }>();
  let stopped = false;
  let isListed = false;
  const tell = (): void => {
    if (!isListed || stopped) return;
    index.setLoopClusterIPs([...loops.values()].flatMap((l) => l.ips.map((ip) => [ip, l.reason] as const)));
  };
  /** Re-reads one Service; true when what is refused of it changed. */
  const syncService = (namespace: string, name: string): boolean => {
    const k = `${namespace}/${name}`;
    const svc = services.get(namespace, name);
    const reason = svc && loopReason(svc, new Set(managersOf.get(k)?.values()), systemNamespace);
    const ips = svc && reason ? clusterIPsOf(svc) : [];
    const before = loops.get(k);
    if ((before?.ips ?? []).join() === ips.join() && (ips.length === 0 || before?.reason === reason))
      return false;
    if (ips.length === 0 || !reason) loops.delete(k);
    else loops.set(k, { ips, reason });
    return true;
  };
  /** Re-reads one slice, then the Services it named before and names now. */
  const syncSlice = (namespace: string, name: string): boolean => {
    const k = `${namespace}/${name}`;
    const labels = slices.get(namespace, name)?.metadata?.labels ?? {};
    const [service, manager] = [labels[SERVICE_NAME_LABEL], labels[MANAGED_BY_LABEL]];
    const before = serviceOf.get(k);
    if (before !== undefined) {
      const managers = managersOf.get(`${namespace}/${before}`);
      managers?.delete(name);
      if (managers?.size === 0) managersOf.delete(`${namespace}/${before}`);
      serviceOf.delete(k);
    }
    if (service && manager) {
      const now = `${namespace}/${service}`;
      serviceOf.set(k, service);
      managersOf.set(now, (managersOf.get(now) ?? new Map()).set(name, manager));
    }
    const beforeChanged = before !== undefined && syncService(namespace, before);
    return (service !== undefined && syncService(namespace, service)) || beforeChanged;
  };
  const on = (sync: (namespace: string, name: string) => boolean) => (ev: { object: KubeObject }) => {
    const { namespace, name } = ev.object.metadata ?? {};
    if (namespace && name && sync(namespace, name)) tell();
  };
  const offs = [slices.onEvent(on(syncSlice)), services.onEvent(on(syncService))];
  listed
    .then(() => {
      const each = (list: KubeObject[], sync: (namespace: string, name: string) => boolean) => {
        for (const o of list) sync(o.metadata?.namespace ?? '', o.metadata?.name ?? '');
      };
      each(slices.list(), syncSlice);
      each(services.list(), syncService);
      isListed = true;
      tell();
    })
    .catch(() => {});
  return () => {
    stopped = true;
    for (const off of offs) off();
  };
}
