/**
 * One reconcile of one remote Service key (`namespace/name`): read the caches, allocate egress
 * ports, plan, apply. Level-triggered: it works from current state only, so any missed event is
 * healed by the next pass over the key.
 */
import type { IsthmusError } from '../errors.js';
import {
  CLUSTER_NAME_LABEL,
  EGRESS_PORTS_ANNOTATION,
  HEADLESS_MIRROR_LABEL,
  MIRRORED_SERVICE_LABEL,
} from '../kube/keys.js';
import { vouchedPorts } from '../kube/linkerd-mirror.js';
import { R } from '../kube/resources.js';
import type { V1EndpointSlice, V1Service } from '../kube/types.js';
import { type AppliedAction, applyActions, type CacheView } from './applier.js';
import type { DirectEndpoints } from './direct-endpoints.js';
import type { LinkConfig } from './link-config.js';
import { type EndpointNames, mirrorsAsHeadless } from './mirror-kind.js';
import {
  isOurService,
  mirrorName,
  mirrorSliceName,
  parseEgressPorts,
  portKey,
  tunnelledPorts,
} from './mirror-objects.js';
import {
  type Action,
  type GatewayAlive,
  type LocalMirror,
  type MirrorPlan,
  type MirrorTarget,
  mirrorIdentity,
  planDelete,
  planMirror,
  type ServiceMirrorStatus,
} from './plan-mirror.js';
import { mirrorOwner } from './port-allocator.js';
import { refusalOf } from './refusal.js';
import type { SharedLocal } from './shared.js';
import { headlessStatus, type PodLeftOut, skipReason, slicePortsSkip } from './skip-reason.js';

/** `total` and `named` count every endpoint, ready or not: they decide a headless mirror's kind. */
export interface RemoteEndpoints extends EndpointNames {
  ready: number;
  /** Hostnames of ready endpoints (StatefulSet pods of a headless Service). */
  hostnames: string[];
}

/** A remote Service without endpoints, or no remote to ask. */
export const NO_REMOTE_ENDPOINTS: RemoteEndpoints = { ready: 0, hostnames: [], total: 0, named: false };

/** A remote Service one of the Link's selectors picks, and whether it goes through the gateways. */
export interface RemoteService {
  service: V1Service;
  mode: 'gateway' | 'remote-discovery';
}

export interface SyncContext {
  config: LinkConfig;
  shared: SharedLocal;
  remoteSynced(): boolean;
  remoteService(namespace: string, name: string): RemoteService | undefined;
  remoteEndpoints(namespace: string, name: string): RemoteEndpoints;
  /** The remote pods of a remote-discovery Service (only asked for those). */
  directEndpoints(namespace: string, name: string): DirectEndpoints;
  gateway(): { alive: GatewayAlive; addresses: string[]; remote: string };
  /**
   * Told of each local Service (`namespace/name`) that holds a mirror name this sync wanted (a
   * Conflict), in the tick the cache showed it: its deletion queues the key again (blocked-keys.ts).
   */
  blockedBy?(holder: string): void;
  /**
   * Whether the key's removal is held (deletion-hold.ts: a remote list that shrank too much at
   * once), with the status the key had; undefined: not held, a missing Service's mirror goes.
   */
  held?(namespace: string, name: string): { status?: ServiceMirrorStatus } | undefined;
  /**
   * Told of each write of a mirror as soon as it is done, with the status its plan decided: what
   * it says (a hand-over, mirror-notices.ts) is not lost when a later write of the sync fails.
   */
  onApplied?(applied: AppliedAction, status: ServiceMirrorStatus): void;
}

export interface SyncResult {
  /** undefined: the service is not (or no longer) a mirror candidate; its status entry goes. */
  status?: ServiceMirrorStatus;
  ready: boolean;
  applied: AppliedAction[];
  /**
   * Recorded in the status, then thrown: a failed sync, retried with backoff (the key stays
   * queued), a terminal one only every TERMINAL_RETRY_MS.
   */
  retry?: IsthmusError;
}

export async function syncService(ctx: SyncContext, namespace: string, name: string): Promise<SyncResult> {
  if (!ctx.remoteSynced()) return { ready: false, applied: [] }; // nothing is decided on a partial view
  const found = ctx.remoteService(namespace, name);
  if (!found) {
    // Held: the mirror stays exactly as it is (not even its slice is rewritten), and so does its status.
    const held = ctx.held?.(namespace, name);
    if (held) return { ...(held.status ? { status: held.status } : {}), ready: false, applied: [] };
    return { applied: await removeMirrors(ctx, namespace, name), ready: false };
  }
  const remote = found.service;
  const direct = found.mode === 'remote-discovery';
  const endpoints = ctx.remoteEndpoints(namespace, name);
  const stored = ctx.shared.services.get(namespace, mirrorName(name, ctx.config.clusterName));
  if (!direct && mirrorsAsHeadless(remote, ctx.config, endpoints, stored))
    return syncHeadless(ctx, remote, endpoints);
  const target: MirrorTarget = direct
    ? { type: 'direct', endpoints: ctx.directEndpoints(namespace, name) }
    : { type: 'service' };
  const { plan, applied, retry } = await planAndApply(ctx, remote, endpoints.ready, target);
  // Per-pod mirrors left from when this was a headless mirror (Service or Link changed).
  for (const pod of podMirrors(ctx, namespace, mirrorName(name, ctx.config.clusterName))) {
    applied.push(...(await deleteMirror(ctx, namespace, pod.metadata?.name ?? '')));
  }
  return { status: plan.status, ready: plan.ready, applied, ...(retry ? { retry } : {}) };
}

/** The local informer caches, so the applier creates what they do not hold without reading first. */
function cacheView(shared: SharedLocal): CacheView {
  return {
    has: (kind, namespace, name) =>
      (kind === 'Service' ? shared.services : shared.slices).get(namespace, name) !== undefined,
    ...(shared.ownWrites ? { track: shared.ownWrites.track.bind(shared.ownWrites) } : {}),
  };
}

/**
 * The mirror of that name in the local cache: its Service, its slice and its further slices
 * (`<name>.1`, ...: a mirror with more endpoints than one slice holds), which are kept without a
 * gap (plan-mirror.ts finishPlan), so they are looked up by name rather than by scanning the cache.
 */
function localMirror(ctx: SyncContext, namespace: string, name: string): LocalMirror {
  const service = ctx.shared.services.get(namespace, name);
  const slice = ctx.shared.slices.get(namespace, name);
  const extraSlices: V1EndpointSlice[] = [];
  for (let i = 1; ; i++) {
    const extra = ctx.shared.slices.get(namespace, mirrorSliceName(name, i));
    if (!extra) break;
    extraSlices.push(extra);
  }
  return { service, slice, extraSlices };
}

/** Outcomes after which the mirror name holds nothing of ours: its egress ports go back. */
const RELEASES_PORTS = new Set([
  'MissingNamespace',
  'InvalidService',
  'UnsupportedServiceType',
  'NotAllowed',
  'OwnedByIsthmus',
]);

/** Kept, freed, or decided by the Service read at the name (releasePortsUnlessNamed). */
export type PortsLeft = 'free' | 'keep' | 'read';

/**
 * What an applied plan leaves of the egress ports of this Link's allocator key at the mirror name
 * (`mirrorOwner(cluster, namespace, name)`): `free` once the name holds no mirror of this cluster
 * naming them. Another Link's mirror of a colliding name (`api-us` of west and `api` of us-west)
 * has a key of its own: it neither keeps ours nor loses its to ours, so a name another cluster's
 * mirror holds frees ours at once. What still guards a release is this cluster's own mirror at the
 * name: `read` where the cache may be behind our own writes, when a delete stayed (the applier's
 * guard found the name changed hands: perhaps to the mirror an earlier sync of this key made there
 * just now) and when the cache shows nothing at the name (it may not show that mirror yet); the
 * Service read at the name then decides (releasePortsUnlessNamed).
 *
 * A tunnelled target frees them on Conflict when a Service not of this cluster holds the name (the
 * planner deleted our slices of it, and the gateways serve no Service not ours); a Conflict with a
 * mirror of this cluster keeps them: a per-pod mirror `<hostname>-<cluster>` named as another
 * Service's plain mirror has the same key, and those are its ports. On a skip, once its mirror is
 * deleted or the name holds none of this cluster's (a namespace being deleted takes ours with it:
 * its deletion queues the key again). A remote-discovery or headless target has no ports of its
 * own: a mirror it rewrote or deleted names them no more (ours, once a plain mirror), one it left
 * alone keeps them while it is this cluster's mirror naming them.
 */
export function portsLeft(
  plan: MirrorPlan,
  local: LocalMirror,
  applied: readonly AppliedAction[],
  tunnelled: boolean,
  cluster: string,
): PortsLeft {
  if (applied.some((a) => a.stayed)) return 'read';
  const slices = localSlicesOf(local);
  if (!tunnelled) {
    const rewritten = plan.actions.some((a) => a.kind === 'applyService' || a.kind === 'deleteService');
    if (rewritten) return 'free';
    if (local.service === undefined) return 'read';
    return namesEgressPorts(local.service, cluster, slices) ? 'keep' : 'free';
  }
  const free = !isOurService(local.service, cluster, slices);
  if (plan.status.reason === 'Conflict') return local.service !== undefined && free ? 'free' : 'keep';
  if (!RELEASES_PORTS.has(plan.status.reason)) return 'keep';
  if (plan.actions.some((a) => a.kind === 'deleteService')) return 'free';
  // Nothing at the name in the cache: it may not show the mirror of ours made there just now.
  return local.service === undefined ? 'read' : free ? 'free' : 'keep';
}

/** This cluster's mirror, naming egress ports: the gateways listen on them for it. */
function namesEgressPorts(
  service: V1Service | undefined,
  cluster: string,
  slices: readonly (V1EndpointSlice | undefined)[] = [],
): boolean {
  return (
    isOurService(service, cluster, slices) &&
    parseEgressPorts(service?.metadata?.annotations?.[EGRESS_PORTS_ANNOTATION]).size > 0
  );
}

function localSlicesOf(local: LocalMirror): (V1EndpointSlice | undefined)[] {
  return [local.slice, ...(local.extraSlices ?? [])];
}

async function planAndApply(
  ctx: SyncContext,
  remote: V1Service,
  readyEndpoints: number,
  target: MirrorTarget,
): Promise<{ plan: MirrorPlan; applied: AppliedAction[]; retry?: IsthmusError }> {
  const { config, shared } = ctx;
  const namespace = remote.metadata?.namespace ?? '';
  const id = mirrorIdentity(remote, config, target);
  const local = localMirror(ctx, namespace, id.name);
  // A namespace being deleted is as good as missing: nothing new can be created in it.
  const stored = shared.namespaces.get(undefined, namespace);
  const namespaceTerminating = Boolean(stored?.metadata?.deletionTimestamp);
  const namespaceExists = stored !== undefined && !namespaceTerminating;
  const owner = mirrorOwner(config.clusterName, namespace, id.name);
  // Ports are allocated only for mirrors we may write; a conflict, a missing namespace, a skip or
  // a Service whose TCP ports a slice cannot hold (which planMirror refuses) holds none, and one
  // that held some keeps them until its mirror is removed (portsLeft). The headless parent and a
  // remote-discovery mirror have no egress ports; one that used to be a plain mirror gives its
  // ports back once it is rewritten.
  const tunnelled = target.type !== 'headless' && target.type !== 'direct';
  const mayWrite =
    tunnelled &&
    !skipReason(remote, config, shared.localCluster) &&
    tunnelledPorts(remote).length > 0 &&
    !slicePortsSkip(remote, false) &&
    (namespaceExists || (config.enableNamespaceCreation && !namespaceTerminating)) &&
    (!local.service ||
      (isOurService(local.service, config.clusterName, [local.slice]) &&
        local.service.metadata?.labels?.[HEADLESS_MIRROR_LABEL] === id.extraLabels[HEADLESS_MIRROR_LABEL]));
  const egressPorts = mayWrite
    ? shared.allocator.allocate(
        owner,
        tunnelledPorts(remote).map(portKey),
        namedPorts(local, namespace, id.name),
      )
    : shared.allocator.owned(owner);
  const plan = planMirror({
    remote: { service: remote, readyEndpointCount: readyEndpoints },
    link: config,
    gateway: ctx.gateway(),
    local: { ...local, namespaceExists, namespaceTerminating },
    egressPorts,
    ...listeningFor(shared, egressPorts),
    target,
    ...(shared.localCluster ? { localCluster: shared.localCluster } : {}),
    clusterFamily: shared.clusterFamily(),
    ...vacatedAt(shared, local, namespace, id.name),
  });
  const holder = `${namespace}/${id.name}`;
  if (plan.status.reason === 'Conflict') ctx.blockedBy?.(holder);
  try {
    const applied = await applyActions(
      shared.client,
      config.clusterName,
      plan.actions,
      cacheView(shared),
      ctx.onApplied && ((a) => ctx.onApplied?.(a, plan.status)),
    );
    // Only once applied: until then the Service that names them may still be there, and the
    // gateway listening on them for it (a failed delete is retried with them).
    const left = portsLeft(plan, local, applied, tunnelled, config.clusterName);
    if (left === 'free') shared.allocator.free(owner);
    // Read only when the key holds ports: a skipped Service that never had a mirror costs nothing.
    else if (left === 'read' && shared.allocator.owned(owner).size > 0)
      await releasePortsUnlessNamed(ctx, namespace, id.name);
    return { plan, applied };
  } catch (err) {
    const refused = refusalOf(err, namespace, config);
    if (!refused) throw err;
    if (refused.reason === 'Conflict') ctx.blockedBy?.(holder);
    await releasePortsUnlessNamed(ctx, namespace, id.name);
    const status = { ...plan.status, reason: refused.reason, message: refused.message };
    return {
      plan: { ...plan, ready: false, status },
      applied: [],
      ...(refused.retry ? { retry: refused.retry } : {}),
    };
  }
}

/**
 * The egress ports our mirror at the name carries (its `isthmus.dev/egress-ports`), for the
 * allocator to prefer for keys it holds nothing for: a mirror whose ports a restart recovered as
 * another's claim (a Link naming its cluster only in its status, once) keeps them, rather than
 * being re-numbered under its callers. Only those its own slice vouches for, as recovery counts
 * them (controller.ts `recoverPorts`): anyone who may write a Service may write the annotation.
 * Called only where the sync may write the mirror: the name holds ours, or nothing.
 */
function namedPorts(local: LocalMirror, namespace: string, name: string): Map<string, number> {
  const vouched = vouchedPorts(local.slice ? [local.slice] : []).get(`${namespace}/${name}`);
  const named = parseEgressPorts(local.service?.metadata?.annotations?.[EGRESS_PORTS_ANNOTATION]);
  return new Map([...named].filter(([, port]) => vouched?.has(port) === true));
}

/** The Service that held a free mirror name until just now, for planMirror (hand-over.ts). */
function vacatedAt(shared: SharedLocal, local: LocalMirror, namespace: string, name: string) {
  const vacated = local.service ? undefined : shared.vacated?.get(namespace, name);
  return vacated ? { vacated } : {};
}

/** What the local gateways listen on, for planMirror; the ports not among them are waited for. */
function listeningFor(shared: SharedLocal, egressPorts: ReadonlyMap<string, number>) {
  const listening = shared.listening?.ports(egressPorts.values());
  return listening ? { listening } : {};
}

/**
 * After a refused write or a delete that stayed, this Link's egress ports at the mirror name go back
 * unless its mirror there still names them: the gateway listens on them for that Service
 * (admitRoutes), so another mirror handed one would share its listener. The refused batch may have
 * written the Service before its slice was refused, which the cache does not show yet: read it.
 * Another cluster's mirror there (a colliding name, one that won a create both Links made at once)
 * keeps none of them: its ports are under its own key. A failed read keeps them; the next sync of
 * the key decides again, and removing the mirror frees them.
 */
async function releasePortsUnlessNamed(ctx: SyncContext, namespace: string, name: string): Promise<void> {
  const cluster = ctx.config.clusterName;
  let named = true;
  try {
    named = namesEgressPorts(await ctx.shared.client.get<V1Service>(R.services, namespace, name), cluster);
  } catch {
    // Kept: see above.
  }
  if (!named) ctx.shared.allocator.free(mirrorOwner(cluster, namespace, name));
}

async function syncHeadless(
  ctx: SyncContext,
  remote: V1Service,
  endpoints: RemoteEndpoints,
): Promise<SyncResult> {
  const namespace = remote.metadata?.namespace ?? '';
  const name = remote.metadata?.name ?? '';
  const applied: AppliedAction[] = [];
  const pods: { hostname: string; clusterIP?: string }[] = [];
  const leftOut: PodLeftOut[] = [];
  let retry: IsthmusError | undefined;
  for (const hostname of endpoints.hostnames) {
    const result = await planAndApply(ctx, remote, 1, { type: 'pod', hostname });
    applied.push(...result.applied);
    retry ??= result.retry;
    if (result.plan.status.reason !== 'Mirrored') {
      leftOut.push({ hostname, status: result.plan.status });
      continue;
    }
    const clusterIP = ctx.shared.services.get(namespace, result.plan.name)?.spec?.clusterIP;
    pods.push(clusterIP ? { hostname, clusterIP } : { hostname });
  }
  // Per-pod mirrors of pods that went away.
  const parent = mirrorName(name, ctx.config.clusterName);
  const wanted = new Set(endpoints.hostnames.map((h) => mirrorName(h, ctx.config.clusterName)));
  for (const svc of podMirrors(ctx, namespace, parent)) {
    const podName = svc.metadata?.name ?? '';
    if (!wanted.has(podName)) applied.push(...(await deleteMirror(ctx, namespace, podName)));
  }
  const parentResult = await planAndApply(ctx, remote, endpoints.ready, { type: 'headless', pods });
  const { plan } = parentResult;
  applied.push(...parentResult.applied);
  retry ??= parentResult.retry;
  const status = headlessStatus(plan.status, parent, leftOut);
  return { status, ready: plan.ready, applied, ...(retry ? { retry } : {}) };
}

function podMirrors(ctx: SyncContext, namespace: string, parent: string): V1Service[] {
  const candidates =
    ctx.shared.podMirrors?.(namespace, parent) ??
    ctx.shared.services
      .list()
      .filter(
        (s) => s.metadata?.namespace === namespace && s.metadata?.labels?.[HEADLESS_MIRROR_LABEL] === parent,
      );
  return candidates.filter((s) => isOurService(s, ctx.config.clusterName));
}

async function deleteMirror(ctx: SyncContext, namespace: string, name: string): Promise<AppliedAction[]> {
  const actions: Action[] = planDelete(
    namespace,
    name,
    localMirror(ctx, namespace, name),
    ctx.config.clusterName,
  );
  const applied = await applyActions(ctx.shared.client, ctx.config.clusterName, actions);
  const key = mirrorOwner(ctx.config.clusterName, namespace, name);
  // A delete that stayed: the name changed hands behind the cache, perhaps to a mirror of ours made
  // there just now; a cache that showed nothing of ours there may not show such a mirror either.
  // Another Link's mirror there never holds these ports (its key has its cluster): the read frees them.
  const unsure = applied.some((a) => a.stayed) || actions.length === 0;
  if (unsure && ctx.shared.allocator.owned(key).size > 0) await releasePortsUnlessNamed(ctx, namespace, name);
  else if (!unsure) ctx.shared.allocator.free(key);
  return applied;
}

/** The remote Service is gone (or unexported): its mirror and per-pod mirrors go too. */
export async function removeMirrors(
  ctx: SyncContext,
  namespace: string,
  name: string,
): Promise<AppliedAction[]> {
  const parent = mirrorName(name, ctx.config.clusterName);
  const applied: AppliedAction[] = [];
  for (const pod of podMirrors(ctx, namespace, parent)) {
    applied.push(...(await deleteMirror(ctx, namespace, pod.metadata?.name ?? '')));
  }
  // A per-pod mirror `<hostname>-<cluster>` may share this name: it belongs to its headless parent
  // (with the same allocator key). Another cluster's mirror there deletes nothing, but any ports
  // this Link's key still holds at the name go (deleteMirror reads the name first).
  const own = ctx.shared.services.get(namespace, parent);
  const holder = own && remoteKeyOf(own, ctx.config.clusterName);
  if (!own || holder === undefined || holder === `${namespace}/${name}`) {
    applied.push(...(await deleteMirror(ctx, namespace, parent)));
  }
  return applied;
}

/**
 * The remote key a local object belongs to: `namespace/<svc>` for a mirror `<svc>-<cluster>`, its
 * per-pod mirrors (through the headless parent label) and a stranger holding a mirror's name —
 * Linkerd's mirror of this cluster included, so the moment Linkerd lets go of it, ours is made.
 */
export function remoteKeyOf(service: V1Service, cluster: string): string | undefined {
  const meta = service.metadata ?? {};
  const suffix = `-${cluster}`;
  const labels = meta.labels ?? {};
  const local = labels[HEADLESS_MIRROR_LABEL] ?? meta.name ?? '';
  // A mirror of another cluster whose name happens to end so is not this Link's business.
  if (labels[MIRRORED_SERVICE_LABEL] === 'true' && labels[CLUSTER_NAME_LABEL] !== cluster) return undefined;
  if (!local.endsWith(suffix) || local.length === suffix.length) return undefined;
  return `${meta.namespace ?? ''}/${local.slice(0, -suffix.length)}`;
}

/** All remote keys that have a local mirror of this cluster (for orphan sweeps and clean-up). */
export function mirroredKeys(ctx: Pick<SyncContext, 'shared' | 'config'>): string[] {
  const keys = new Set<string>();
  for (const svc of ctx.shared.services.list()) {
    // Its slice tells a remote-discovery mirror written before isthmus.dev/mirror from Linkerd's.
    const slice = ctx.shared.slices.get(svc.metadata?.namespace, svc.metadata?.name ?? '');
    if (!isOurService(svc, ctx.config.clusterName, [slice])) continue;
    const key = remoteKeyOf(svc, ctx.config.clusterName);
    if (key) keys.add(key);
  }
  return [...keys];
}

export { mirrorIdentity };
