/**
 * runController: the mirror controller of one cluster, composable with the failover controller in
 * the same process (shared KubeClient, metrics registry and leadership are passed in).
 *
 * Start-up order matters for stable egress ports: the local Service cache is listed first and every
 * existing mirror's `isthmus.dev/egress-ports` is recovered into the allocator before any Link
 * watcher may allocate, so a restart never renumbers a port. A follower recovers again when it
 * becomes the leader: the mirrors the old leader made meanwhile hold ports this allocator never saw.
 * Only our own mirrors' ports are recovered; any other Service's `isthmus.dev/egress-ports` is a
 * foreign claim, whose ports are reserved while it exists (see `recoverPorts`, `followClaims`).
 */

import { Registry } from 'prom-client';
import { registerBuildInfo } from '../build-info.js';
import { describeError } from '../errors.js';
import type { BackoffPolicy } from '../kube/backoff.js';
import { KubeClient } from '../kube/client.js';
import { EventRecorder } from '../kube/events.js';
import { filteredInformer } from '../kube/filtered-informer.js';
import { createInformer, type Informer } from '../kube/informer.js';
import {
  CLUSTER_NAME_LABEL,
  EGRESS_PORTS_ANNOTATION,
  GATEWAY_SERVICE_NAME,
  MANAGED_BY_LABEL,
  MANAGED_BY_MIRROR,
  SERVICE_NAME_LABEL,
  SYSTEM_NAMESPACE,
} from '../kube/keys.js';
import { isIsthmusMirror, type VouchedPorts, vouchedPorts } from '../kube/linkerd-mirror.js';
import { oldestFirst } from '../kube/oldest-first.js';
import { R } from '../kube/resources.js';
import type { Link, V1EndpointSlice, V1Namespace, V1Secret, V1Service } from '../kube/types.js';
import type { QueueBackoff } from '../kube/work-queue.js';
import { dropManagedFields, trimLocalService } from './cache-trim.js';
import type { HoldClock } from './deletion-hold.js';
import { readyGatewayAddresses } from './gateway-addresses.js';
import { GatewayListening, gatewayAdminUrls, HOLD_MS } from './gateway-listening.js';
import { VacatedNames } from './hand-over.js';
import { DEFAULT_MIRROR_WORKERS } from './link-config.js';
import { LinkManager } from './link-manager.js';
import { mirrorMetrics } from './metrics.js';
import { isOurService, parseEgressPorts } from './mirror-objects.js';
import { OwnWrites } from './own-writes.js';
import { indexPodMirrors } from './pod-mirror-index.js';
import { DEFAULT_EGRESS_RANGE, mirrorOwner, PortAllocator, type PortRange } from './port-allocator.js';
import type { Resolve } from './remote-gateway.js';
import { Leadership, type Logger, type SharedLocal, silentLogger } from './shared.js';

export interface ControllerConfig {
  /** The local API client (shared with other controllers of the process). */
  client: KubeClient;
  /**
   * This cluster's name, for exports that name the clusters they admit
   * (`isthmus.dev/allowed-clusters`); absent: every export is mirrored and the remote ingress decides.
   */
  cluster?: string;
  /** Base URL of the local gateway's admin server, e.g. http://127.0.1.1:4191. */
  gatewayAdminUrl: string;
  /** Static local gateway addresses (labs); absent: ready endpoints of isthmus-system/isthmus-gateway. */
  gatewayEndpoints?: string[];
  /**
   * false (`isthmus controller --no-gateway`): this cluster runs no gateway, so a Link with one is
   * invalid (its mirrors would have nowhere to send callers) and no gateway endpoints are watched.
   */
  localGateway?: boolean;
  registry?: Registry;
  leadership?: Leadership;
  egressPortRange?: PortRange;
  /** Namespace of the Links (default isthmus-system). */
  namespace?: string;
  log?: Logger;
  /** Event recorder; false disables Events. Default: one on `client`. */
  recorder?: EventRecorder | false;
  remoteClient?: (secret: V1Secret) => KubeClient;
  resolve?: Resolve;
  resolveIntervalMs?: number;
  remoteBackoff?: BackoffPolicy;
  queueBackoff?: QueueBackoff;
  /** Delay before a terminal sync failure (a 403, a 422) is tried again (default TERMINAL_RETRY_MS). */
  terminalRetryMs?: number;
  /** How long a key's syncs must keep failing before it is reported SyncFailing (default SYNC_FAILING_AFTER_MS). */
  syncFailingAfterMs?: number;
  /** Syncs in flight per Link (default DEFAULT_MIRROR_WORKERS). */
  workers?: number;
  /** How long removals a shrunk remote list would make are held (deletion-hold.ts); 0: never. */
  deletionGraceMs?: number;
  /** The clock that ends such a hold (tests move it; default real time). */
  deletionClock?: HoldClock;
  /**
   * The process's shared informers of every local Service and EndpointSlice (`createLocalInformers`),
   * which the failover controller reads too; started and stopped by their owner, not here.
   * Absent: the mirror controller watches what it needs itself.
   */
  localInformers?: LocalInformers;
}

/** Every local Service and EndpointSlice, trimmed (cache-trim.ts); one list-watch each per process. */
export interface LocalInformers {
  services: Informer<V1Service>;
  slices: Informer<V1EndpointSlice>;
}

export function createLocalInformers(client: KubeClient): LocalInformers {
  return {
    services: createInformer<V1Service>(client, R.services, { transform: trimLocalService }),
    slices: createInformer<V1EndpointSlice>(client, R.endpointSlices, { transform: dropManagedFields }),
  };
}

const isMirrorSlice = (s: V1EndpointSlice) => s.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_MIRROR;
const isGatewaySlice = (s: V1EndpointSlice) =>
  s.metadata?.namespace === SYSTEM_NAMESPACE &&
  s.metadata?.labels?.[SERVICE_NAME_LABEL] === GATEWAY_SERVICE_NAME;

export interface RunningController {
  /** Resolves once local caches are synced, ports recovered and Link watchers started. */
  ready: Promise<void>;
  manager(): LinkManager | undefined;
  registry: Registry;
  allocator: PortAllocator;
  stop(): Promise<void>;
}

export function runController(config: ControllerConfig): RunningController {
  const { client } = config;
  const registry = config.registry ?? new Registry();
  registerBuildInfo(registry);
  const log = config.log ?? silentLogger;
  const allocator = new PortAllocator(config.egressPortRange ?? DEFAULT_EGRESS_RANGE);
  const linksNamespace = config.namespace ?? SYSTEM_NAMESPACE;

  // Trimmed caches (cache-trim.ts): the local mirrors' owned fields stay whole for comparison.
  const shared = config.localInformers;
  const services =
    shared?.services ?? createInformer<V1Service>(client, R.services, { transform: trimLocalService });
  const slices = shared
    ? filteredInformer(shared.slices, isMirrorSlice)
    : createInformer<V1EndpointSlice>(client, R.endpointSlices, {
        labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_MIRROR}`,
        transform: dropManagedFields,
      });
  const namespaces = createInformer<V1Namespace>(client, R.namespaces, { transform: dropManagedFields });
  const links = createInformer<Link>(client, R.links, { namespace: linksNamespace });
  const localGateway = config.localGateway !== false;
  const gatewaySlices: Informer<V1EndpointSlice> | undefined =
    config.gatewayEndpoints || !localGateway
      ? undefined
      : shared
        ? filteredInformer(shared.slices, isGatewaySlice)
        : createInformer<V1EndpointSlice>(client, R.endpointSlices, {
            namespace: SYSTEM_NAMESPACE,
            labelSelector: `${SERVICE_NAME_LABEL}=${GATEWAY_SERVICE_NAME}`,
          });
  // Shared informers are in this list only to be waited for; their owner starts and stops them.
  const informers = [services, slices, namespaces, links, ...(gatewaySlices ? [gatewaySlices] : [])];
  const owned = informers.filter((i) => i !== shared?.services);

  const gatewayListeners = new Set<() => void>();
  let gatewayAddresses = localGateway && config.gatewayEndpoints ? [...config.gatewayEndpoints] : [];
  // The family a Service without ipFamilies gets here: the `kubernetes` Service's (see gateway-addresses.ts).
  const clusterFamily = () => services.get('default', 'kubernetes')?.spec?.ipFamilies?.[0];
  gatewaySlices?.onEvent(() => {
    const next = readyGatewayAddresses(gatewaySlices.list(), clusterFamily());
    if (next.join() === gatewayAddresses.join()) return;
    gatewayAddresses = next;
    log.info({ addresses: next }, 'local gateway endpoints changed');
    for (const fn of gatewayListeners) fn();
  });

  // Slices list an egress port only once the local gateways listen on it (gateway-listening.ts).
  const listeningListeners = new Set<(mirrors: ReadonlySet<string>) => void>();
  const listening = localGateway
    ? new GatewayListening({
        addresses: () => gatewayAddresses,
        urls: (addresses) => gatewayAdminUrls(config.gatewayAdminUrl, addresses, !!config.gatewayEndpoints),
        // With its cluster, as `/routes` names each listener's: a port handed at one name from one
        // cluster's mirror to another's (`api-us` of west, `api` of us-west) waits for the switch.
        owner: (port) => allocator.ownerOf(port),
        onOverdue: (ports) =>
          log.warn(
            { ports },
            `the local gateways do not list these egress ports in /routes after ${HOLD_MS} ms: listed in the mirrors' slices anyway (a gateway older than this controller, or a port it refuses: its /routes says why)`,
          ),
        onResolved: (ports) => {
          // Owners with their cluster: only that cluster's Link syncs the mirror again.
          const mirrors = new Set(ports.flatMap((p) => allocator.ownerOf(p) ?? []));
          for (const fn of listeningListeners) fn(mirrors);
        },
      })
    : undefined;

  // Subscribed before any LinkWatcher: a deletion is remembered before the sync it queues reads it.
  const vacated = new VacatedNames();
  const unwatchVacated = services.onEvent((e) => vacated.observe(e));

  const sharedLocal: SharedLocal = {
    client,
    ...(config.cluster ? { localCluster: config.cluster } : {}),
    services,
    vacated,
    podMirrors: indexPodMirrors(services),
    slices,
    namespaces,
    localGateway,
    gatewayAddresses: () => gatewayAddresses,
    clusterFamily,
    onGatewayAddresses: (fn) => {
      gatewayListeners.add(fn);
      return () => gatewayListeners.delete(fn);
    },
    allocator,
    ...(listening ? { listening } : {}),
    onListening: (fn) => {
      listeningListeners.add(fn);
      return () => listeningListeners.delete(fn);
    },
    metrics: mirrorMetrics(registry),
    leadership: config.leadership ?? new Leadership(true),
    adminUrl: config.gatewayAdminUrl,
    log,
    remoteClient: config.remoteClient ?? ((secret) => KubeClient.fromSecret(secret)),
    resolveIntervalMs: config.resolveIntervalMs ?? 30_000,
    ownWrites: new OwnWrites(),
    workers: config.workers ?? DEFAULT_MIRROR_WORKERS,
  };
  if (config.recorder !== false) {
    sharedLocal.recorder = config.recorder ?? new EventRecorder(client, { component: 'isthmus-mirror' });
  }
  if (config.resolve) sharedLocal.resolve = config.resolve;
  if (config.remoteBackoff) sharedLocal.remoteBackoff = config.remoteBackoff;
  if (config.queueBackoff) sharedLocal.queueBackoff = config.queueBackoff;
  if (config.terminalRetryMs !== undefined) sharedLocal.terminalRetryMs = config.terminalRetryMs;
  if (config.syncFailingAfterMs !== undefined) sharedLocal.syncFailingAfterMs = config.syncFailingAfterMs;
  if (config.deletionGraceMs !== undefined) sharedLocal.deletionGraceMs = config.deletionGraceMs;
  if (config.deletionClock) sharedLocal.deletionClock = config.deletionClock;

  let manager: LinkManager | undefined;
  let stopped = false;
  for (const informer of owned) informer.start();
  // Subscribed before any LinkWatcher, so this runs first; the watchers' syncs are queued work that
  // runs after it. Before start-up recovery (no manager yet) there is nothing to redo.
  const recover = () =>
    recoverPorts(allocator, services.list(), vouchedPorts(slices.list()), linkedClusters(links.list()), log);
  const unsubscribe = sharedLocal.leadership.subscribe((leading) => {
    if (!leading || !manager) return;
    recover();
  });
  // After recovery, while leading: a follower's allocator is rebuilt when it takes over.
  const unfollow = followClaims(
    services,
    slices,
    allocator,
    log,
    () => manager !== undefined && sharedLocal.leadership.isLeader(),
  );

  const ready = (async () => {
    await Promise.all(informers.map((i) => i.synced));
    if (stopped) return;
    recover();
    if (config.gatewayEndpoints === undefined && gatewaySlices) {
      gatewayAddresses = readyGatewayAddresses(gatewaySlices.list(), clusterFamily());
    }
    manager = new LinkManager(links, sharedLocal);
    manager.start();
  })();
  ready.catch((err) => log.error({ err: describeError(err) }, 'mirror controller failed to start'));

  return {
    ready,
    registry,
    allocator,
    manager: () => manager,
    async stop() {
      stopped = true;
      listening?.stop();
      unsubscribe();
      unfollow();
      unwatchVacated();
      await manager?.stop();
      await Promise.all(owned.map((i) => i.stop()));
      await ready.catch(() => {});
    },
  };
}

/**
 * The clusters the Links name, by `spec.targetClusterName` or `status.mirroredClusterName` (as
 * link-claims.ts `orphanClusters` counts them): a Service labelled as a mirror of another is not one
 * we wrote. A Link retargeted to a name not checked yet (a typo: `north` for `west`) still holds
 * its old cluster's mirrors by its status; counted by the target alone, a restart meanwhile
 * recovered their ports as claims of Services no Link names, and fixing the typo re-numbered them.
 */
function linkedClusters(links: readonly Link[]): Set<string> {
  const out = new Set<string>();
  for (const l of links)
    for (const name of [l.spec?.targetClusterName, l.status?.mirroredClusterName])
      if (typeof name === 'string') out.add(name);
  return out;
}

function serviceKey(svc: V1Service): string {
  return `${svc.metadata?.namespace ?? ''}/${svc.metadata?.name ?? ''}`;
}

/** The allocator's owner of the mirror `svc` is, by its cluster-name label; undefined without one. */
function mirrorOwnerOf(svc: V1Service): string | undefined {
  const { namespace = '', name = '', labels } = svc.metadata ?? {};
  const cluster = labels?.[CLUSTER_NAME_LABEL];
  return cluster === undefined ? undefined : mirrorOwner(cluster, namespace, name);
}

function claimedPorts(svc: V1Service): Map<string, number> | undefined {
  const text = svc.metadata?.annotations?.[EGRESS_PORTS_ANNOTATION];
  return text === undefined ? undefined : parseEgressPorts(text);
}

/** The entries of `claimed` whose port `vouched` lists. */
function onlyVouched(
  claimed: ReadonlyMap<string, number> | undefined,
  vouched: ReadonlySet<number> | undefined,
): Map<string, number> {
  return new Map([...(claimed ?? [])].filter(([, port]) => vouched?.has(port) === true));
}

/**
 * Rebuilds the allocator from the local Services' `isthmus.dev/egress-ports`, oldest first in the
 * gateway's order (`oldestFirst`), counting only the ports this controller's slices list for the
 * Service (`vouched`), as the gateway routes only those: anyone who may edit a Service may write
 * the annotation, and one of 120 KB would otherwise reserve the whole range. A mirror of ours
 * (labelled as a mirror of a cluster a Link targets) takes over its ports, any other Service's
 * vouched claim (a mirror of a Link being replaced) is reserved. A port two claim stays with the
 * older, as the gateway routes it. A mirror's ports go to its cluster's owner (`mirrorOwner`, the
 * cluster from its label); a foreign claim is owned by the Service's `namespace/name`.
 */
function recoverPorts(
  allocator: PortAllocator,
  services: V1Service[],
  vouched: VouchedPorts,
  clusters: ReadonlySet<string>,
  log: Logger,
): void {
  allocator.clear();
  let recovered = 0;
  const foreign: V1Service[] = [];
  const claims = services.filter((svc) => claimedPorts(svc) !== undefined).sort(oldestFirst);
  for (const svc of claims) {
    const service = serviceKey(svc);
    const ports = onlyVouched(claimedPorts(svc), vouched.get(service));
    const cluster = svc.metadata?.labels?.[CLUSTER_NAME_LABEL];
    if (cluster === undefined || !clusters.has(cluster) || !isOurService(svc, cluster)) {
      if (allocator.reserveForeign(service, ports.values())) foreign.push(svc);
      continue;
    }
    const { namespace = '', name = '' } = svc.metadata ?? {};
    const rejected = allocator.recover(mirrorOwner(cluster, namespace, name), ports);
    recovered++;
    // A port no slice lists (the controller stopped between the two writes): the next sync gives another.
    const unlisted = [...(claimedPorts(svc) ?? [])].filter(([key]) => !ports.has(key)).map(([key]) => key);
    if (rejected.length + unlisted.length > 0)
      log.warn(
        { mirror: service, cluster, rejected: [...rejected, ...unlisted] },
        'egress ports not recovered; re-allocating',
      );
  }
  logUngivenClaims(log, foreign);
  log.info({ mirrors: recovered, ports: allocator.size }, 'egress ports recovered');
}

/**
 * Keeps foreign claims current from the local Service informer's events: a Service that claims
 * egress ports that this controller's slices list for it, and is not one the allocator gave ports
 * to (the owner of the cluster its label names, at its name), reserves them until it is deleted or
 * stops claiming. Each such Service is named in the log once (again only after it went away).
 */
function followClaims(
  services: Informer<V1Service>,
  slices: Informer<V1EndpointSlice>,
  allocator: PortAllocator,
  log: Logger,
  active: () => boolean,
): () => void {
  return services.onEvent((e) => {
    if (!active()) return;
    const service = serviceKey(e.object);
    const { namespace, name } = e.object.metadata ?? {};
    // A mirror's ports are all on its first slice, named after it (mirrorSliceName).
    const slice = name === undefined ? undefined : slices.get(namespace, name);
    const vouched = vouchedPorts(slice ? [slice] : []).get(service);
    const ports = e.type === 'delete' ? undefined : onlyVouched(claimedPorts(e.object), vouched);
    const owner = mirrorOwnerOf(e.object);
    const given = owner !== undefined && allocator.owned(owner).size > 0;
    if (ports === undefined || ports.size === 0 || given) {
      allocator.releaseForeign(service);
      return;
    }
    if (allocator.reserveForeign(service, ports.values())) logUngivenClaims(log, [e.object]);
  });
}

/**
 * The Services that claim egress ports this controller did not give them, and that it reserves. A
 * Service with the mark of a mirror (isthmus.dev/mirror, isIsthmusMirror) is one of ours by that
 * mark, whoever wrote it: a mirror of a cluster no Link targets (the orphan sweep removes it), or
 * one made by hand, which its Link's sync deletes if the remote exports nothing at its name (and
 * logs it: link-watcher.ts reportDeletions). Only the others are not ours.
 */
function logUngivenClaims(log: Logger, claims: readonly V1Service[]): void {
  const marked = claims.filter((svc) => isIsthmusMirror(svc)).map(serviceKey);
  const foreign = claims.filter((svc) => !isIsthmusMirror(svc)).map(serviceKey);
  if (marked.length > 0)
    log.info(
      { services: marked },
      'mirrors of ours (isthmus.dev/mirror) claim egress ports this controller has not given them; those ports are reserved until a sync mirrors or deletes them',
    );
  if (foreign.length > 0)
    log.warn(
      { services: foreign },
      'Services that are not mirrors of ours claim egress ports (isthmus.dev/egress-ports); those ports are reserved',
    );
}
