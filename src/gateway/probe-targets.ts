/**
 * Which gateways the admin `/probe` may dial: only those a Link in the system namespace names, so
 * that the unauthenticated admin port cannot be used to make the gateway open connections to any
 * address (a port scan from inside the cluster's network). A Link names its remote gateway in
 * `spec.gatewayAddress` (comma-separated) with `spec.gatewayPort`, and the controller writes the
 * remote LoadBalancer's addresses, which it prefers, to `status.gatewayAddresses`.
 */

import { isIP } from 'node:net';
import { type HostPort, hostPort } from '../host-port.js';
import { PORTS } from '../kube/keys.js';
import type { Link } from '../kube/types.js';
import { splitAddresses } from '../mirror/link-config.js';
import type { ProbeResult } from './admin.js';
import { clustersOfLink } from './peers.js';

/** `host:port` in one spelling: IPv6 compressed and lower case (`[FD00:0::1]` is `[fd00::1]`), names lower case. */
export function targetKey({ host, port }: HostPort): string {
  return hostPort(canonicalHost(host), port);
}

/** A host in one spelling: IPv6 compressed and lower case (`FD00:0::1` is `fd00::1`), names lower case. */
export function canonicalHost(host: string): string {
  return isIP(host) === 6 ? new URL(`http://[${host}]/`).hostname.slice(1, -1) : host.toLowerCase();
}

/** Every remote gateway the Links name, keyed by `targetKey`, with the clusters that name it. */
export function linkedGateways(links: readonly Link[]): Map<string, Set<string>> {
  const gateways = new Map<string, Set<string>>();
  for (const link of links) {
    const clusters = clustersOfLink(link);
    if (clusters.length === 0) continue;
    const port = link.spec?.gatewayPort ?? PORTS.ingress;
    const hosts = [...splitAddresses(link.spec?.gatewayAddress), ...(link.status?.gatewayAddresses ?? [])];
    for (const host of hosts) {
      const key = targetKey({ host, port });
      const named = gateways.get(key) ?? new Set<string>();
      for (const cluster of clusters) named.add(cluster);
      gateways.set(key, named);
    }
  }
  return gateways;
}

/**
 * Why `/probe` may not dial `target` (for the cluster asked about, when one is), or undefined when
 * it may: a Link (of that cluster) names the address and port.
 */
export function probeRefusal(
  links: readonly Link[],
  target: HostPort,
  cluster: string | undefined,
): string | undefined {
  const clusters = linkedGateways(links).get(targetKey(target));
  if (clusters !== undefined && (cluster === undefined || clusters.has(cluster))) return undefined;
  const whose = cluster === undefined ? 'any Link' : `the Link to cluster "${cluster}"`;
  return `${hostPort(target.host, target.port)} is not a gateway that ${whose} names (spec.gatewayAddress and gatewayPort, or status.gatewayAddresses): /probe dials only linked gateways`;
}

/** What `awaitLinkedGateway` needs of the Link informer. */
export interface LinkEvents {
  list(): Link[];
  onEvent(handler: () => void): () => void;
}

/**
 * `probeRefusal`, but a refusal is re-checked on each Link event until `timeoutMs`: the controller
 * may probe the remote LoadBalancer's new address a moment before its status write (or our watch)
 * brings it here.
 */
export function awaitLinkedGateway(
  links: LinkEvents,
  target: HostPort,
  cluster: string | undefined,
  timeoutMs: number,
): Promise<string | undefined> {
  const first = probeRefusal(links.list(), target, cluster);
  if (first === undefined) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const finish = (reason: string | undefined): void => {
      clearTimeout(timer);
      unsubscribe();
      resolve(reason);
    };
    const timer = setTimeout(() => finish(probeRefusal(links.list(), target, cluster)), timeoutMs);
    const unsubscribe = links.onEvent(() => {
      if (probeRefusal(links.list(), target, cluster) === undefined) finish(undefined);
    });
  });
}

type Probe = (gateway: HostPort, path: string, timeoutMs: number, cluster?: string) => Promise<ProbeResult>;

/**
 * `/probe` requests that may wait for a Link event at once. The controller probes each Link's
 * gateway every few seconds, so a handful wait at most while an address moves; the admin port has
 * no authentication, and every waiting request holds its connection (a file descriptor) and a Link
 * listener for up to the probe's timeout (30 s): 3,000 of them held 3,000 (security review,
 * finding 11). Beyond this many, a target no Link names is refused at once, as if no Link event
 * had come.
 */
export const MAX_WAITING_PROBES = 64;

/**
 * `probe`, for linked gateways only: anything else is refused (`refused`, answered 403) without a
 * connection. Waiting for a Link to name the target counts against the probe's own timeout; at most
 * `maxWaiting` requests wait at once (MAX_WAITING_PROBES), the others are answered without waiting.
 */
export function linkedGatewaysOnly(
  links: LinkEvents,
  probe: Probe,
  maxWaiting: number = MAX_WAITING_PROBES,
): Probe {
  let waiting = 0;
  return async (gateway, path, timeoutMs, cluster) => {
    const started = performance.now();
    let refusal = probeRefusal(links.list(), gateway, cluster);
    if (refusal !== undefined && waiting < maxWaiting) {
      waiting++;
      try {
        refusal = await awaitLinkedGateway(links, gateway, cluster, timeoutMs);
      } finally {
        waiting--;
      }
    }
    if (refusal !== undefined) return { alive: false, latencyMs: 0, error: refusal, refused: true };
    const left = Math.max(1, Math.round(timeoutMs - (performance.now() - started)));
    return probe(gateway, path, left, cluster);
  };
}
