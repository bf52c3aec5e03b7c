/**
 * The ingress's view of what it may open: exported Services and their EndpointSlices, fed by the
 * watchers. Pure data, no I/O. `resolve` is the only way the ingress learns an address to dial, so
 * the gateway can never become an open proxy (shared/DESIGN.md, "The tunnel").
 *
 * Whoever may write an exported Service's EndpointSlices decides what the ingress dials (the
 * CVE-2021-25740 class of confused deputy): some addresses are refused whoever lists them
 * (`dialRefusal`, dial-refusal.ts), decided when a slice, a Service, the API server's addresses,
 * this cluster's gateway pods' or the ClusterIPs that forward to a gateway change, never per CONNECT
 * (docs/design.md, "What the ingress dials"). With `--dial-pod-ips-only` an endpoint must also be the IP of a live Pod of the
 * Service's namespace (pod-ips.ts), decided again when one of those Pods' addresses changes.
 */
import { BlockList, isIP } from 'node:net';
import type { ParsedAuthority } from './authority.js';
import { blockList, dialKeys, dialRefusal, ExactAddresses } from './dial-refusal.js';
import { ipKey, type PodIPLookup, podIPRefusal } from './pod-ips.js';

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

/** An EndpointSlice's endpoints that the ingress refuses to dial, and why: reported once per change. */
export interface RefusedEndpoints {
  namespace: string;
  service: string;
  slice: string;
  refused: { address: string; reason: string }[];
}

export interface ServiceIndexOptions {
  /**
   * Told of an exported Service's slice with refused endpoints: when the slice changes, when its
   * Service becomes exported, and when the API server's addresses change what it refuses.
   */
  onRefused?: (refused: RefusedEndpoints) => void;
  /**
   * `--dial-pod-ips-only`: the Pods whose IPs alone may be dialled, each in its own namespace.
   * Until they are listed nothing is dialled and nothing reported; then every slice is judged.
   */
  podIPs?: PodIPLookup;
  /**
   * Nothing is dialled (nor reported) until `setLoopClusterIPs` is first called: the gateway's
   * Service and slice informers have listed, so no endpoint is admitted that the ClusterIP of a
   * mirror, federated Service or apex refuses a moment later. Without it, the ClusterIPs are
   * refused from whenever they are set.
   */
  awaitLoopClusterIPs?: boolean;
}

/** A slice's endpoints, and those the ingress may dial (set while its Service is exported). */
interface SliceState {
  endpoints: EndpointView[];
  dialable?: EndpointView[];
  /** The refusals last reported, so a change of the API server's addresses reports only news. */
  refused: string;
  /** dialKeys of every endpoint, made when a loop ClusterIP first changes after the slice did. */
  keys?: ReadonlySet<string>;
}

interface ServiceEntry {
  service?: ExportedService;
  slices: Map<string, SliceState>;
  /**
   * Successful resolutions by endpoint port name (and pod hostname), until the Service or a slice
   * changes: a CONNECT then costs a map lookup, not a walk over every endpoint of every slice.
   */
  resolved: Map<string, ResolveResult & { ok: true }>;
}

const key = (ns: string, name: string): string => `${ns}/${name}`;

/** The IP addresses among `addresses` as a BlockList, and a key that tells a change. */
function addressList(addresses: Iterable<string>): { key: string; list: BlockList } {
  const ips = [...new Set(addresses)].filter((a) => isIP(a) !== 0).sort();
  return {
    key: ips.join(','),
    list: blockList((l) => {
      for (const ip of ips) l.addAddress(ip, isIP(ip) === 4 ? 'ipv4' : 'ipv6');
    }),
  };
}

/** Whether a slice lists an endpoint that one of `keys` (ipKey) would refuse (dialKeys). */
function listsAny(state: SliceState, keys: ReadonlySet<string>): boolean {
  state.keys ??= new Set(state.endpoints.flatMap((ep) => dialKeys(ep.address)));
  const [few, many] = keys.size <= state.keys.size ? [keys, state.keys] : [state.keys, keys];
  for (const k of few) if (many.has(k)) return true;
  return false;
}

/** The Kubernetes API stores an unnamed port as '' or leaves it out; both mean "unnamed". */
const portName = (name: string | undefined): string => name ?? '';

export class ServiceIndex {
  private readonly entries = new Map<string, ServiceEntry>();
  /** Names of the exported Services of each namespace: what a change of its Pods' IPs concerns. */
  private readonly exported = new Map<string, Set<string>>();
  private readonly onRefused: (refused: RefusedEndpoints) => void;
  private readonly podIPs: PodIPLookup | undefined;
  private apiServer = new BlockList();
  private apiServerKey = '';
  private gatewayPods = new BlockList();
  private gatewayPodsKey = '';
  /** The refusal of every ClusterIP of this cluster that forwards to a gateway, by its ipKey. */
  private loopReasons: ReadonlyMap<string, string> = new Map();
  private loopClusterIPs = new ExactAddresses(this.loopReasons);
  private loopsListed: boolean;
  /** The key (ipKey) of each address of the last setLoopClusterIPs, '' for no IP address. */
  private loopKeyOf = new Map<string, string>();

  constructor(options: ServiceIndexOptions = {}) {
    this.onRefused = options.onRefused ?? (() => {});
    this.podIPs = options.podIPs;
    this.loopsListed = options.awaitLoopClusterIPs !== true;
  }

  upsertService(s: ExportedService): void {
    const e = this.entry(s.namespace, s.name);
    const newlyExported = e.service === undefined;
    e.service = s;
    if (newlyExported) this.exportedIn(s.namespace).add(s.name);
    e.resolved.clear();
    // Slices of a Service that was not exported are kept unfiltered: filter them now.
    if (newlyExported)
      for (const [name, state] of e.slices) this.filter(s.namespace, s.name, name, state, true);
  }

  /**
   * The addresses of the `default/kubernetes` Service (ClusterIP, EndpointSlices): never dialled.
   * A change re-filters every exported Service's slices (rare: an API server joins or moves).
   */
  setApiServerAddresses(addresses: Iterable<string>): void {
    const list = addressList(addresses);
    if (list.key === this.apiServerKey) return;
    this.apiServerKey = list.key;
    this.apiServer = list.list;
    this.refilterAll();
  }

  /**
   * The addresses of this cluster's gateway pods (the slices of its gateway Services): never
   * dialled, since their egress listeners tunnel again (a loop). A change re-filters every exported
   * Service's slices (rare: a gateway pod starts or goes).
   */
  setGatewayAddresses(addresses: Iterable<string>): void {
    const list = addressList(addresses);
    if (list.key === this.gatewayPodsKey) return;
    this.gatewayPodsKey = list.key;
    this.gatewayPods = list.list;
    this.refilterAll();
  }

  /**
   * Every ClusterIP of this cluster that kube-proxy forwards to a gateway (mirrors, federated
   * Services, steered apexes), as `[address, reason]`: never dialled (a loop). Only the slices of
   * exported Services that list an address that came, went or changed reason are judged again
   * (mirrors come and go with every export of every linked cluster); the first call judges every
   * one (`awaitLoopClusterIPs`). The first reason given for an address is kept.
   */
  setLoopClusterIPs(entries: Iterable<readonly [address: string, reason: string]>): void {
    // Called once per Service that comes or goes, with all of them: spelling each address afresh
    // made a burst of 2,000 new mirrors cost 3 s (ipKey), against 0.2 s with the last call's keys.
    const keyOf = new Map<string, string>();
    const next = new Map<string, string>();
    for (const [address, reason] of entries) {
      const k = this.loopKeyOf.get(address) ?? (isIP(address) === 0 ? '' : ipKey(address));
      keyOf.set(address, k);
      if (k !== '' && !next.has(k)) next.set(k, reason);
    }
    this.loopKeyOf = keyOf;
    const changed = new Set<string>();
    for (const [k, reason] of next) if (this.loopReasons.get(k) !== reason) changed.add(k);
    for (const k of this.loopReasons.keys()) if (!next.has(k)) changed.add(k);
    const first = !this.loopsListed;
    this.loopsListed = true;
    this.loopReasons = next;
    this.loopClusterIPs = new ExactAddresses(next);
    if (first) this.rejudgeExported([...this.exported.keys()]);
    else if (changed.size > 0)
      this.rejudgeExported([...this.exported.keys()], (state) => listsAny(state, changed));
  }

  /** Judges every slice again after a change of what is refused; reports only news. */
  private refilterAll(): void {
    for (const [k, e] of this.entries) {
      const [ns = '', name = ''] = k.split('/');
      for (const [slice, state] of e.slices) {
        if (e.service) this.filter(ns, name, slice, state, false);
        else state.dialable = undefined;
      }
      e.resolved.clear();
    }
  }

  removeService(ns: string, name: string): void {
    const e = this.entries.get(key(ns, name));
    if (!e) return;
    e.service = undefined;
    e.resolved.clear();
    const names = this.exported.get(ns);
    names?.delete(name);
    if (names?.size === 0) this.exported.delete(ns);
    this.gc(ns, name, e);
  }

  /**
   * `--dial-pod-ips-only`: the Pod IPs of `namespace` given as `keys` (ipKey) appeared or went, so
   * the slices of its exported Services that list one are judged again (reported only when their
   * refusals change). Without arguments (the Pods were just listed), every exported slice is.
   */
  podIPsChanged(namespace?: string, keys?: ReadonlySet<string>): void {
    this.rejudgeExported(
      namespace === undefined ? [...this.exported.keys()] : [namespace],
      keys && ((state) => state.endpoints.some((ep) => keys.has(ipKey(ep.address)))),
    );
  }

  /** Judges again the slices of the exported Services of `namespaces` that `concerned` picks (all). */
  private rejudgeExported(namespaces: readonly string[], concerned?: (state: SliceState) => boolean): void {
    for (const ns of namespaces) {
      for (const name of this.exported.get(ns) ?? []) {
        const e = this.entries.get(key(ns, name));
        if (!e) continue;
        for (const [slice, state] of e.slices) {
          if (concerned && !concerned(state)) continue;
          this.filter(ns, name, slice, state, false);
          e.resolved.clear();
        }
      }
    }
  }

  /** Slices may arrive before their Service (watch order is not guaranteed); they are kept until removed. */
  setSliceEndpoints(ns: string, service: string, sliceName: string, endpoints: EndpointView[]): void {
    const e = this.entry(ns, service);
    const state: SliceState = { endpoints, refused: '' };
    e.slices.set(sliceName, state);
    e.resolved.clear();
    if (e.service) this.filter(ns, service, sliceName, state, true);
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
    // Kube DNS names pods (`<hostname>.<svc>`) of headless Services only: for any other Service the
    // pod form would let a peer pin one pod and bypass its balancing. (Per-pod mirrors are made for
    // headless remote Services only: src/mirror/mirror-kind.ts.)
    if (target.kind === 'pod' && !svc.headless) {
      return {
        ok: false,
        status: 403,
        reason: `service ${svc.namespace}/${svc.name} is not headless: its pods have no names to reach them by`,
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
      const unlisted =
        this.podIPs?.listed === false
          ? ' (--dial-pod-ips-only: the Pods are not listed yet)'
          : this.loopsListed
            ? ''
            : ' (the Services that forward to a gateway are not listed yet: mirrors, federated Services, split apexes)';
      return {
        ok: false,
        status: 503,
        reason: `no ready endpoint for ${what}${svc.namespace}/${svc.name}:${target.port}${unlisted}`,
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
    for (const slice of e.slices.values()) {
      // Set for every slice of an exported Service (filter); refused endpoints are not in it.
      for (const ep of slice.dialable ?? []) {
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

  /**
   * Sets `state.dialable` and reports the refused endpoints: always after a change of the slice
   * (`always`), otherwise only when they differ from those last reported.
   */
  private filter(ns: string, service: string, slice: string, state: SliceState, always: boolean): void {
    const pods = this.podIPs;
    // Nothing is known to be a pod (or to forward to a gateway) yet: nothing is dialled, and nothing
    // reported that the listing may contradict a moment later (podIPsChanged() and
    // setLoopClusterIPs() judge every slice once the Pods, the Services, are listed).
    if (pods?.listed === false || !this.loopsListed) {
      state.dialable = [];
      return;
    }
    const refused: RefusedEndpoints['refused'] = [];
    state.dialable = state.endpoints.filter((ep) => {
      const reason =
        dialRefusal(ep.address, {
          apiServer: this.apiServer,
          gatewayPods: this.gatewayPods,
          loopClusterIPs: this.loopClusterIPs,
        }) ?? (pods ? podIPRefusal(ep.address, ns, pods) : null);
      if (reason !== null) refused.push({ address: ep.address, reason });
      return reason === null;
    });
    const key = refused.map((r) => `${r.address} ${r.reason}`).join('\n');
    const changed = key !== state.refused;
    state.refused = key;
    if (refused.length > 0 && (always || changed)) this.onRefused({ namespace: ns, service, slice, refused });
  }

  private exportedIn(ns: string): Set<string> {
    let names = this.exported.get(ns);
    if (!names) {
      names = new Set();
      this.exported.set(ns, names);
    }
    return names;
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
