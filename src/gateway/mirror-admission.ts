/**
 * Which mirror Services become egress routes, pure: `routesFromMirror` translates one mirror's
 * claim, `admitRoutes` admits the claims of all of them. The mirror controller writes, on each
 * mirror `<svc>-<cluster>`, which local egress port leads to which of the mirror's ports
 * (`isthmus.dev/egress-ports`), which remote gateway the tunnel goes to (`isthmus.dev/remote-gateway`)
 * and the remote Service's fully-qualified name (`mirror.linkerd.io/remote-svc-fq-name`); see
 * shared/DESIGN.md, "Names and keys". A mirror's ports equal the remote Service's ports, so the
 * tunnel `:authority` is `<fq name>:<mirror port>`. A pass is three steps (`parseMirror` per
 * Service, `judgeMirror` per Service, `resolveClaims` over all), so the watcher can redo only the
 * first two for what changed (incremental-admission.ts).
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
import { claimsRoutes, type VouchedPorts } from '../kube/linkerd-mirror.js';
import { oldestFirst } from '../kube/oldest-first.js';
import type { Link, V1Service } from '../kube/types.js';
import { linkedClusters } from './peers.js';
import { linkedGateways, targetKey } from './probe-targets.js';

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
  /**
   * Admitted, but the egress cannot listen on the port (another process holds it, say): the watcher
   * retries every few seconds (`MirrorWatcherOptions.retryMs`).
   */
  unbound?: true;
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
 * the new one, so callers see no gap. Pure; the watcher gets the same result from
 * `incrementalAdmission`.
 */
export function admitRoutes(services: readonly V1Service[], admission: RouteAdmission): AdmittedRoutes {
  const context = admissionContext(admission.links, admission.egressRange);
  const judged = [...services].sort(oldestFirst).map((svc) => {
    const mirror = parseMirror(svc);
    return judgeMirror(
      mirror,
      context,
      admission.vouched.get(mirror.key),
      admission.vouchedNames?.get(mirror.key),
    );
  });
  return resolveClaims(judged, admission.previous ?? new Map());
}

/** What admission reads of one Service: nothing else of it counts (the watcher's fingerprint). */
export interface ParsedMirror {
  key: string;
  uid: string | undefined;
  /** creationTimestamp in ms, +Infinity without one (`oldestFirst`). */
  created: number;
  /** Its `remote-svc-fq-name`, compared with the one its controller slice records. */
  claimedName: string | undefined;
  parsed: MirrorRoutes;
}

export function parseMirror(svc: V1Service): ParsedMirror {
  const t = svc.metadata?.creationTimestamp as unknown;
  const ms = t instanceof Date ? t.getTime() : Date.parse(String(t ?? ''));
  return {
    key: mirrorKey(svc),
    uid: svc.metadata?.uid,
    created: Number.isFinite(ms) ? ms : Number.POSITIVE_INFINITY,
    claimedName: svc.metadata?.annotations?.[REMOTE_SVC_FQ_NAME_ANNOTATION]?.trim(),
    parsed: routesFromMirror(svc),
  };
}

/** `oldestFirst` on parsed mirrors: creationTimestamp, then `namespace/name`. */
export function byAge(a: ParsedMirror, b: ParsedMirror): number {
  if (a.created !== b.created) return a.created < b.created ? -1 : 1;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/** What every mirror is judged against: the Links' clusters and gateways, the egress port range. */
export interface AdmissionContext {
  gateways: ReadonlyMap<string, ReadonlySet<string>>;
  linked: ReadonlySet<string>;
  egressRange: EgressPortRange;
}

export function admissionContext(links: readonly Link[], egressRange: EgressPortRange): AdmissionContext {
  return { gateways: linkedGateways(links), linked: linkedClusters(links), egressRange };
}

/** One mirror judged alone: all of `admitRoutes` but the kept routes and the contested ports. */
export interface JudgedMirror {
  key: string;
  uid: string | undefined;
  /** Its refusals so far, in order. */
  refused: RefusedRoute[];
  /** The routes it may have unless an older claim holds their ports (`resolveClaims`). */
  routes?: MirrorEgressRoute[];
  /** Its fault is only a remote gateway the Link does not name: its last routes may be kept. */
  unnamedGateway?: { reason: string; cluster: string };
}

/** `vouched` and `vouchedName`: what the mirror controller's slices say of this mirror. */
export function judgeMirror(
  mirror: ParsedMirror,
  context: AdmissionContext,
  vouched: ReadonlySet<number> | undefined,
  vouchedName: string | undefined,
): JudgedMirror {
  const { key, uid, parsed } = mirror;
  const refused: RefusedRoute[] = parsed.problems.map((problem) => ({
    mirror: key,
    reason: problem.slice(key.length + 2),
  }));
  const judged: JudgedMirror = { key, uid, refused };
  if (parsed.routes.length === 0) return judged;
  const { cluster, remote } = parsed.routes[0] as MirrorEgressRoute;
  if (!context.linked.has(cluster)) {
    refused.push({
      mirror: key,
      reason: `cluster "${cluster}" has no Link: only the mirrors the controller writes for a Link are routed`,
    });
    return judged;
  }
  if (context.gateways.get(targetKey(remote))?.has(cluster) !== true) {
    const reason = `remote gateway ${hostPort(remote.host, remote.port)} is not one the Link to cluster "${cluster}" names (spec.gatewayAddress and gatewayPort, or status.gatewayAddresses)`;
    judged.unnamedGateway = { reason, cluster };
    return judged;
  }
  if (vouchedName !== undefined && mirror.claimedName !== vouchedName) {
    refused.push({
      mirror: key,
      reason: `its ${REMOTE_SVC_FQ_NAME_ANNOTATION} "${mirror.claimedName}" is not the remote name the mirror controller's EndpointSlice records ("${vouchedName}")`,
    });
    return judged;
  }
  const { first, last } = context.egressRange;
  const inRange: MirrorEgressRoute[] = [];
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
  judged.routes = inRange;
  return judged;
}

/**
 * The claims of `judged` (oldest first) weighed against each other and against what the last
 * call admitted (`previous`): kept routes, and who holds a port two Services claim.
 */
export function resolveClaims(
  judged: readonly JudgedMirror[],
  previous: ReadonlyMap<string, AdmittedMirror>,
): AdmittedRoutes {
  const refused: RefusedRoute[] = [];
  const candidates: Array<{ key: string; uid: string | undefined; routes: MirrorEgressRoute[] }> = [];
  for (const { key, uid, refused: own, routes, unnamedGateway } of judged) {
    for (const r of own) refused.push(r);
    if (routes !== undefined) candidates.push({ key, uid, routes });
    if (unnamedGateway === undefined) continue;
    const { reason, cluster } = unnamedGateway;
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

export function mirrorKey(svc: V1Service): string {
  return `${svc.metadata?.namespace ?? ''}/${svc.metadata?.name ?? ''}`;
}
