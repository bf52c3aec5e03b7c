/**
 * Which of a remote gateway's addresses the session pool dials. A mirror names one address of its
 * remote gateway (`isthmus.dev/remote-gateway`, the controller's preferred one: mirrors must not be
 * rewritten at every address failure, each write is rate limited), but a Link may name several: the
 * remote LoadBalancer's ingress IPs or hostnames (`status.gatewayAddresses`), the nodes of a NodePort
 * gateway (`spec.gatewayAddress`). When that one address gives no session for a reason another
 * address need not share (nothing answers there: a drained node with `externalTrafficPolicy: Local`,
 * a node replaced in an upgrade), the pool tries the other addresses the same Link names for the same
 * cluster on the same port, in the Link's order, and keeps to the one that works until it fails
 * (Linkerd lists every gateway address in a mirror's endpoints). Pure decisions; the pool applies them.
 *
 * Only addresses a Link names are ever dialled: the candidates come from the Links of the cluster
 * the tunnel or probe expects (whose gateway identity each session must then hold), and only from a
 * Link that names the asked address itself.
 */

import { isIP } from 'node:net';
import type { IsthmusError } from '../errors.js';
import type { HostPort } from '../host-port.js';
import { PORTS } from '../kube/keys.js';
import type { Link } from '../kube/types.js';
import { splitAddresses } from '../mirror/link-config.js';
import { clustersOfLink } from './peers.js';
import { targetKey } from './probe-targets.js';

/**
 * The addresses of the gateway at `target` for `cluster`: the list that names `target` (on its port)
 * in a Link of that cluster, on that port, in its order, each once, `target` itself in its own
 * spelling. A Link has two lists: `status.gatewayAddresses`, what the controller follows (the remote
 * LoadBalancer's ingress addresses, else the Link's own), and `spec.gatewayAddress`; the first that
 * names `target` is its list. So a LoadBalancer's address never falls back to the Link's
 * `gatewayAddress`, which is only the fallback while the LoadBalancer has none (and may be stale),
 * and the nodes given for a NodePort gateway stand in for each other. Addresses of `target`'s IP
 * family come first (the controller chose `target` by the local family: a dual-stack remote lists
 * both, and an IPv4-only pod cannot dial the IPv6 one). Just `[target]` when no Link names it.
 */
export function gatewayAddressesOf(links: readonly Link[], target: HostPort, cluster: string): HostPort[] {
  const wanted = targetKey(target);
  const found: HostPort[] = [];
  const seen = new Set<string>();
  for (const link of links) {
    if (!clustersOfLink(link).includes(cluster)) continue;
    const port = link.spec?.gatewayPort ?? PORTS.ingress;
    if (port !== target.port) continue;
    const named = [link.status?.gatewayAddresses ?? [], splitAddresses(link.spec?.gatewayAddress)]
      .map((hosts) => hosts.map((host) => ({ host, port, key: targetKey({ host, port }) })))
      .find((list) => list.some((n) => n.key === wanted));
    if (named === undefined) continue;
    for (const { host, key } of named) {
      if (seen.has(key)) continue;
      seen.add(key);
      found.push(key === wanted ? target : { host, port });
    }
  }
  if (found.length === 0) return [target];
  const family = isIP(target.host);
  const sameFamily = (a: HostPort): boolean => family === 0 || isIP(a.host) === 0 || isIP(a.host) === family;
  return [...found.filter(sameFamily), ...found.filter((a) => !sameFamily(a))];
}

/**
 * The order to try `addresses` in: from `current` (the one that last worked, else the one asked for)
 * on, round the Link's order, the addresses `failing` (their last dial failed in a way another
 * address may not share: `triesNextAddress`) last, in the same order. So a session goes to the
 * address in use while it works, after its failure to the next one, and an address known dead is
 * dialled only after every other (probes dial it all the same: they are how its recovery is seen).
 */
export function failoverOrder(
  addresses: readonly string[],
  current: string,
  failing: (address: string) => boolean,
): string[] {
  const from = Math.max(0, addresses.indexOf(current));
  const rotated = [...addresses.slice(from), ...addresses.slice(0, from)];
  return [...rotated.filter((a) => !failing(a)), ...rotated.filter(failing)];
}

/**
 * Whether a failure to get a session at one address of a gateway justifies trying another address
 * of it: nothing answered there, or not in time (refused, reset, unreachable, a connect timeout, a
 * session that stopped answering, a replica ending the session before it was established: all
 * GATEWAY_UNREACHABLE or GATEWAY_CONNECT_TIMEOUT). Not a failure of trust, which another address of
 * the same gateway would not cure and must not hide: a certificate the remote refuses
 * (GATEWAY_REFUSED), one this gateway refuses (GATEWAY_UNTRUSTED: another anchor, revoked, not a
 * gateway's), the wrong cluster's gateway at that address (GATEWAY_IDENTITY_MISMATCH), nor an unlink
 * (GATEWAY_NOT_LINKED).
 */
export function triesNextAddress(err: IsthmusError | undefined): boolean {
  return err?.code === 'GATEWAY_UNREACHABLE' || err?.code === 'GATEWAY_CONNECT_TIMEOUT';
}
