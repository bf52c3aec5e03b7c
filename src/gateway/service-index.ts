/**
 * The ingress's view of what it may open: exported Services and their EndpointSlices, fed by the
 * watchers. Pure data, no I/O. `resolve` is the only way the ingress learns an address to dial, so
 * the gateway can never become an open proxy (shared/DESIGN.md, "The tunnel").
 */
import type { ParsedAuthority } from './authority.js';

export interface ExportedService {
  namespace: string;
  name: string;
  ports: { name?: string; port: number; protocol?: string }[];
  headless: boolean;
  /** `isthmus.dev/allowed-clusters`: the only peer clusters it admits; absent: every linked one. */
  allowedClusters?: string[];
}

/** One endpoint of an EndpointSlice (labelled `kubernetes.io/service-name`), with the slice's ports. */
export interface EndpointView {
  address: string;
  hostname?: string;
  ready: boolean;
  /**
   * Not ready, but `serving` and `terminating`: a pod shutting down that still passes its readiness
   * probe. kube-proxy routes a Service to these only when it has no ready endpoint at all (KEP-1669,
   * ProxyTerminatingEndpoints, GA in 1.28), so a rollout of the last pod does not refuse traffic.
   */
  servingTerminating?: true;
  ports: { name?: string; port: number }[];
}

export interface Candidate {
  host: string;
  port: number;
}

export type ResolveResult =
  | { ok: true; candidates: readonly Candidate[] }
  | { ok: false; status: 403 | 503; reason: string };

interface ServiceEntry {
  service?: ExportedService;
  slices: Map<string, EndpointView[]>;
  /**
   * Successful resolutions by endpoint port name (and pod hostname), until the Service or a slice
   * changes: a CONNECT then costs a map lookup, not a walk over every endpoint of every slice.
   */
  resolved: Map<string, ResolveResult & { ok: true }>;
}

const key = (ns: string, name: string): string => `${ns}/${name}`;

/** The Kubernetes API stores an unnamed port as '' or leaves it out; both mean "unnamed". */
const portName = (name: string | undefined): string => name ?? '';

export class ServiceIndex {
  private readonly entries = new Map<string, ServiceEntry>();

  upsertService(s: ExportedService): void {
    const e = this.entry(s.namespace, s.name);
    e.service = s;
    e.resolved.clear();
  }

  removeService(ns: string, name: string): void {
    const e = this.entries.get(key(ns, name));
    if (!e) return;
    e.service = undefined;
    e.resolved.clear();
    this.gc(ns, name, e);
  }

  /** Slices may arrive before their Service (watch order is not guaranteed); they are kept until removed. */
  setSliceEndpoints(ns: string, service: string, sliceName: string, endpoints: EndpointView[]): void {
    const e = this.entry(ns, service);
    e.slices.set(sliceName, endpoints);
    e.resolved.clear();
  }

  removeSlice(ns: string, service: string, sliceName: string): void {
    const e = this.entries.get(key(ns, service));
    if (!e) return;
    e.slices.delete(sliceName);
    e.resolved.clear();
    this.gc(ns, service, e);
  }

  /** Number of exported services held (for readiness and tests). */
  size(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.service) n++;
    return n;
  }

  resolve(target: ParsedAuthority, peerCluster?: string): ResolveResult {
    const e = this.entries.get(key(target.namespace, target.service));
    const svc = e?.service;
    if (!e || !svc) {
      return {
        ok: false,
        status: 403,
        reason: `service ${target.namespace}/${target.service} is neither exported nor a federated member`,
      };
    }
    if (svc.allowedClusters && !svc.allowedClusters.includes(peerCluster ?? '')) {
      return {
        ok: false,
        status: 403,
        reason: `cluster ${peerCluster ?? '?'} may not reach ${svc.namespace}/${svc.name} (isthmus.dev/allowed-clusters: ${svc.allowedClusters.join(',')})`,
      };
    }
    // The tunnel carries a TCP stream: a UDP or SCTP port of that number is not what it can reach.
    const servicePort = svc.ports.find((p) => p.port === target.port && (p.protocol ?? 'TCP') === 'TCP');
    if (!servicePort) {
      const other = svc.ports.find((p) => p.port === target.port);
      return {
        ok: false,
        status: 403,
        reason: other
          ? `port ${target.port} of service ${svc.namespace}/${svc.name} is ${other.protocol}: only TCP crosses the tunnel`
          : `service ${svc.namespace}/${svc.name} has no port ${target.port}`,
      };
    }
    // kube-proxy maps a service port to the endpoint port of the same name in each slice.
    const wanted = portName(servicePort.name);
    const cacheKey = target.kind === 'pod' ? `${wanted}\0${target.hostname}` : wanted;
    const cached = e.resolved.get(cacheKey);
    if (cached) return cached;
    let candidates = this.candidates(e, target, wanted, (ep) => ep.ready);
    // As kube-proxy: with no ready endpoint, serving terminating ones take the traffic. Only for a
    // Service kube-proxy proxies: a headless one is reached through DNS, which lists ready pods only.
    if (candidates.length === 0 && target.kind === 'service' && !svc.headless) {
      candidates = this.candidates(e, target, wanted, (ep) => ep.servingTerminating === true);
    }
    if (candidates.length === 0) {
      const what = target.kind === 'pod' ? `pod ${target.hostname} of ` : '';
      return {
        ok: false,
        status: 503,
        reason: `no ready endpoint for ${what}${svc.namespace}/${svc.name}:${target.port}`,
      };
    }
    // Only hits are kept: they are bounded by the real ports and hostnames, misses by nothing.
    const result = { ok: true as const, candidates };
    e.resolved.set(cacheKey, result);
    return result;
  }

  /** The endpoints `accept` takes, with the port named `wanted`, each address and port once. */
  private candidates(
    e: ServiceEntry,
    target: ParsedAuthority,
    wanted: string,
    accept: (ep: EndpointView) => boolean,
  ): Candidate[] {
    const candidates: Candidate[] = [];
    const seen = new Set<string>();
    for (const endpoints of e.slices.values()) {
      for (const ep of endpoints) {
        if (!accept(ep)) continue;
        if (target.kind === 'pod' && ep.hostname !== target.hostname) continue;
        const p = ep.ports.find((sp) => portName(sp.name) === wanted);
        if (!p) continue;
        // During a slice hand-over the same endpoint can sit in two slices: dial it once.
        const id = `${ep.address}|${p.port}`;
        if (seen.has(id)) continue;
        seen.add(id);
        candidates.push({ host: ep.address, port: p.port });
      }
    }
    return candidates;
  }

  private entry(ns: string, name: string): ServiceEntry {
    const k = key(ns, name);
    let e = this.entries.get(k);
    if (!e) {
      e = { slices: new Map(), resolved: new Map() };
      this.entries.set(k, e);
    }
    return e;
  }

  private gc(ns: string, name: string, e: ServiceEntry): void {
    if (!e.service && e.slices.size === 0) this.entries.delete(key(ns, name));
  }
}
