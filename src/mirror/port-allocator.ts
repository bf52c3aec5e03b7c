/**
 * Egress port allocation. One allocator per local cluster (every Link's mirrors share the local
 * gateway's listeners), keyed by owner `<cluster>/<namespace>/<mirrorName>` (`mirrorOwner`) and port
 * key. Ports are recovered from the `isthmus.dev/egress-ports` annotations of existing mirrors before
 * anything new is allocated, so a restart never renumbers a listener that clients are connected to;
 * a mirror whose key holds nothing still gets the free ports its annotation names (`allocate`).
 * Ports that other Services claim with the same annotation (foreign claims, owned by the Service's
 * `namespace/name`) are reserved: never handed to a mirror.
 */
import { PORTS } from '../kube/keys.js';

export interface PortRange {
  first: number;
  last: number;
}

export const DEFAULT_EGRESS_RANGE: PortRange = { ...PORTS.egressRange };

/**
 * The gateway's own listeners on the same pod addresses as the egress ones (shared/DESIGN.md,
 * "Ports"): never handed to a mirror, even by a range that spans them, or that mirror's listener
 * could never open.
 */
export const RESERVED_PORTS: ReadonlySet<number> = new Set([PORTS.ingress, PORTS.admin]);

/**
 * The owner of a mirror's egress ports: `<cluster>/<namespace>/<name>`. Two Links can make the same
 * mirror name (`api-us` of west and `api` of us-west are both `api-us-west`), which one Service
 * holds: with the cluster in the key, a Link's sync allocates, keeps and frees only its own
 * cluster's ports at that name, even when both Links create it at once and neither cache shows the
 * other's mirror yet (the loser's allocation used to re-number the winner's key under it). A foreign
 * claim is owned by its Service's `namespace/name`: two parts, which no mirror owner (three; a
 * cluster name is a DNS label, a namespace and a name hold no `/`) can equal.
 */
export function mirrorOwner(cluster: string, namespace: string, name: string): string {
  return `${cluster}/${namespace}/${name}`;
}

/** An owner's parts: the mirror's cluster (none for a foreign claim), namespace and Service name. */
export interface OwnerParts {
  cluster?: string;
  namespace: string;
  name: string;
}

export function parseOwner(owner: string): OwnerParts {
  const parts = owner.split('/');
  const [namespace = '', name = ''] = parts.slice(-2);
  return parts.length > 2 ? { cluster: parts[0] ?? '', namespace, name } : { namespace, name };
}

/** The Service (`namespace/name`) an owner's ports are for: as the gateway's `/routes` names it. */
export function ownerService(owner: string): string {
  const { namespace, name } = parseOwner(owner);
  return `${namespace}/${name}`;
}

export class PortAllocator {
  readonly range: PortRange;
  /** port → owner */
  private readonly byPort = new Map<number, string>();
  /** owner → (port key → port) */
  private readonly byOwner = new Map<string, Map<string, number>>();
  private cursor: number;
  /** Ports the range can hand out (reserved ones excepted); every held port is one of them. */
  private readonly capacity: number;
  /** Foreign claims: owner → the ports its `isthmus.dev/egress-ports` names (see `reserveForeign`). */
  private readonly foreignByOwner = new Map<string, ReadonlySet<number>>();
  /** port → the foreign owners claiming it */
  private readonly foreign = new Map<number, Set<string>>();

  constructor(range: PortRange = DEFAULT_EGRESS_RANGE) {
    if (!(range.first >= 1 && range.last <= 65535 && range.first <= range.last)) {
      throw new RangeError(`invalid egress port range ${range.first}-${range.last}`);
    }
    this.range = range;
    this.cursor = range.first;
    const reserved = [...RESERVED_PORTS].filter((p) => p >= range.first && p <= range.last);
    this.capacity = range.last - range.first + 1 - reserved.length;
  }

  /**
   * Takes over ports found on an existing mirror. A port outside the range, reserved, or already
   * held by another owner or reserved by another's foreign claim is not recovered (that owner keeps
   * it; this key is re-allocated). Returns the keys that were not recovered.
   */
  recover(owner: string, ports: ReadonlyMap<string, number>): string[] {
    const rejected: string[] = [];
    for (const [key, port] of ports) {
      const holder = this.byPort.get(port);
      if (
        !this.allocatable(port) ||
        (holder !== undefined && holder !== owner) ||
        this.reservedFor(owner, port)
      ) {
        rejected.push(key);
        continue;
      }
      this.take(owner, key, port);
    }
    return rejected;
  }

  /**
   * Makes `owner` hold exactly one port per key: existing assignments are kept, keys no longer
   * listed are freed, new keys get the port `preferred` names for them if it is free (held by no
   * one, allocatable, not reserved by another Service's claim), else the next free port. All or
   * nothing: when the range cannot hold every new key, nothing changes (a Service that cannot be
   * mirrored holds no port another one could use, and a mirrored one keeps the ports its mirror
   * still carries); the result then lacks those keys, and the caller reports PORT_RANGE_EXHAUSTED
   * and retries later.
   *
   * `preferred` is what the owner's existing mirror names (its `isthmus.dev/egress-ports`): a mirror
   * whose key holds nothing here although its Service carries ports (a restart recovered them as the
   * claim of a Service no Link named, say) keeps them, instead of being re-numbered from the cursor
   * under the clients connected to it.
   */
  allocate(
    owner: string,
    keys: readonly string[],
    preferred?: ReadonlyMap<string, number>,
  ): Map<string, number> {
    const held = this.byOwner.get(owner) ?? new Map<string, number>();
    const wanted = new Set(keys);
    const added = [...wanted].filter((key) => !held.has(key));
    const dropped = [...held].filter(([key]) => !wanted.has(key));
    // A dropped port that another Service claims is not free for this owner's new keys either.
    const freed = dropped.filter(([, port]) => !this.reservedFor(owner, port)).length;
    const free = this.capacity - this.byPort.size - this.foreignBlocked(owner) + freed;
    if (added.length > free) return new Map(held);
    for (const [key, port] of dropped) {
      held.delete(key);
      this.byPort.delete(port);
    }
    // Counted above: every added key finds a free port (a preferred one is one of those counted).
    for (const key of added) {
      const want = preferred?.get(key);
      const port = want !== undefined && this.freeFor(owner, want) ? want : this.nextFree(owner);
      this.take(owner, key, port as number);
    }
    const current = this.byOwner.get(owner);
    if (current && current.size === 0) this.byOwner.delete(owner);
    return new Map(current ?? []);
  }

  free(owner: string): void {
    for (const port of this.byOwner.get(owner)?.values() ?? []) this.byPort.delete(port);
    this.byOwner.delete(owner);
  }

  /**
   * Reserves the ports a Service that is not one of our mirrors claims (its `isthmus.dev/egress-ports`),
   * replacing what `owner` reserved before: while it exists, no mirror is handed one of them. Anyone
   * who may create a Service can write that annotation, and the gateway gives a port two Services
   * claim to the older claim, so a new mirror handed such a port would send its callers where the
   * stranger says. Returns whether `owner` reserves ports now and reserved none before.
   */
  reserveForeign(owner: string, ports: Iterable<number>): boolean {
    const fresh = !this.foreignByOwner.has(owner);
    this.releaseForeign(owner);
    const set = new Set(ports);
    if (set.size === 0) return false;
    this.foreignByOwner.set(owner, set);
    for (const port of set) {
      let owners = this.foreign.get(port);
      if (!owners) {
        owners = new Set();
        this.foreign.set(port, owners);
      }
      owners.add(owner);
    }
    return fresh;
  }

  /** The Service is gone, or became one of our mirrors: its claims no longer hold ports back. */
  releaseForeign(owner: string): void {
    for (const port of this.foreignByOwner.get(owner) ?? []) {
      const owners = this.foreign.get(port);
      owners?.delete(owner);
      if (owners?.size === 0) this.foreign.delete(port);
    }
    this.foreignByOwner.delete(owner);
  }

  /** The ports reserved by foreign claims, ascending. */
  reservedPorts(): number[] {
    return [...this.foreign.keys()].sort((a, b) => a - b);
  }

  /** Forgets every owner and foreign claim: before recovering from the Services again (a follower taking over). */
  clear(): void {
    this.byPort.clear();
    this.byOwner.clear();
    this.foreign.clear();
    this.foreignByOwner.clear();
  }

  /** The owner (`<cluster>/<namespace>/<name>`, `mirrorOwner`) that holds `port`, if any. */
  ownerOf(port: number): string | undefined {
    return this.byPort.get(port);
  }

  owned(owner: string): Map<string, number> {
    return new Map(this.byOwner.get(owner) ?? []);
  }

  get size(): number {
    return this.byPort.size;
  }

  private take(owner: string, key: string, port: number): void {
    let held = this.byOwner.get(owner);
    if (!held) {
      held = new Map();
      this.byOwner.set(owner, held);
    }
    const previous = held.get(key);
    if (previous !== undefined && previous !== port) this.byPort.delete(previous);
    held.set(key, port);
    this.byPort.set(port, owner);
  }

  private allocatable(port: number): boolean {
    return port >= this.range.first && port <= this.range.last && !RESERVED_PORTS.has(port);
  }

  /**
   * Claimed by a foreign Service other than `owner`'s (its own stale annotation does not count: a
   * claim reserved before the Service became a mirror of ours, whichever cluster's owner asks).
   */
  private reservedFor(owner: string, port: number): boolean {
    const owners = this.foreign.get(port);
    return owners !== undefined && (owners.size > 1 || !owners.has(ownerService(owner)));
  }

  /** Ports no owner holds that foreign claims keep from `owner`. */
  private foreignBlocked(owner: string): number {
    let n = 0;
    for (const port of this.foreign.keys()) {
      if (this.allocatable(port) && !this.byPort.has(port) && this.reservedFor(owner, port)) n++;
    }
    return n;
  }

  /** In the range, not the gateway's own, held by no one and claimed by no other Service. */
  private freeFor(owner: string, port: number): boolean {
    return this.allocatable(port) && !this.byPort.has(port) && !this.reservedFor(owner, port);
  }

  /**
   * Round-robin from a cursor, so a just-freed port is not handed to a new mirror at once; skips
   * ports held, the gateway's own and those a foreign Service claims.
   */
  private nextFree(owner: string): number | undefined {
    const span = this.range.last - this.range.first + 1;
    for (let i = 0; i < span; i++) {
      const port = this.range.first + ((this.cursor - this.range.first + i) % span);
      if (this.freeFor(owner, port)) {
        this.cursor = port === this.range.last ? this.range.first : port + 1;
        return port;
      }
    }
    return undefined;
  }
}
