/**
 * Mirror Services into egress routes: the translation and the admission are pure
 * (`routesFromMirror`, `admitRoutes`); `watchMirrors` applies them as the informers change. The mirror controller writes, on each
 * mirror `<svc>-<cluster>`, which local egress port leads to which of the mirror's ports
 * (`isthmus.dev/egress-ports`), which remote gateway the tunnel goes to (`isthmus.dev/remote-gateway`)
 * and the remote Service's fully-qualified name (`mirror.linkerd.io/remote-svc-fq-name`); see
 * shared/DESIGN.md, "Names and keys". A mirror's ports equal the remote Service's ports, so the
 * tunnel `:authority` is `<fq name>:<mirror port>`.
 */

import { hostPort, parseHostPort } from '../host-port.js';
import {
  CLUSTER_NAME_LABEL,
  EGRESS_PORTS_ANNOTATION,
  MANAGED_BY_LABEL,
  MANAGED_BY_MIRROR,
  REMOTE_GATEWAY_ANNOTATION,
  REMOTE_SVC_FQ_NAME_ANNOTATION,
} from '../kube/keys.js';
import { claimsRoutes, type VouchedPorts, vouchedNames, vouchedPorts } from '../kube/linkerd-mirror.js';
import { oldestFirst } from '../kube/oldest-first.js';
import type { Link, V1EndpointSlice, V1Service } from '../kube/types.js';
import { linkedClusters } from './peers.js';
import { type LinkEvents, linkedGateways, targetKey } from './probe-targets.js';
import type { WatchSource } from './watch-exports.js';

/** Matches the colleague's `EgressRoute` in egress.ts (structural, so either may be imported). */
export interface MirrorEgressRoute {
  port: number;
  remote: { host: string; port: number };
  authority: string;
  /** `namespace/name` of the mirror Service the route comes from. */
  mirror: string;
  /** The cluster the mirror comes from: the remote gateway must hold its gateway identity. */
  cluster: string;
}

export interface MirrorRoutes {
  routes: MirrorEgressRoute[];
  /** One sentence per thing ignored, with the reason; logged by the watcher. */
  problems: string[];
}

export function routesFromMirror(svc: V1Service): MirrorRoutes {
  const key = `${svc.metadata?.namespace ?? ''}/${svc.metadata?.name ?? ''}`;
  const annotations = svc.metadata?.annotations ?? {};
  // Linkerd's mirrors and federated Services (mid-migration), or a Service labelled as a mirror by
  // hand, claim no route: nothing to open, nothing to refuse. Any other claim is judged (`admitRoutes`).
  if (!claimsRoutes(svc)) return { routes: [], problems: [] };
  const problems: string[] = [];
  const egressPorts = annotations[EGRESS_PORTS_ANNOTATION];
  // A headless parent has no egress port: its endpoints are its per-pod mirrors' cluster IPs.
  if (svc.spec?.clusterIP === 'None' && egressPorts?.trim() === '') return { routes: [], problems: [] };
  const gateway = annotations[REMOTE_GATEWAY_ANNOTATION];
  const fqName = annotations[REMOTE_SVC_FQ_NAME_ANNOTATION];
  const cluster = svc.metadata?.labels?.[CLUSTER_NAME_LABEL];
  if (cluster === undefined || cluster.trim() === '') problems.push(`${key}: no ${CLUSTER_NAME_LABEL} label`);
  if (egressPorts === undefined || egressPorts.trim() === '')
    problems.push(`${key}: no ${EGRESS_PORTS_ANNOTATION}`);
  if (fqName === undefined || fqName.trim() === '')
    problems.push(`${key}: no ${REMOTE_SVC_FQ_NAME_ANNOTATION}`);
  const remote = gateway === undefined ? null : parseHostPort(gateway);
  if (gateway === undefined) problems.push(`${key}: no ${REMOTE_GATEWAY_ANNOTATION}`);
  else if (remote === null)
    problems.push(`${key}: ${REMOTE_GATEWAY_ANNOTATION} "${gateway}" is not <address>:<port>`);
  if (
    problems.length > 0 ||
    remote === null ||
    egressPorts === undefined ||
    fqName === undefined ||
    cluster === undefined
  ) {
    return { routes: [], problems };
  }

  const routes: MirrorEgressRoute[] = [];
  const seen = new Set<number>();
  for (const entry of egressPorts.split(',').map((e) => e.trim())) {
    if (entry === '') continue;
    const m = /^([^=\s]+)=(\d{1,5})$/.exec(entry);
    const egressPort = m === null ? Number.NaN : Number(m[2]);
    if (m === null || egressPort < 1 || egressPort > 65535) {
      problems.push(`${key}: egress port entry "${entry}" is not <portName or number>=<port>`);
      continue;
    }
    const servicePort = findPort(svc, m[1] as string);
    if (servicePort === undefined) {
      problems.push(`${key}: egress port entry "${entry}" names no port of the mirror`);
      continue;
    }
    if (seen.has(egressPort)) {
      problems.push(`${key}: egress port ${egressPort} is given twice`);
      continue;
    }
    seen.add(egressPort);
    routes.push({
      port: egressPort,
      remote,
      authority: `${fqName.trim()}:${servicePort}`,
      mirror: key,
      cluster: cluster.trim(),
    });
  }
  return { routes, problems };
}

/** A port by name, else (for an all-digit reference) by number, as Service targetPort does. */
function findPort(svc: V1Service, ref: string): number | undefined {
  const ports = svc.spec?.ports ?? [];
  const byName = ports.find((p) => p.name === ref);
  if (byName !== undefined) return byName.port;
  if (!/^\d+$/.test(ref)) return undefined;
  return ports.find((p) => p.port === Number(ref))?.port;
}

/** The egress ports the mirror controller allocates from (`--egress-port-range`). */
export interface EgressPortRange {
  first: number;
  last: number;
}

/** A route not served (or a mirror's new route not yet served), with the reason: `/routes` lists them. */
export interface RefusedRoute {
  /** `namespace/name` of the Service that asked for it. */
  mirror: string;
  /** The egress port, when the refusal is about one port of the Service. */
  port?: number;
  reason: string;
  /** The Service's last admitted routes still serve: its remote gateway is changing (see `admitRoutes`). */
  kept?: true;
  /**
   * No slice of the mirror controller lists the port (yet: it writes a new mirror's Service, then
   * its slice), so the watcher logs it only if it lasts.
   */
  unvouched?: true;
}

/** The routes one mirror was given, with the Service's uid: a Service deleted and created again is another claim. */
export interface AdmittedMirror {
  uid: string | undefined;
  routes: MirrorEgressRoute[];
}

export interface AdmittedRoutes {
  /** Served, one per port, by port. */
  routes: MirrorEgressRoute[];
  refused: RefusedRoute[];
  /** `<mirror>: <reason>` per refusal: what the watcher logs. */
  problems: string[];
  /** By mirror: the `previous` of the next call. */
  admitted: ReadonlyMap<string, AdmittedMirror>;
}

export interface RouteAdmission {
  /** The Links of the system namespace (the gateway's Link informer). */
  links: readonly Link[];
  /** The mirror controller's slices' ports (`vouchedPorts`): a port they do not list is not routed. */
  vouched: VouchedPorts;
  /**
   * The remote name each controller slice records (`vouchedNames`): a Service whose
   * `remote-svc-fq-name` says otherwise is not routed. A slice without one (written by an older
   * controller) vouches for the ports alone.
   */
  vouchedNames?: ReadonlyMap<string, string>;
  egressRange: EgressPortRange;
  /** What the last call admitted (its `admitted`): see `admitRoutes`. */
  previous?: ReadonlyMap<string, AdmittedMirror>;
}

/**
 * The routes the egress serves. Any tenant may create a Service labelled as a mirror, so the
 * labels and annotations are a claim, not a proof: a route is admitted only when
 *
 * - the Service's cluster (`mirror.linkerd.io/cluster-name`) has a Link in the system namespace;
 * - its remote gateway is one that Link names: `spec.gatewayAddress` with `gatewayPort`, or
 *   `status.gatewayAddresses` (the remote LoadBalancer the controller follows), compared in one
 *   spelling (`targetKey`), so the gateway never dials an address a tenant chose;
 * - its egress port is inside the egress port range;
 * - an EndpointSlice of the mirror controller (`managed-by: mirror.isthmus.dev`) for that Service
 *   lists the port (`vouched`). Anyone who may edit a Service may write these labels and
 *   annotations, and claim another namespace's mirror's port or any remote authority; the
 *   controller's slice is what callers are sent to, and EndpointSlices are written by controllers:
 *   Kubernetes' aggregated edit and admin roles never grant them (CVE-2021-25740). So a forged
 *   claim is refused however old its Service is, and a gateway that restarts cannot hand a
 *   mirror's port to another Service.
 *
 * Two vouched claims on one port (a slice of a mirror being replaced): the Service that held it
 * in the last call keeps it, else the oldest (creationTimestamp, then namespace/name).
 *
 * A remote gateway address changes in two writes that land in either order (the mirror's
 * annotation, the Link's status): a mirror whose only fault is a gateway its Link does not name
 * keeps the routes it was last admitted with (same uid, its Link still there) until the Link names
 * the new one, so callers see no gap. Pure: the watcher calls it on every Service or Link change.
 */
export function admitRoutes(services: readonly V1Service[], admission: RouteAdmission): AdmittedRoutes {
  const gateways = linkedGateways(admission.links);
  const linked = linkedClusters(admission.links);
  const { first, last } = admission.egressRange;
  const previous = admission.previous ?? new Map<string, AdmittedMirror>();
  const refused: RefusedRoute[] = [];
  const candidates: Array<{ key: string; uid: string | undefined; routes: MirrorEgressRoute[] }> = [];

  for (const svc of [...services].sort(oldestFirst)) {
    const key = mirrorKey(svc);
    const uid = svc.metadata?.uid;
    const parsed = routesFromMirror(svc);
    for (const problem of parsed.problems)
      refused.push({ mirror: key, reason: problem.slice(key.length + 2) });
    if (parsed.routes.length === 0) continue;
    const cluster = (parsed.routes[0] as MirrorEgressRoute).cluster;
    if (!linked.has(cluster)) {
      refused.push({
        mirror: key,
        reason: `cluster "${cluster}" has no Link: only the mirrors the controller writes for a Link are routed`,
      });
      continue;
    }
    const remote = (parsed.routes[0] as MirrorEgressRoute).remote;
    if (gateways.get(targetKey(remote))?.has(cluster) !== true) {
      const reason = `remote gateway ${hostPort(remote.host, remote.port)} is not one the Link to cluster "${cluster}" names (spec.gatewayAddress and gatewayPort, or status.gatewayAddresses)`;
      const kept = previous.get(key);
      if (kept !== undefined && kept.uid === uid && kept.routes[0]?.cluster === cluster) {
        const was = kept.routes[0] as MirrorEgressRoute;
        refused.push({
          mirror: key,
          reason: `${reason}; its last admitted routes (to ${hostPort(was.remote.host, was.remote.port)}) serve until the Link names it`,
          kept: true,
        });
        candidates.push({ key, uid, routes: kept.routes });
      } else refused.push({ mirror: key, reason });
      continue;
    }
    const recorded = admission.vouchedNames?.get(key);
    const claimed = svc.metadata?.annotations?.[REMOTE_SVC_FQ_NAME_ANNOTATION]?.trim();
    if (recorded !== undefined && claimed !== recorded) {
      refused.push({
        mirror: key,
        reason: `its ${REMOTE_SVC_FQ_NAME_ANNOTATION} "${claimed}" is not the remote name the mirror controller's EndpointSlice records ("${recorded}")`,
      });
      continue;
    }
    const inRange: MirrorEgressRoute[] = [];
    const vouched = admission.vouched.get(key);
    for (const route of parsed.routes) {
      if (route.port < first || route.port > last)
        refused.push({
          mirror: key,
          port: route.port,
          reason: `egress port ${route.port} is outside the egress port range ${first}-${last}`,
        });
      else if (vouched?.has(route.port) !== true)
        refused.push({
          mirror: key,
          port: route.port,
          reason: `no EndpointSlice of the mirror controller (${MANAGED_BY_LABEL}=${MANAGED_BY_MIRROR}) lists egress port ${route.port} for it: only ports the controller gave a mirror are routed`,
          unvouched: true,
        });
      else inRange.push(route);
    }
    candidates.push({ key, uid, routes: inRange });
  }

  // The holder of a port in the last call keeps it while it still claims it: no flapping, no takeover.
  const owner = new Map<number, string>();
  for (const { key, uid, routes } of candidates) {
    const held = previous.get(key);
    if (held === undefined || held.uid !== uid) continue;
    for (const route of routes)
      if (held.routes.some((r) => r.port === route.port)) owner.set(route.port, key);
  }
  const admitted = new Map<string, AdmittedMirror>();
  const routes: MirrorEgressRoute[] = [];
  for (const { key, uid, routes: wanted } of candidates) {
    const mine: MirrorEgressRoute[] = [];
    for (const route of wanted) {
      const holder = owner.get(route.port) ?? key;
      if (holder !== key) {
        refused.push({
          mirror: key,
          port: route.port,
          reason: `egress port ${route.port} is already held by ${holder}, an older claim`,
        });
        continue;
      }
      owner.set(route.port, key);
      mine.push(route);
    }
    if (mine.length === 0) continue;
    admitted.set(key, { uid, routes: mine });
    routes.push(...mine);
  }
  routes.sort((a, b) => a.port - b.port);
  return { routes, refused, problems: refused.map((r) => `${r.mirror}: ${r.reason}`), admitted };
}

function mirrorKey(svc: V1Service): string {
  return `${svc.metadata?.namespace ?? ''}/${svc.metadata?.name ?? ''}`;
}

/** What the mirror watcher drives: the colleague's `EgressListeners` (egress.ts). */
export interface RouteSink {
  apply(routes: MirrorEgressRoute[]): unknown;
}

export interface MirrorWatcherOptions {
  /** The Links of the system namespace: a route needs its cluster's Link (see `admitRoutes`). */
  links: LinkEvents;
  /** The mirror controller's EndpointSlices: a route needs its port listed there (see `admitRoutes`). */
  slices: WatchSource<V1EndpointSlice>;
  egressRange: EgressPortRange;
  /**
   * Nothing is applied while this says no (the Link informer has not listed yet: every mirror
   * would look unlinked); `refresh()` once it says yes.
   */
  ready?: () => boolean;
  /** Mirror changes come in bursts (a Link's first sync writes many); one apply per burst. */
  debounceMs: number;
  /**
   * Told the refusals of each apply (the set, not a diff), e.g. to log them when they change. An
   * event storm that changes nothing still calls it once per apply, with the same set.
   */
  onRefused?: (refused: RefusedRoute[]) => void;
  /**
   * Told when an apply throws (a port another process holds, say). The next change retries, and
   * so does a timer after `retryMs` (default 5 s): a mirror that never changes again still gets
   * its listener once the port is free.
   */
  onError?: (err: unknown) => void;
  retryMs?: number;
}

export interface MirrorWatcher {
  /** The routes refused at the last apply, with the reason (admin `/routes`). */
  refused(): RefusedRoute[];
  /** Re-applies (debounced): after what `ready` waits for has come. */
  refresh(): void;
  /** Resolves once no apply is pending or running (for readiness and tests). */
  idle(): Promise<void>;
  /** Stops reacting to events and waits for a running apply to finish. */
  close(): Promise<void>;
}

/**
 * Re-applies the full route set on every change, debounced and serialised: applies never overlap,
 * and a change during an apply schedules exactly one more. The sink receives the complete desired
 * state each time, so it can diff against what it listens on.
 */
export function watchMirrors(
  source: WatchSource<V1Service>,
  sink: RouteSink,
  options: MirrorWatcherOptions,
): MirrorWatcher {
  let timer: NodeJS.Timeout | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let dirty = false;
  let closed = false;
  const waiters: Array<() => void> = [];
  let previous: ReadonlyMap<string, AdmittedMirror> = new Map();
  let refused: RefusedRoute[] = [];

  const settle = (): void => {
    if (timer !== undefined || running !== undefined) return;
    for (const w of waiters.splice(0)) w();
  };

  const run = async (): Promise<void> => {
    let failed = false;
    while (dirty && !closed) {
      dirty = false;
      if (options.ready?.() === false) break;
      const result = admitRoutes(source.list(), {
        links: options.links.list(),
        vouched: vouchedPorts(options.slices.list()),
        vouchedNames: vouchedNames(options.slices.list()),
        egressRange: options.egressRange,
        previous,
      });
      // What was admitted is what the next admission keeps for a mirror whose gateway is changing,
      // applied or not (a port another process holds is the listener's problem, not the claim's).
      previous = result.admitted;
      refused = result.refused;
      options.onRefused?.(refused);
      try {
        await sink.apply(result.routes);
        failed = false;
      } catch (err) {
        failed = true;
        options.onError?.(err);
      }
    }
    // Not part of idle(): readiness waits for an apply, not for a port to come free.
    if (failed && !closed && retryTimer === undefined) {
      retryTimer = setTimeout(() => {
        retryTimer = undefined;
        schedule();
      }, options.retryMs ?? 5_000);
      retryTimer.unref();
    }
  };

  const fire = (): void => {
    timer = undefined;
    if (running !== undefined || closed) {
      settle();
      return;
    }
    running = run().finally(() => {
      running = undefined;
      // A change that arrived while the last apply ran has set `dirty` and may have no timer.
      if (dirty && !closed) schedule();
      settle();
    });
  };

  const schedule = (): void => {
    dirty = true;
    if (closed || timer !== undefined || running !== undefined) return;
    timer = setTimeout(fire, options.debounceMs);
  };

  const offs = [source.onEvent(schedule), options.links.onEvent(schedule), options.slices.onEvent(schedule)];
  schedule(); // the initial state, even if it is "no mirrors"

  return {
    refused: () => refused,
    refresh: schedule,
    idle: () =>
      new Promise<void>((resolve) => {
        waiters.push(resolve);
        settle();
      }),
    async close() {
      closed = true;
      for (const off of offs) off();
      if (timer !== undefined) clearTimeout(timer);
      clearTimeout(retryTimer);
      timer = undefined;
      await running;
      settle();
    },
  };
}

/** How long a port no controller slice lists may stay refused before it is logged. */
export const UNVOUCHED_LOG_AFTER_MS = 10_000;

export interface LastingRefusals {
  /**
   * After every apply: forgets the reported refusals that are gone (so one that comes back is
   * reported again), and reports those refused now that are still refused `afterMs` later.
   */
  update(): void;
  stop(): void;
}

/**
 * Unvouched refusals (`RefusedRoute.unvouched`) reported only once they last `afterMs`: a new
 * mirror's Service comes a moment before its slice, which no one needs to read about; a forged
 * claim, or a slice that never comes, is reported once, and again if it comes back later.
 */
export function lastingRefusals(
  current: () => readonly RefusedRoute[],
  afterMs: number,
  report: (lasting: RefusedRoute[]) => void,
): LastingRefusals {
  let timer: NodeJS.Timeout | undefined;
  let pending = new Set<string>();
  const said = new Set<string>();
  const keyOf = (r: RefusedRoute) => `${r.mirror} ${r.port ?? ''}`;
  const unvouched = () => current().filter((r) => r.unvouched === true);
  const forgetGone = (keys: ReadonlySet<string>): void => {
    for (const k of [...said]) if (!keys.has(k)) said.delete(k);
  };
  const schedule = (): void => {
    const now = unvouched();
    forgetGone(new Set(now.map(keyOf)));
    if (timer !== undefined || now.length === 0) return;
    pending = new Set(now.map(keyOf));
    timer = setTimeout(() => {
      timer = undefined;
      const now = unvouched();
      forgetGone(new Set(now.map(keyOf)));
      const lasting = now.filter((r) => pending.has(keyOf(r)) && !said.has(keyOf(r)));
      for (const r of lasting) said.add(keyOf(r));
      if (lasting.length > 0) report(lasting);
      // Refusals that came after this timer started get their own wait.
      if (now.some((r) => !said.has(keyOf(r)))) schedule();
    }, afterMs);
    timer.unref();
  };
  return {
    update: schedule,
    stop() {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}
