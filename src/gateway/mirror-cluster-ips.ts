/**
 * A Service's ClusterIPs, which the ingress never dials when kube-proxy forwards them to a gateway
 * (loop-cluster-ips.ts: a mirror's among them, MIRROR_CLUSTER_IP_REFUSAL), and the mirrors the
 * egress follows: the mirror informer holds every mirror, and `gatewayMirrorsOnly` keeps the
 * remote-discovery ones out of the egress.
 */
import { isIP } from 'node:net';
import { MIRRORED_SERVICE_LABEL, REMOTE_DISCOVERY_LABEL } from '../kube/keys.js';
import type { V1Service } from '../kube/types.js';
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
 * The label selector of the mirror informer: every mirror Service, remote-discovery ones too (the
 * egress hears of a mirror that became one, and leaves it).
 */
export const MIRROR_SELECTOR = `${MIRRORED_SERVICE_LABEL}=true`;

/**
 * `mirrors` without its remote-discovery mirrors, which point at remote pods directly: no egress
 * listener to open (watch-mirrors.ts). An event of a mirror outside the view comes as its `delete`,
 * as the view sees it: the watcher hears that a mirror which became remote-discovery left, and a
 * write to one that already was changes nothing it reads (no admission pass).
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
    onEvent: (listener) =>
      mirrors.onEvent((e) => listener(gatewayMirror(e.object) ? e : { type: 'delete', object: e.object })),
  };
}
