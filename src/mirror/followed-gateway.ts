/**
 * Which remote gateway a Link follows and probes. The connection's listing of the remote
 * `isthmus-gateway` Service wins; across a reconnect (a credentials rotation, a selector edit) the
 * addresses the last connection found are kept until the new one has listed, rather than fall back
 * to the Link's gatewayAddress, which may be stale. Pure: the watcher passes what it knows.
 */
import { hostPort } from '../host-port.js';
import { preferredGateway } from './remote-gateway.js';

/** The remote gateway's addresses as a connection found them; `fromService`: its LoadBalancer's. */
export interface KnownGateway {
  addresses: string[];
  fromService: boolean;
}

/** Address lists compared as the status and the probe see them (joined, order kept). */
export function sameAddresses(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.join() === b.join();
}

/** The remote gateway's addresses: the connection's, else the last known, else the Link's. */
export function followedAddresses(
  connection: string[] | undefined,
  known: KnownGateway | undefined,
  link: string[],
): string[] {
  return connection ?? known?.addresses ?? link;
}

/** `<host>:<port>` of the address of the cluster's family (remote-gateway.ts), if any. */
export function gatewayTarget(
  addresses: readonly string[],
  family: string | undefined,
  port: number,
): string | undefined {
  const chosen = preferredGateway(addresses, family);
  return chosen === undefined ? undefined : hostPort(chosen, port);
}

/**
 * Whether to probe nothing yet: a first connection is on its way to say where the gateway is, so
 * the Link's gatewayAddress (possibly stale, or a hostname that then resolves) is not probed and
 * then dropped for it. Without a connection to ask (credentials unusable, remote API unreachable)
 * there is no such answer coming, and the Link's gatewayAddress is probed.
 */
export function probeWaits(facts: {
  known: boolean;
  connectionKnows: boolean;
  credentialsError: string | undefined;
  remoteApiUp: boolean | undefined;
}): boolean {
  return (
    !facts.known &&
    !facts.connectionKnows &&
    facts.credentialsError === undefined &&
    facts.remoteApiUp !== false
  );
}

/**
 * Whether what the Link's edit leaves of the known gateway is to be forgotten: a Link that gains or
 * loses its gateway, or whose gatewayAddress changed while the known addresses were that fallback
 * (a LoadBalancer's addresses are still the edited Link's).
 */
export function forgetKnownGateway(opts: {
  hasGatewayChanged: boolean;
  fallbackChanged: boolean;
  fromService: boolean;
}): boolean {
  return opts.hasGatewayChanged || (opts.fallbackChanged && !opts.fromService);
}
