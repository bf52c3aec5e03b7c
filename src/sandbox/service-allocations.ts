/**
 * The Service REST storage's side effects: ClusterIP and NodePort allocation on create, release on
 * delete, and immutability of an allocated ClusterIP on update (pkg/registry/core/service/storage),
 * on a single-stack or dual-stack cluster.
 */
import { invalid, type StatusCause } from '../kube/validation/field-errors.js';
import { familyOf, type IPFamily, IpAllocator } from './ip-allocator.js';
import { initIPFamilies } from './service-ip-families.js';
import type { KObj } from './store.js';

type Obj = Record<string, unknown>;

/** --service-node-port-range default. */
const NODE_PORT_MIN = 30000;
const NODE_PORT_MAX = 32767;

function specOf(obj: KObj): Obj {
  const s = obj.spec;
  return s && typeof s === 'object' ? (s as Obj) : {};
}

function portsOf(spec: Obj): Obj[] {
  return Array.isArray(spec.ports) ? (spec.ports as Obj[]) : [];
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x) => typeof x === 'string') : []);

export class ServiceAllocations {
  /** One allocator per configured family, the primary (the default family) first. */
  private readonly pools: IpAllocator[];
  private readonly nodePorts = new Set<number>();
  private nextNodePort = NODE_PORT_MIN;

  /** `cidrs`: kube-apiserver's `--service-cluster-ip-range`, one CIDR or a dual-stack pair. */
  constructor(cidrs: string) {
    this.pools = cidrs.split(',').map((c) => new IpAllocator(c.trim()));
    const [first, second, ...rest] = this.pools;
    if (!first || rest.length > 0 || (second && second.family === first.family)) {
      throw new Error(`service CIDRs ${cidrs}: one CIDR, or one IPv4 and one IPv6`);
    }
  }

  /** The families this cluster serves, the default first. */
  get families(): IPFamily[] {
    return this.pools.map((p) => p.family);
  }

  /** The `kubernetes` Service's address: the first of the primary range. */
  firstAddress(): string {
    return this.pools[0]!.firstAddress();
  }

  private pool(family: IPFamily): IpAllocator | undefined {
    return this.pools.find((p) => p.family === family);
  }

  /**
   * Settles ipFamilyPolicy and ipFamilies of a Service being written, before it is validated, as
   * kube-apiserver's create and update hooks do; what this cluster cannot serve comes back as causes.
   */
  settleFamilies(obj: KObj, old: KObj | undefined): StatusCause[] {
    return initIPFamilies(specOf(obj), old ? specOf(old) : undefined, this.families);
  }

  /**
   * Fills clusterIP(s) and node ports of a validated Service being written (families settled). On
   * update the values were carried over already; a changed clusterIP is rejected as immutable, and a
   * change of policy adds or releases the secondary address.
   */
  allocate(obj: KObj, old: KObj | undefined): StatusCause[] {
    const spec = specOf(obj);
    if (spec.type === 'ExternalName') {
      // An ExternalName Service holds no address or node port: a Service turned into one gives its back.
      if (old) this.release(old);
      return [];
    }
    const oldSpec = old ? specOf(old) : undefined;
    const causes: StatusCause[] = [];
    const requested = typeof spec.clusterIP === 'string' ? spec.clusterIP : '';
    if (oldSpec?.clusterIP && requested !== oldSpec.clusterIP) {
      return [invalid('spec.clusterIPs[0]', requested, 'may not change once set')];
    }
    if (requested === 'None') spec.clusterIPs = ['None'];
    else causes.push(...this.allocateIPs(spec, oldSpec ? strings(oldSpec.clusterIPs) : []));
    if (causes.length > 0) return causes;
    if (
      spec.type === 'NodePort' ||
      (spec.type === 'LoadBalancer' && spec.allocateLoadBalancerNodePorts !== false)
    ) {
      causes.push(...this.allocateNodePorts(spec, oldSpec));
    }
    if (causes.length === 0) causes.push(...this.allocateHealthCheckNodePort(spec, oldSpec));
    if (
      spec.type !== 'NodePort' &&
      !(spec.type === 'LoadBalancer' && spec.allocateLoadBalancerNodePorts !== false) &&
      oldSpec
    ) {
      // A type without node ports (or an LB that allocates none) gives back those it dropped.
      const kept = new Set(portsOf(spec).map((p) => p.nodePort));
      for (const p of portsOf(oldSpec)) {
        if (typeof p.nodePort === 'number' && !kept.has(p.nodePort)) this.nodePorts.delete(p.nodePort);
      }
    }
    return causes;
  }

  /**
   * One cluster IP per family, in the order of ipFamilies: a requested one is reserved, a missing
   * one allocated, one the Service held already kept. What an update no longer lists is released.
   */
  private allocateIPs(spec: Obj, held: string[]): StatusCause[] {
    const families = strings(spec.ipFamilies) as IPFamily[];
    const wanted = strings(spec.clusterIPs);
    if (wanted.length === 0 && typeof spec.clusterIP === 'string' && spec.clusterIP)
      wanted.push(spec.clusterIP);
    const got: string[] = [];
    const taken: string[] = [];
    const fail = (cause: StatusCause) => {
      for (const ip of taken) this.releaseIP(ip);
      return [cause];
    };
    for (const [i, family] of families.entries()) {
      const ip = wanted[i] ?? '';
      if (held[i] !== undefined) {
        if (ip && ip !== held[i])
          return fail(invalid(`spec.clusterIPs[${i}]`, ip, 'may not change once set'));
        got.push(held[i]!);
        continue;
      }
      const pool = this.pool(family)!;
      if (ip && familyOf(ip) !== family) {
        return fail(
          invalid(
            `spec.clusterIPs[${i}]`,
            wanted,
            `expected an ${family} value as indicated by \`ipFamilies[${i}]\``,
          ),
        );
      }
      const allocated = ip || pool.allocate();
      if (!allocated) return fail(invalid('spec.clusterIPs', [], 'failed to allocate IP: range is full'));
      const cause = ip ? pool.reserve(ip) : undefined;
      if (cause) return fail(cause);
      taken.push(allocated);
      got.push(allocated);
    }
    for (const ip of held.slice(families.length)) this.releaseIP(ip);
    spec.clusterIP = got[0];
    spec.clusterIPs = got;
    return [];
  }

  private releaseIP(ip: string): void {
    const family = familyOf(ip);
    if (family) this.pool(family)?.release(ip);
  }

  /**
   * Requested node ports are checked against the range and the ports other Services hold
   * (kube's portallocator: "provided port is not in the valid range" / "is already allocated");
   * the rest are allocated. An update keeps its own ports and gives back those it dropped.
   */
  private allocateNodePorts(spec: Obj, oldSpec: Obj | undefined): StatusCause[] {
    const causes: StatusCause[] = [];
    const own = new Set(oldSpec ? portsOf(oldSpec).map((p) => p.nodePort) : []);
    const ports = portsOf(spec);
    ports.forEach((p, i) => {
      const port = p.nodePort;
      if (typeof port !== 'number' || port === 0 || own.has(port)) return;
      const path = `spec.ports[${i}].nodePort`;
      if (port < NODE_PORT_MIN || port > NODE_PORT_MAX) {
        causes.push(
          invalid(
            path,
            port,
            `provided port is not in the valid range. The range of valid ports is ${NODE_PORT_MIN}-${NODE_PORT_MAX}`,
          ),
        );
      } else if (this.nodePorts.has(port)) {
        causes.push(invalid(path, port, 'provided port is already allocated'));
      }
    });
    if (causes.length > 0) return causes;
    for (const p of ports) {
      if (typeof p.nodePort === 'number' && p.nodePort !== 0) this.nodePorts.add(p.nodePort);
      else p.nodePort = this.allocateNodePort();
    }
    const kept = new Set(ports.map((p) => p.nodePort));
    for (const port of own) if (typeof port === 'number' && !kept.has(port)) this.nodePorts.delete(port);
    return causes;
  }

  /**
   * A LoadBalancer with externalTrafficPolicy Local gets a health-check node port (kube's
   * allocHealthCheckNodePort): a requested one is checked like a node port, a missing one kept
   * from the old Service or allocated; any other Service gives its old one back.
   */
  private allocateHealthCheckNodePort(spec: Obj, oldSpec: Obj | undefined): StatusCause[] {
    const old = typeof oldSpec?.healthCheckNodePort === 'number' ? oldSpec.healthCheckNodePort : 0;
    const needs = spec.type === 'LoadBalancer' && spec.externalTrafficPolicy === 'Local';
    const requested = typeof spec.healthCheckNodePort === 'number' ? spec.healthCheckNodePort : 0;
    if (!needs) {
      if (old !== 0 && requested !== old) this.nodePorts.delete(old);
      return [];
    }
    if (requested === 0) {
      spec.healthCheckNodePort = old !== 0 ? old : this.allocateNodePort();
      return [];
    }
    if (requested === old) return [];
    const path = 'spec.healthCheckNodePort';
    if (requested < NODE_PORT_MIN || requested > NODE_PORT_MAX) {
      return [
        invalid(
          path,
          requested,
          `provided port is not in the valid range. The range of valid ports is ${NODE_PORT_MIN}-${NODE_PORT_MAX}`,
        ),
      ];
    }
    if (this.nodePorts.has(requested))
      return [invalid(path, requested, 'provided port is already allocated')];
    this.nodePorts.add(requested);
    if (old !== 0) this.nodePorts.delete(old);
    return [];
  }

  private allocateNodePort(): number {
    for (let i = 0; i <= NODE_PORT_MAX - NODE_PORT_MIN; i++) {
      const port =
        NODE_PORT_MIN + ((this.nextNodePort - NODE_PORT_MIN + i) % (NODE_PORT_MAX - NODE_PORT_MIN + 1));
      if (!this.nodePorts.has(port)) {
        this.nodePorts.add(port);
        this.nextNodePort = port + 1;
        return port;
      }
    }
    return 0;
  }

  /** Returns a deleted Service's addresses and ports to the pools. */
  release(obj: KObj): void {
    const spec = specOf(obj);
    for (const ip of strings(spec.clusterIPs)) if (ip !== 'None') this.releaseIP(ip);
    for (const p of portsOf(spec)) if (typeof p.nodePort === 'number') this.nodePorts.delete(p.nodePort);
    if (typeof spec.healthCheckNodePort === 'number') this.nodePorts.delete(spec.healthCheckNodePort);
  }
}
