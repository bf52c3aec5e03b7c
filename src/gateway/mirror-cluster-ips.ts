/**
 * The ClusterIPs of this cluster's mirror Services, fed to the ingress's ServiceIndex, which never
 * dials them (dial-refusal.ts, MIRROR_CLUSTER_IP_REFUSAL): kube-proxy forwards a mirror's ClusterIP
 * to this cluster's gateway egress, so an exported Service's slice listing one would chain tunnels
 * through the gateways. Fed from the informer of the mirrors the egress follows, widened to
 * remote-discovery mirrors (`gatewayMirrorsOnly` keeps those out of the egress).
 */
import { isIP } from 'node:net';
import { MIRRORED_SERVICE_LABEL, REMOTE_DISCOVERY_LABEL } from '../kube/keys.js';
import type { V1Service } from '../kube/types.js';
import type { ServiceIndex } from './service-index.js';
import type { WatchSource } from './watch-exports.js';

/**
 * Every ClusterIP of `svc`: each entry of `spec.clusterIPs` (dual-stack) and `spec.clusterIP`,
 * addresses only (a headless Service's `None` is none).
 */
export function clusterIPsOf(svc: V1Service): string[] {
  const spec = svc.spec ?? {};
  const all = [...(spec.clusterIPs ?? []), ...(spec.clusterIP === undefined ? [] : [spec.clusterIP])];
  return [...new Set(all)].filter((ip) => isIP(ip) !== 0);
}

/**
 * Keeps `index`'s mirror ClusterIPs equal to those of what `mirrors` holds, from when `listed`
 * resolves (the informer's first list: until then the index dials nothing, awaitMirrorClusterIPs).
 * Level-triggered: each event re-reads the cache for its key; the index is told only when a
 * mirror's addresses change (ClusterIPs are immutable: when a mirror comes or goes).
 * Returns an unsubscribe function; the informer's lifecycle belongs to the caller.
 */
export function feedMirrorClusterIPs(
  index: Pick<ServiceIndex, 'setMirrorClusterIPs'>,
  mirrors: WatchSource<V1Service>,
  listed: Promise<unknown>,
): () => void {
  const byMirror = new Map<string, readonly string[]>();
  let stopped = false;
  let isListed = false;
  const tell = (): void => {
    if (isListed && !stopped) index.setMirrorClusterIPs([...byMirror.values()].flat());
  };
  /** Re-reads one mirror; true when its addresses changed. */
  const sync = (namespace: string, name: string): boolean => {
    const k = `${namespace}/${name}`;
    const current = mirrors.get(namespace, name);
    const ips = current === undefined ? [] : clusterIPsOf(current);
    if ((byMirror.get(k) ?? []).join() === ips.join()) return false;
    if (ips.length === 0) byMirror.delete(k);
    else byMirror.set(k, ips);
    return true;
  };
  const off = mirrors.onEvent((ev) => {
    const { namespace, name } = ev.object.metadata ?? {};
    if (namespace && name && sync(namespace, name)) tell();
  });
  listed
    .then(() => {
      for (const m of mirrors.list()) sync(m.metadata?.namespace ?? '', m.metadata?.name ?? '');
      isListed = true;
      tell();
    })
    .catch(() => {});
  return () => {
    stopped = true;
    off();
  };
}

/** The label selector of the mirror informer: every mirror Service, remote-discovery ones too. */
export const MIRROR_SELECTOR = `${MIRRORED_SERVICE_LABEL}=true`;

/**
 * `mirrors` without its remote-discovery mirrors, which point at remote pods directly: no egress
 * listener to open (watch-mirrors.ts). Every event still passes: the mirror watcher re-reads the
 * list on each one, and a mirror that became remote-discovery must leave the egress.
 */
export function gatewayMirrorsOnly(mirrors: WatchSource<V1Service>): WatchSource<V1Service> {
  const gatewayMirror = (svc: V1Service | undefined): svc is V1Service =>
    svc !== undefined && svc.metadata?.labels?.[REMOTE_DISCOVERY_LABEL] === undefined;
  return {
    list: () => mirrors.list().filter(gatewayMirror),
    get: (namespace, name) => {
      const svc = mirrors.get(namespace, name);
      return gatewayMirror(svc) ? svc : undefined;
    },
    onEvent: (listener) => mirrors.onEvent(listener),
  };
}
