/**
 * The ingress never dials this gateway's own listeners (security review, finding 2): an exported
 * Service's hand-written EndpointSlice listing the gateway's egress listener would have each tunnel
 * open another one through this gateway (and the peer's, and back), without end, from one client
 * connection. The ServiceIndex refuses the addresses of the cluster's gateway pods as the gateway
 * Services' slices list them (dial-refusal.ts, GATEWAY_POD_REFUSAL); this check covers the process
 * itself whatever its Services say (before the slice informer has them, or a gateway run outside the
 * install), at each dial, by port first: a listener bound to every address (the pod's default)
 * answers on each local address, loopback included, so the address alone cannot tell.
 */
import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { hostPort } from '../host-port.js';

export const OWN_LISTENER_REFUSAL =
  "one of this gateway's own listeners (ingress, admin or an egress port): the tunnel would loop";

/** Endpoints remembered as reported; past it the memory starts over (a report again, no growth). */
const MAX_REPORTED = 4096;

interface Face {
  addresses: BlockList;
  listens: (port: number) => boolean;
}

export interface OwnListenersOptions {
  /** Told once per endpoint (`host:port`) refused, with the reason. */
  onRefused?: (endpoint: string, reason: string) => void;
  /** The host's own addresses (default: every interface's, from os.networkInterfaces()). */
  localAddresses?: () => string[];
}

export class OwnListeners {
  private readonly faces: Face[] = [];
  private readonly reported = new Set<string>();
  private readonly onRefused: (endpoint: string, reason: string) => void;
  private readonly localAddresses: () => string[];

  constructor(opts: OwnListenersOptions = {}) {
    this.onRefused = opts.onRefused ?? (() => {});
    this.localAddresses = opts.localAddresses ?? interfaceAddresses;
  }

  /**
   * A listening face of this gateway: the address it was bound to (an IP, an unspecified address,
   * or a name) and which ports it listens on now (the egress's change with the mirrors).
   */
  add(host: string, listens: (port: number) => boolean): void {
    this.faces.push({ addresses: this.addressesOf(host), listens });
  }

  /** Why the ingress must not dial `host:port`, or null. Cheap when the port is none of ours. */
  refusal(host: string, port: number): string | null {
    for (const face of this.faces) {
      // The port first: for a backend's port (every dial but a loop's) that is all it costs.
      if (!face.listens(port)) continue;
      const family = isIP(host);
      if (family === 0 || !face.addresses.check(host, family === 4 ? 'ipv4' : 'ipv6')) continue;
      const endpoint = hostPort(host, port);
      if (!this.reported.has(endpoint)) {
        if (this.reported.size >= MAX_REPORTED) this.reported.clear();
        this.reported.add(endpoint);
        this.onRefused(endpoint, OWN_LISTENER_REFUSAL);
      }
      return OWN_LISTENER_REFUSAL;
    }
    return null;
  }

  /**
   * The addresses a listener bound to `host` answers on: that address, or, for an unspecified one
   * (or a name, which cannot be told apart here), every local address: loopback, unspecified (which
   * connect(2) takes as this host) and each interface's.
   */
  private addressesOf(host: string): BlockList {
    const list = new BlockList();
    const family = isIP(host);
    if (family !== 0 && host !== '0.0.0.0' && host !== '::') {
      list.addAddress(host, family === 4 ? 'ipv4' : 'ipv6');
      return list;
    }
    list.addSubnet('127.0.0.0', 8, 'ipv4');
    list.addSubnet('0.0.0.0', 8, 'ipv4');
    list.addAddress('::1', 'ipv6');
    list.addAddress('::', 'ipv6');
    for (const address of this.localAddresses()) {
      const bare = address.split('%')[0] ?? address;
      const f = isIP(bare);
      if (f !== 0) list.addAddress(bare, f === 4 ? 'ipv4' : 'ipv6');
    }
    return list;
  }
}

function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((addrs) => (addrs ?? []).map((a) => a.address));
}
