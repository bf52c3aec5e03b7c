/**
 * The Service REST storage's side effects: ClusterIP and NodePort allocation on create, release on
 * delete, and immutability of an allocated ClusterIP on update (pkg/registry/core/service/storage).
 */
import { invalid, type StatusCause } from './field-errors.js';
import { IpAllocator } from './ip-allocator.js';
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

/**
 * The sandbox is a single-stack IPv4 cluster (one service CIDR), and kube-apiserver refuses what
 * such a cluster cannot allocate (pkg/registry/core/service/storage/alloc.go): an IPv6 family, or a
 * policy that requires two. PreferDualStack is accepted and gets IPv4 alone.
 */
function unconfiguredFamilies(spec: Obj): StatusCause[] {
  const causes: StatusCause[] = [];
  const families = Array.isArray(spec.ipFamilies) ? spec.ipFamilies : [];
  families.forEach((family, i) => {
    if (family !== 'IPv4')
      causes.push(invalid(`spec.ipFamilies[${i}]`, family, 'not configured on this cluster'));
  });
  if (spec.ipFamilyPolicy === 'RequireDualStack') {
    causes.push(
      invalid(
        'spec.ipFamilyPolicy',
        spec.ipFamilyPolicy,
        'this cluster is not configured for dual-stack services',
      ),
    );
  }
  return causes;
}

export class ServiceAllocations {
  readonly ips: IpAllocator;
  private readonly nodePorts = new Set<number>();
  private nextNodePort = NODE_PORT_MIN;

  constructor(cidr: string) {
    this.ips = new IpAllocator(cidr);
  }

  /**
   * Fills clusterIP(s), IP families and node ports of a Service being written. On update the
   * values were carried over already; a changed clusterIP is rejected as immutable.
   */
  allocate(obj: KObj, old: KObj | undefined): StatusCause[] {
    const spec = specOf(obj);
    if (spec.type === 'ExternalName') return [];
    const oldSpec = old ? specOf(old) : undefined;
    const causes = unconfiguredFamilies(spec);
    if (causes.length > 0) return causes;
    const requested = typeof spec.clusterIP === 'string' ? spec.clusterIP : '';
    if (oldSpec) {
      if (oldSpec.clusterIP && requested !== oldSpec.clusterIP) {
        causes.push(invalid('spec.clusterIPs[0]', requested, 'may not change once set'));
        return causes;
      }
    } else if (requested === 'None') {
      spec.clusterIPs = ['None'];
    } else if (requested) {
      const cause = this.ips.reserve(requested);
      if (cause) return [cause];
      spec.clusterIPs = [requested];
    } else {
      const ip = this.ips.allocate();
      if (!ip) return [invalid('spec.clusterIPs', [], 'failed to allocate IP: range is full')];
      spec.clusterIP = ip;
      spec.clusterIPs = [ip];
    }
    spec.ipFamilies ??= ['IPv4'];
    spec.ipFamilyPolicy ??= 'SingleStack';
    if (
      spec.type === 'NodePort' ||
      (spec.type === 'LoadBalancer' && spec.allocateLoadBalancerNodePorts !== false)
    ) {
      causes.push(...this.allocateNodePorts(spec, oldSpec));
    }
    return causes;
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
    if (typeof spec.clusterIP === 'string' && spec.clusterIP !== 'None') this.ips.release(spec.clusterIP);
    for (const p of portsOf(spec)) if (typeof p.nodePort === 'number') this.nodePorts.delete(p.nodePort);
  }
}
