/**
 * Where the remote gateway is. Linkerd takes `gatewayAddress` from the Link once; Isthmus follows
 * the remote `isthmus-gateway` LoadBalancer Service (status.loadBalancer.ingress), so a new LB IP
 * needs no re-link, and falls back to the Link's `gatewayAddress` while the Service has none.
 * Hostnames (AWS ELBs give hostnames) are re-resolved periodically because their IPs move.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { V1Service } from '../kube/types.js';

/** LB ingress IPs and hostnames, in the order the Service lists them; else the Link's addresses. */
export function gatewayHosts(service: V1Service | undefined, fallback: readonly string[]): string[] {
  const hosts: string[] = [];
  for (const ingress of service?.status?.loadBalancer?.ingress ?? []) {
    const host = ingress.ip || ingress.hostname;
    if (host && !hosts.includes(host)) hosts.push(host);
  }
  return hosts.length > 0 ? hosts : [...fallback];
}

/**
 * The address to dial of a remote gateway's addresses: the first of the local cluster's family,
 * else the first. A dual-stack remote LoadBalancer (or a hostname with A and AAAA records) lists
 * both families, in its own cluster's order, and an IPv4-only pod cannot reach the IPv6 one.
 */
export function preferredGateway(
  addresses: readonly string[],
  family: string | undefined,
): string | undefined {
  const version = family === 'IPv6' ? 6 : family === 'IPv4' ? 4 : 0;
  return addresses.find((a) => version !== 0 && isIP(a) === version) ?? addresses[0];
}

export type Resolve = (host: string) => Promise<string[]>;

export const resolveHost: Resolve = async (host) => {
  const found = await lookup(host, { all: true });
  return found.map((a) => a.address);
};

/**
 * Resolved addresses of the hosts: IPs as they are, hostnames through `resolve`; a hostname that
 * does not resolve is kept as is (the gateway can try it), so a DNS hiccup never empties the list.
 */
export async function resolveHosts(
  hosts: readonly string[],
  resolve: Resolve = resolveHost,
): Promise<string[]> {
  const out: string[] = [];
  for (const host of hosts) {
    if (isIP(host)) {
      out.push(host);
      continue;
    }
    try {
      const ips = await resolve(host);
      out.push(...(ips.length > 0 ? ips : [host]));
    } catch {
      out.push(host);
    }
  }
  return [...new Set(out)];
}
