/**
 * `--dial-pod-ips-only` (docs/design.md, "What the ingress dials"): an endpoint of an exported
 * Service in namespace N is dialled only when it is the IP of a live Pod of N. An EndpointSlice
 * (or the Endpoints that kube mirrors into one) is anyone's to write who may edit N, its
 * `managed-by` label included; a Pod's `status.podIPs` is written by the kubelet through
 * `pods/status`, which tenants do not hold. So a tenant can point the gateway only at its own pods.
 *
 * Pure data and decisions; the Pod informer feeding them lives in watch-pods.ts.
 */
import { isIP } from 'node:net';
import type { KubeObject } from '../kube/types.js';
import { ipBytes } from '../kube/validation/ip-bytes.js';

/** What the gateway keeps of a Pod (trimPod): enough for podDialAddresses and the informer's cache. */
export interface PodAddresses extends KubeObject {
  spec?: { hostNetwork?: boolean };
  status?: { phase?: string; podIP?: string; podIPs?: { ip: string }[] };
}

/**
 * The informer's transform (client-go's SetTransform): a cluster's Pods are the largest cache a
 * gateway would hold, and their specs and statuses are mostly containers and conditions that
 * nothing here reads. `status.podIP` is folded into `podIPs` (the kubelet writes both, podIPs[0]
 * being podIP).
 */
export function trimPod(pod: PodAddresses): PodAddresses {
  const { name, namespace, resourceVersion } = pod.metadata ?? {};
  const status = pod.status ?? {};
  const podIPs = status.podIPs ?? (status.podIP ? [{ ip: status.podIP }] : undefined);
  return {
    metadata: { namespace, name, resourceVersion },
    ...(pod.spec?.hostNetwork ? { spec: { hostNetwork: true } } : {}),
    status: {
      ...(status.phase === undefined ? {} : { phase: status.phase }),
      ...(podIPs === undefined ? {} : { podIPs: podIPs.map(({ ip }) => ({ ip })) }),
    },
  };
}

/** Pod phases after which the kubelet has released the pod's sandbox, and its IP with it. */
const TERMINAL_PHASES: ReadonlySet<string> = new Set(['Succeeded', 'Failed']);

/**
 * The addresses `pod` vouches for in its namespace: its `status.podIPs` (or `podIP`), unless
 *
 * - it is terminal (Succeeded, Failed): the network plugin frees its IP, which the next pod
 *   scheduled on the node may get, in any namespace (a Job's pods stay listed for hours);
 * - it is `hostNetwork`: its IP is the node's, shared with every host-network pod of every
 *   namespace on that node and with the node's own services (the kubelet, for one).
 *
 * A pod being deleted (`deletionTimestamp`) keeps its addresses until it is gone or terminal, as
 * kube's EndpointSlice controller keeps it listed (`terminating`, `serving` while it passes its
 * readiness probe) and the ingress, as kube-proxy, falls back to such endpoints when nothing is
 * ready (KEP-1669). Its IP stays its own until its sandbox is torn down, which the kubelet reports
 * as a terminal phase before the final delete. Dropping it earlier would refuse the last pods of a
 * rollout that the ingress is meant to keep serving. A Pending pod with an IP counts too: the
 * endpoint controller lists it (not ready), and its IP is its own already.
 */
export function podDialAddresses(pod: PodAddresses): string[] {
  if (pod.spec?.hostNetwork === true) return [];
  const status = pod.status ?? {};
  if (status.phase !== undefined && TERMINAL_PHASES.has(status.phase)) return [];
  const ips = status.podIPs?.map((p) => p.ip) ?? (status.podIP ? [status.podIP] : []);
  return ips.filter((ip) => isIP(ip) !== 0);
}

/**
 * One spelling per address, compared as an address as `dialRefusal`'s BlockList compares them:
 * `FD00:10::0007` is `fd00:10::7`, and an IPv4-mapped IPv6 (`::ffff:10.1.2.3`, which Node dials as
 * IPv4) is its IPv4 address. Empty for anything that is not an IP address.
 */
export function ipKey(address: string): string {
  const bytes = ipBytes(address);
  if (bytes === undefined) return '';
  return bytes.length === 4 ? bytes.join('.') : bytes.map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** What the ServiceIndex asks of the Pods, in `--dial-pod-ips-only` mode. */
export interface PodIPLookup {
  /** False until the Pods have been listed once: nothing is dialled before. */
  readonly listed: boolean;
  /** Whether `address` is the IP of a live Pod of `namespace` (podDialAddresses); false until listed. */
  has(namespace: string, address: string): boolean;
  /** The namespaces whose live Pods claim `address`, sorted. */
  claimants(address: string): string[];
}

/**
 * The live Pod IPs of every namespace. An address is counted per pod that claims it: two pods may
 * claim one for a moment (a status not yet updated), and it stays until neither does.
 */
export class PodIPBook implements PodIPLookup {
  private readonly byNamespace = new Map<string, Map<string, number>>();
  /** `namespace/name` → the keys that pod claims, to diff its next state against. */
  private readonly byPod = new Map<string, readonly string[]>();
  /** ipKey → the namespaces holding it in byNamespace: more than one while an IP is being reused. */
  private readonly namespacesOf = new Map<string, Set<string>>();
  private isListed = false;

  get listed(): boolean {
    return this.isListed;
  }

  markListed(): void {
    this.isListed = true;
  }

  /**
   * Only while no Pod of another namespace claims it too. The kubelet frees a Pod's IP (its
   * sandbox's teardown) before it reports the Pod terminal, and the watch adds its own delay, so a
   * new Pod of another namespace on that node may hold the IP while the old one still counts here:
   * dialling it for the old namespace's slice would reach the other namespace.
   */
  has(namespace: string, address: string): boolean {
    if (!this.isListed) return false;
    const key = ipKey(address);
    const owners = this.namespacesOf.get(key);
    return key !== '' && owners?.size === 1 && owners.has(namespace);
  }

  claimants(address: string): string[] {
    return [...(this.namespacesOf.get(ipKey(address)) ?? [])].sort();
  }

  /** Number of addresses held, all namespaces together (for tests). */
  size(): number {
    let n = 0;
    for (const ips of this.byNamespace.values()) n += ips.size;
    return n;
  }

  /**
   * Records the addresses pod `namespace/name` vouches for now ([] once it is gone); returns the
   * keys (ipKey) of the namespace that appeared or disappeared.
   */
  setPod(namespace: string, name: string, addresses: readonly string[]): Set<string> {
    const podKey = `${namespace}/${name}`;
    const before = this.byPod.get(podKey) ?? [];
    const after = [...new Set(addresses.map(ipKey).filter((k) => k !== ''))];
    if (after.length > 0) this.byPod.set(podKey, after);
    else this.byPod.delete(podKey);
    const changed = new Set<string>();
    let ips = this.byNamespace.get(namespace);
    for (const key of before) {
      if (after.includes(key) || !ips) continue;
      const n = (ips.get(key) ?? 1) - 1;
      if (n > 0) ips.set(key, n);
      else {
        ips.delete(key);
        this.namespacesOf.get(key)?.delete(namespace);
        if (this.namespacesOf.get(key)?.size === 0) this.namespacesOf.delete(key);
        changed.add(key);
      }
    }
    for (const key of after) {
      if (before.includes(key)) continue;
      if (!ips) {
        ips = new Map();
        this.byNamespace.set(namespace, ips);
      }
      const n = ips.get(key) ?? 0;
      ips.set(key, n + 1);
      if (n === 0) {
        const owners = this.namespacesOf.get(key) ?? new Set<string>();
        owners.add(namespace);
        this.namespacesOf.set(key, owners);
        changed.add(key);
      }
    }
    if (ips?.size === 0) this.byNamespace.delete(namespace);
    return changed;
  }
}

/** Why `--dial-pod-ips-only` refuses `address` of a Service in `namespace`, or null. */
export function podIPRefusal(address: string, namespace: string, pods: PodIPLookup): string | null {
  if (pods.has(namespace, address)) return null;
  const owners = pods.claimants(address);
  if (owners.length > 1 && owners.includes(namespace))
    return `${address} is claimed by Pods of namespaces ${owners.join(', ')} at once (an IP being reused): dialled for none until one lets it go`;
  return `${address} is not (or not yet) the IP of a running Pod in namespace ${namespace}`;
}
