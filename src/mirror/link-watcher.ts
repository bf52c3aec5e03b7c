/**
 * One Link: watches the remote cluster's exported and federated member Services (and their
 * EndpointSlices, and its gateway Service), keeps the local mirrors in line through a keyed work
 * queue, probes the remote gateway and writes the Link's status when it changes. Linkerd's
 * cluster_watcher.go plus the fixes listed in shared/DESIGN.md (orphans only after a complete list,
 * conflicts never overwritten, mirrors kept through a remote outage, address of the remote gateway
 * followed, credentials rotated in place picked up).
 *
 * This class holds the state and does the I/O (informers, queue, API calls, logs, Events); what to
 * do is decided by pure functions, each in a module named for its decision: link-edit.ts (what an
 * edit restarts), credentials-use.ts (reconnect or keep), remote-refusal.ts (the remote's cluster
 * name), remote-api-sources.ts, remote-api-health.ts and remote-api-failure.ts (when and why the
 * remote API is down),
 * followed-gateway.ts (which gateway to follow and probe), slice-event-key.ts, sync-failures.ts, mirror-notices.ts (what a sync's outcome is worth saying),
 * deletion-hold.ts (which removals a remote list that shrank may not make yet),
 * probe-notices.ts, link-state.ts and status-decided.ts (what the status says, and when to write it).
 */
import { describeError, isIsthmusError } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import type { Informer } from '../kube/informer.js';
import { objectKey } from '../kube/informer-store.js';
import { LINK_SERVICE_ACCOUNT_ANNOTATION, SYSTEM_NAMESPACE } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { Link, LinkStatus, V1Secret } from '../kube/types.js';
import { STOP_GRACE_MS, WorkQueue } from '../kube/work-queue.js';
import type { AppliedAction } from './applier.js';
import { BlockedKeys } from './blocked-keys.js';
import { carriedIdentity, credentialsNotice, needsReconnect, type Said } from './credentials-use.js';
import {
  credentialsFingerprint,
  credentialsLifetime,
  readCredentials,
  watchCredentials,
} from './credentials-watch.js';
import { NO_DIRECT_ENDPOINTS } from './direct-endpoints.js';
import {
  followedAddresses,
  gatewayTarget,
  type KnownGateway,
  probeWaits,
  sameAddresses,
} from './followed-gateway.js';
import type { LinkConfig } from './link-config.js';
import { LinkDeletionHold } from './link-deletion-hold.js';
import { planLinkEdit } from './link-edit.js';
import { linkConditionEvents } from './link-events.js';
import { LinkMetrics } from './link-metrics.js';
import { linkStateOf } from './link-state.js';
import { type LinkState, linkStatus, sameStatus } from './link-status.js';
import { deletionNotices, handOverNotices, mirroredChange, statusNotice } from './mirror-notices.js';
import {
  mirroredKeys,
  NO_REMOTE_ENDPOINTS,
  remoteKeyOf,
  type SyncContext,
  type SyncResult,
  syncService,
} from './mirror-sync.js';
import type { ServiceMirrorStatus } from './plan-mirror.js';
import { parseOwner } from './port-allocator.js';
import { livenessLevel, localGatewayLevel } from './probe-notices.js';
import { ProbeWorker } from './probe-worker.js';
import { type RemoteApiReason, remoteApiFailure } from './remote-api-failure.js';
import { remoteApiChange } from './remote-api-health.js';
import { RemoteCluster } from './remote-cluster.js';
import { namedBy, type RemoteIdentity } from './remote-identity.js';
import { planIdentity, type Refusal } from './remote-refusal.js';
import type { SharedLocal } from './shared.js';
import { SYNC_FAILING_AFTER_MS } from './skip-reason.js';
import { sliceRemoteKey } from './slice-event-key.js';
import { statusDecided } from './status-decided.js';
import { countFailure, type FailureCount, syncError, syncFailingStatus } from './sync-failures.js';

/** Queue keys that are not Services: connect to the remote API; write the Link status. */
const CONNECT = '@connect';
const STATUS = '@status';

export class LinkWatcher {
  private config: LinkConfig;
  private link: Link;
  private remote: RemoteCluster | undefined;
  /** credentialsFingerprint of the Secret `remote` was built from. */
  private connectedWith: string | undefined;
  /** The credentials Secret's watch: its changes queue CONNECT (credentials-watch.ts). */
  private credentials: Informer<V1Secret> | undefined;
  private readonly queue: WorkQueue;
  private readonly probe: ProbeWorker;
  private readonly statuses = new Map<string, ServiceMirrorStatus>();
  /** The local Services that block a key's mirror name, whose deletion queues it again. */
  private readonly blocked = new BlockedKeys();
  /** Entries of `statuses` whose reason is Mirrored. */
  private mirroredCount = 0;
  /** A remote list has completed once: from then on `statuses` says what is mirrored. */
  private listedOnce = false;
  /**
   * Keys of the last complete remote list not synced since: until none is left, ServicesMirrored
   * keeps what it said (link-status.ts), so a restart does not say "none failed" before a failing
   * Service is synced again.
   */
  private unsynced: Set<string> | undefined;
  /** Syncs of a key that threw in a row, since when (syncFailed). */
  private readonly failures = new Map<string, FailureCount>();
  private readonly metrics: LinkMetrics;
  /** Removals a shrunk remote list would make, held for a while (link-deletion-hold.ts). */
  private readonly hold: LinkDeletionHold;
  /** Aborted by stop(): ends a read of the credentials in flight. */
  private readonly abort = new AbortController();
  private readonly unsubscribe: (() => void)[] = [];
  /** undefined until the remote API has answered or failed once. */
  private remoteApiUp: boolean | undefined;
  private remoteApiError: string | undefined;
  /** Why it is down: the remote refusing the credentials (401, 403), or unreachable. */
  private remoteApiReason: RemoteApiReason | undefined;
  /** performance.now() when the remote API was last found unreachable; undefined while it answers. */
  private unreachableSince: number | undefined;
  private credentialsError: string | undefined;
  /**
   * Why the API the credentials reach is not this Link's cluster, or no longer says it is
   * (remote-identity.ts): nothing is listed, and no mirror is touched, until a connection says
   * otherwise.
   */
  private refusal: Refusal | undefined;
  /**
   * The last answer of the remote that named a cluster, and the credentials it was heard with: a
   * connection started over on the same credentials (after a refusal, a Link edit) refuses a
   * remote that cannot say, as the one before would have. New credentials are checked afresh.
   */
  private said: Said | undefined;
  /**
   * A connection has checked the Link's targetClusterName against the remote (or found a remote
   * that cannot say): the status may name it as the cluster whose mirrors the Link holds.
   */
  private nameChecked = false;
  /**
   * The remote gateway's addresses as the last connection found them, kept across reconnects (a
   * credentials rotation, a selector edit): until the new connection has listed the remote gateway
   * Service, mirrors and probes keep them rather than fall back to the Link's gatewayAddress.
   */
  private knownGateway: KnownGateway | undefined;
  private stopped = false;

  constructor(
    link: Link,
    config: LinkConfig,
    private readonly shared: SharedLocal,
  ) {
    this.link = link;
    this.config = config;
    this.metrics = new LinkMetrics(shared.metrics, shared.leadership, config.clusterName);
    this.hold = new LinkDeletionHold({
      shared,
      cluster: () => this.config.clusterName,
      link: () => this.link,
      logFields: () => this.logFields(),
      sync: (key) => this.queue.add(key),
      statusChanged: () => this.queue.add(STATUS),
    });
    this.queue = new WorkQueue({
      concurrency: shared.workers,
      ...(shared.queueBackoff ? { backoff: shared.queueBackoff } : {}),
      ...(shared.terminalRetryMs !== undefined ? { terminalRetryMs: shared.terminalRetryMs } : {}),
      handler: (key) => this.handle(key),
      onError: (key, err, failures) => {
        // A write refused because the Lease's term ended: retried, and left to the next leader.
        if (isIsthmusError(err, 'NOT_LEADER')) return;
        shared.metrics.syncErrors.inc({ target_cluster_name: this.config.clusterName });
        shared.log.warn(
          { ...this.logFields(), key, failures, err: describeError(err) },
          'mirror sync failed',
        );
      },
    });
    this.probe = new ProbeWorker({
      cluster: config.clusterName,
      adminUrl: shared.adminUrl,
      target: () => this.probeTarget(),
      path: config.probe.path,
      periodMs: config.probe.periodMs,
      timeoutMs: config.probe.timeoutMs,
      failureThreshold: config.probe.failureThreshold,
      metrics: shared.metrics,
      onChange: (alive) => {
        const fields = { ...this.logFields(), alive };
        if (livenessLevel(alive) === 'warn')
          shared.log.warn({ ...fields, reason: this.probe.lastError }, 'remote gateway liveness changed');
        else shared.log.info(fields, 'remote gateway liveness changed');
        this.enqueueAll();
      },
      // Liveness stays as it was (nothing is known of the remote): only GatewayAlive's reason changes.
      onLocalGateway: (error, before) => {
        const level = localGatewayLevel(error, before);
        if (level === 'warn')
          shared.log.warn({ ...this.logFields(), reason: error }, "this cluster's gateway cannot probe");
        else if (level === 'debug')
          shared.log.debug(
            { ...this.logFields(), reason: error },
            "this cluster's gateway still cannot probe",
          );
        else shared.log.info(this.logFields(), "this cluster's gateway probes again");
        this.queue.add(STATUS);
      },
      // Said once per change: GatewayAlive's message names the address that answers.
      onVia: (via, before) => {
        const fields = { ...this.logFields(), probed: this.probe.target };
        if (via !== undefined)
          shared.log.info(
            { ...fields, answeredAt: via },
            'remote gateway answers at another address the Link names, not at the one probed',
          );
        else if (before !== undefined)
          shared.log.info(fields, 'remote gateway answers at the address probed again');
        this.queue.add(STATUS);
      },
    });
  }

  get clusterName(): string {
    return this.config.clusterName;
  }

  start(): void {
    const { shared } = this;
    const cluster = () => this.config.clusterName;
    this.unsubscribe.push(
      // Our own writes come back as events; their echoes need no sync (own-writes.ts).
      shared.services.onEvent((e) => {
        // A name freed: the keys it kept out of their mirror name (a Conflict) may take it now.
        if (e.type === 'delete') for (const k of this.blocked.freed(objectKey(e.object))) this.queue.add(k);
        const key = remoteKeyOf(e.object, cluster());
        if (key && !shared.ownWrites?.isEcho('Service', e, () => this.queue.add(key))) this.queue.add(key);
      }),
      shared.slices.onEvent((e) => {
        const key = sliceRemoteKey(e.object, (ns, name) => shared.services.get(ns, name), cluster());
        if (key && !shared.ownWrites?.isEcho('EndpointSlice', e, () => this.queue.add(key)))
          this.queue.add(key);
      }),
      shared.namespaces.onEvent((e) => {
        const ns = e.object.metadata?.name;
        for (const key of this.remote?.serviceKeys(ns) ?? []) this.queue.add(key);
      }),
      shared.onGatewayAddresses(() => this.enqueueAll()),
      // Only the mirrors whose ports the gateways now listen on: every key would be a pass per port.
      shared.onListening?.((mirrors) => this.enqueueMirrors(mirrors)) ?? (() => {}),
      shared.leadership.subscribe((leading) => {
        if (leading) this.enqueueAll();
        else this.metrics.steppedDown();
      }),
    );
    if (this.config.hasGateway) this.probe.start();
    this.watchCredentials();
    this.queue.add(CONNECT);
    this.queue.add(STATUS);
  }

  /**
   * The newest Link when its configuration is unchanged (an edit that parses the same, or our own
   * status write): nothing to re-reconcile, but the status must name the generation it has seen.
   */
  setLink(link: Link): void {
    if (this.stopped) return;
    const before = this.link.metadata?.generation;
    this.link = link;
    if (link.metadata?.generation !== before) this.queue.add(STATUS);
  }

  /**
   * Link edited: re-reconcile what changed, without tearing mirrors down. A new remote gateway
   * (gatewayAddress, gatewayPort) or probe path is probed at once, and what was known of the old
   * one is not carried over (probe-worker.ts); the mirrors lead to the new one at once.
   */
  update(link: Link, config: LinkConfig): void {
    if (this.stopped) return;
    const plan = planLinkEdit(this.config, config, this.knownGateway?.fromService ?? false);
    this.hold.edited(this.config, config);
    this.link = link;
    this.config = config;
    if (plan.forgetKnownGateway) this.knownGateway = undefined;
    if (plan.rewatchCredentials) this.watchCredentials();
    if (plan.reconnect) {
      void this.disconnect();
      this.queue.add(CONNECT);
    }
    if (plan.fallbackChanged) this.remote?.setFallback(config.gatewayAddresses);
    if (config.hasGateway) {
      // After the address and port are the new config's: update() compares what is probed now
      // with what the liveness is of (an address the connection reports later comes as an event).
      this.probe.update({
        path: config.probe.path,
        periodMs: config.probe.periodMs,
        timeoutMs: config.probe.timeoutMs,
        failureThreshold: config.probe.failureThreshold,
      });
      this.probe.start();
    } else this.stopProbing();
    this.enqueueAll();
  }

  /** Link status as last computed (for tests and `isthmus check`). */
  snapshot(): LinkStatus {
    return linkStatus(this.state(), this.link.status);
  }

  /**
   * Stops at once whatever the remote does: the remote client is closed first (every remote
   * request in flight ends, a connect reading the credentials is aborted), and a handler still
   * running after STOP_GRACE_MS (stuck on the local API) is not waited for.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    for (const u of this.unsubscribe.splice(0)) u();
    this.stopProbing();
    const disconnected = this.disconnect();
    if (await this.queue.stop({ graceMs: STOP_GRACE_MS }))
      this.shared.log.warn(this.logFields(), 'stopped with a sync still waiting for the API server');
    await Promise.all([disconnected, this.credentials?.stop()]);
    this.metrics.remove();
    this.hold.stop();
  }

  /**
   * No gateway to probe any more (Link deleted, or left without one): its `gateway_alive` series
   * goes too, or a last 0 would keep a gateway-down alert firing for a gateway nobody uses.
   */
  private stopProbing(): void {
    this.probe.stop();
    this.shared.metrics.gatewayAlive.remove({ target_cluster_name: this.config.clusterName });
  }

  /**
   * Every key that may need work: the remote's, our mirrors', and those the status reports (a
   * Service a selector edit or a reconnect no longer picks has neither a remote key nor a mirror
   * when it was skipped, say MissingNamespace; its sync finds it gone and drops its entry).
   */
  private enqueueAll(): void {
    for (const key of this.remote?.serviceKeys() ?? []) this.queue.add(key);
    for (const key of mirroredKeys(this.context())) this.queue.add(key);
    for (const key of this.statuses.keys()) this.queue.add(key);
    this.queue.add(STATUS);
  }

  /** The keys of `mirrors` (the allocator's owners, `<cluster>/<namespace>/<name>`) that are this Link's. */
  private enqueueMirrors(mirrors: ReadonlySet<string>): void {
    for (const mirror of mirrors) {
      // Another cluster's mirror, even at a name this Link's mirror could have, is not ours to sync.
      const { cluster, namespace, name } = parseOwner(mirror);
      if (cluster !== this.config.clusterName) continue;
      const svc = this.shared.services.get(namespace, name) ?? { metadata: { namespace, name } };
      const key = remoteKeyOf(svc, this.config.clusterName);
      if (key) this.queue.add(key);
    }
  }

  private async handle(key: string): Promise<void> {
    if (this.stopped) return;
    if (key === CONNECT) return this.connect();
    if (key === STATUS) return this.writeStatus();
    if (!this.shared.leadership.isLeader()) return;
    // Nothing is decided on a partial view; the complete list re-queues every key. Until the first
    // list, the count is of the mirrors there are, which a local event may have changed.
    if (!this.remote?.isSynced) {
      if (!this.listedOnce) this.queue.add(STATUS);
      return;
    }
    const [namespace = '', name = ''] = key.split('/');
    this.shared.metrics.syncs.inc({ target_cluster_name: this.config.clusterName });
    this.blocked.reset(key);
    let result: SyncResult;
    try {
      result = await syncService(this.context(key), namespace, name);
    } catch (err) {
      // The term ended mid-sync: the rest is the next leader's (a leader re-queues every key).
      if (isIsthmusError(err, 'NOT_LEADER')) return;
      this.syncFailed(key, namespace, name, err);
      throw err;
    }
    this.failures.delete(key);
    const known = this.statuses.has(key);
    this.record(key, result.status, result.ready);
    this.unsynced?.delete(key);
    this.queue.add(STATUS);
    for (const a of result.applied) {
      if (a.outcome !== 'unchanged')
        // Debug: two lines per new mirror were ~7% of the controller's CPU in a 10,000-mirror sync.
        this.shared.log.debug({ ...this.logFields(), ...a }, 'mirror applied');
    }
    if (!result.status) this.reportDeletions(key, known, result.applied);
    const err = syncError(result);
    if (err) throw err;
  }

  /** The mirrors a sync deleted because the remote has no Service at `key` (mirror-notices.ts). */
  private reportDeletions(key: string, known: boolean, applied: SyncResult['applied']): void {
    for (const n of deletionNotices(this.config.clusterName, key, known, applied)) {
      this.shared.log.info({ ...this.logFields(), key, mirror: n.mirror }, n.message);
      if (n.event) void this.shared.recorder?.record(this.link, 'Normal', 'MirrorDeleted', n.message);
    }
  }

  /**
   * A mirror name changing hands (mirror-notices.ts `handOverNotices`), told at each write: a
   * later write of the sync that fails must not take the news of this one with it.
   */
  private reportHandOver(key: string, applied: AppliedAction, status: ServiceMirrorStatus): void {
    for (const n of handOverNotices(this.config.clusterName, key, status, [applied])) {
      this.shared.log[n.level]({ ...this.logFields(), key, ...n.fields }, n.message);
      if (n.event)
        void this.shared.recorder?.record(this.link, n.event.type, n.event.reason, n.event.message);
    }
  }

  /**
   * A sync that threw (it is retried with backoff): once its failures make it SyncFailing
   * (sync-failures.ts), the key counts as synced, so ServicesMirrored can say False, and
   * status.services names it.
   */
  private syncFailed(key: string, namespace: string, name: string, err: unknown): void {
    const now = Date.now();
    const seen = countFailure(this.failures.get(key), now);
    this.failures.set(key, seen);
    const afterMs = this.shared.syncFailingAfterMs ?? SYNC_FAILING_AFTER_MS;
    const failing = syncFailingStatus(seen, now, afterMs, { namespace, name }, err);
    if (!failing) return;
    this.record(key, failing, false);
    this.unsynced?.delete(key);
    this.queue.add(STATUS);
  }

  private record(key: string, status: ServiceMirrorStatus | undefined, ready: boolean): void {
    const before = this.statuses.get(key);
    if (!status) {
      // Gone (the remote Service deleted): a count of its failures must not outlive it.
      this.failures.delete(key);
      this.statuses.delete(key);
      this.metrics.forget(key);
    } else {
      this.statuses.set(key, status);
      const notice = statusNotice(key, before, status);
      if (notice) {
        const fields = { ...this.logFields(), key, reason: notice.reason };
        if (notice.type === 'Normal') this.shared.log.info(fields, notice.message);
        else this.shared.log.warn(fields, notice.message);
        void this.shared.recorder?.record(this.link, notice.type, notice.reason, notice.message);
      }
      // An export (export-timing.ts) is timed when its mirror is first ready.
      if (ready) this.metrics.ready(key);
    }
    // Counted incrementally: a scan of every status per sync made the initial sync O(N²).
    this.mirroredCount += mirroredChange(before, status);
    this.metrics.mirrored(() => this.mirrored());
  }

  /**
   * Services mirrored: once a remote list has completed, those the syncs found mirrored; before,
   * the mirrors of this Link that exist (remote keys with a mirror of ours, as Linkerd's `mc
   * gateways` counts mirror Services), so a controller restarted while the remote API is
   * unreachable does not say 0 of mirrors that are there and serve.
   */
  private mirrored(): number {
    return this.listedOnce ? this.mirroredCount : mirroredKeys(this.context()).length;
  }

  private state(): LinkState {
    const held = this.hold.current();
    const state = linkStateOf({
      generation: this.link.metadata?.generation,
      clusterName: this.config.clusterName,
      hasGateway: this.config.hasGateway,
      connected: this.remote !== undefined,
      remoteSynced: this.remote?.isSynced ?? false,
      remoteApiUp: this.remoteApiUp,
      remoteApiError: this.remoteApiError,
      remoteApiReason: this.remoteApiReason,
      credentialsError: this.credentialsError,
      refusal: this.refusal,
      nameChecked: this.nameChecked,
      gatewayAddresses: this.gatewayAddresses(),
      mirrored: this.mirrored(),
      statuses: this.statuses.values(),
      unsynced: this.unsynced?.size,
      probe: this.probe,
    });
    return held ? { ...state, deletionsHeld: held } : state;
  }

  private async writeStatus(): Promise<void> {
    this.metrics.mirrored(() => this.mirrored());
    if (!this.shared.leadership.isLeader()) return;
    const current = this.shared.client;
    const link = await current.get<Link>(R.links, this.config.linkNamespace, this.config.linkName);
    if (!link || link.metadata?.deletionTimestamp) return;
    if (!this.statusDecided(link)) return;
    const status = linkStatus(this.state(), link.status);
    if (sameStatus(link.status, status)) return;
    try {
      await current.patchStatus(R.links, this.config.linkNamespace, this.config.linkName, { status });
    } catch (err) {
      // Deleted since the read: the manager stops this watcher on the Link's delete event.
      if (!isIsthmusError(err, 'KUBE_NOT_FOUND')) throw err;
      return;
    }
    // Told once per written change, by the leader that wrote it.
    for (const e of linkConditionEvents(link.status?.conditions, status.conditions ?? []))
      void this.shared.recorder?.record(this.link, e.type, e.reason, e.message);
  }

  /** Whether what is known now may overwrite the status found (status-decided.ts). */
  private statusDecided(link: Link): boolean {
    return statusDecided(link.status, {
      credentialsError: this.credentialsError,
      refused: this.refusal !== undefined,
      remoteApiUp: this.remoteApiUp,
      remoteSynced: this.remote?.isSynced ?? false,
      nameChecked: this.nameChecked,
      clusterName: this.config.clusterName,
      localGatewayError: this.probe.localError,
      hasGateway: this.config.hasGateway,
      alive: this.probe.alive,
      superseded: this.probe.superseded,
      gatewayKnown: this.remote?.gatewayKnown ?? false,
      gatewayAddresses: () => this.gatewayAddresses(),
    });
  }

  /** True once the remote list is complete and no work is queued: for tests and benchmarks. */
  async settled(): Promise<boolean> {
    if (!this.remote?.isSynced || (this.config.hasGateway && this.probe.alive === 'unknown')) return false;
    await this.queue.idle();
    return this.queue.length === 0;
  }

  /** `key`: of the sync it is for, which reports what blocks it. */
  private context(key?: string): SyncContext {
    return {
      ...(key === undefined
        ? {}
        : {
            blockedBy: (holder: string) => this.blocked.add(key, holder),
            onApplied: (applied, status) => this.reportHandOver(key, applied, status),
          }),
      held: (ns, name) => {
        const k = `${ns}/${name}`;
        return this.hold.holds(k) ? { status: this.statuses.get(k) } : undefined;
      },
      config: this.config,
      shared: this.shared,
      remoteSynced: () => this.remote?.isSynced ?? false,
      remoteService: (ns, name) => this.remote?.lookup(ns, name),
      remoteEndpoints: (ns, name) => this.remote?.endpoints(ns, name) ?? NO_REMOTE_ENDPOINTS,
      directEndpoints: (ns, name) =>
        this.remote?.directEndpoints(ns, name, this.shared.clusterFamily()) ?? NO_DIRECT_ENDPOINTS,
      gateway: () => ({
        alive: this.probe.alive,
        addresses: this.shared.gatewayAddresses(),
        remote: this.remoteGateway() ?? '',
      }),
    };
  }

  private gatewayAddresses(): string[] {
    return followedAddresses(this.remote?.addresses, this.knownGateway, this.config.gatewayAddresses);
  }

  private remoteGateway(): string | undefined {
    return gatewayTarget(this.gatewayAddresses(), this.shared.clusterFamily(), this.config.gatewayPort);
  }

  /** The gateway to probe; undefined while a first connection is on its way to say (followed-gateway.ts). */
  private probeTarget(): string | undefined {
    const waiting = probeWaits({
      known: this.knownGateway !== undefined,
      connectionKnows: this.remote?.gatewayKnown ?? false,
      credentialsError: this.credentialsError,
      remoteApiUp: this.remoteApiUp,
    });
    return waiting ? undefined : this.remoteGateway();
  }

  /** (Re)starts the credentials Secret's watch, for the Secret the Link names now. */
  private watchCredentials(): void {
    void this.credentials?.stop();
    const { config, shared } = this;
    this.credentials = watchCredentials(
      shared.client,
      config.linkNamespace,
      config.credentialsSecret,
      () => this.queue.add(CONNECT),
      shared.remoteBackoff,
    );
  }

  /**
   * Reads the credentials Secret and, unless the remote informers already run on this content,
   * starts them on it (replacing any on older content). Without a working connection a failure is
   * thrown (retried by the queue, a failed sync) and the remote API counts as down: there is
   * nothing it could be listed with. A Secret gone or unusable while connected keeps the working
   * connection, as Linkerd's service mirror does: the status and one Warning say so, and the
   * Secret's watch brings it back here when the Secret changes (credentials-watch.ts).
   */
  private async connect(): Promise<void> {
    if (this.stopped) return;
    const { shared, config } = this;
    let client: KubeClient;
    let fingerprint: string;
    let lifetime: ReturnType<typeof credentialsLifetime>;
    try {
      const secret = await readCredentials(
        shared.client,
        config.linkNamespace,
        config.credentialsSecret,
        config.clusterName,
        this.abort.signal,
      );
      fingerprint = credentialsFingerprint(secret);
      if (!needsReconnect(this.remote !== undefined, this.connectedWith, fingerprint)) {
        this.clearCredentialsError();
        return;
      }
      client = shared.remoteClient(secret);
      lifetime = credentialsLifetime(secret);
    } catch (err) {
      if (this.stopped) return;
      this.credentialsUnavailable(describeError(err));
      if (this.remote) return;
      // Nothing to list with: down (0, not absent), as RemoteAPIAvailable says with this reason.
      this.metrics.remoteApiUp(false);
      throw err;
    }
    // stop() or a Link edit may have come while the Secret was read: connect on the newest config.
    if (this.stopped || config !== this.config) {
      client.close();
      this.queue.add(CONNECT);
      return;
    }
    this.clearCredentialsError();
    if (this.remote) shared.log.info(this.logFields(), 'credentials changed: reconnecting');
    await this.disconnect();
    if (this.stopped) {
      client.close();
      return;
    }
    this.connectedWith = fingerprint;
    this.metrics.lifetime(lifetime);
    this.said = carriedIdentity(this.said, fingerprint);
    const carried = {
      ...(this.knownGateway ? { addresses: this.knownGateway.addresses } : {}),
      ...(this.said ? { before: this.said.identity } : {}),
    };
    const remote: RemoteCluster = new RemoteCluster(
      client,
      config,
      shared,
      {
        changed: (key) => {
          if (this.remote === remote && this.hold.holds(key) && remote.lists(key)) this.hold.listed(key);
          this.queue.add(key);
        },
        listShrunk: (keys) => {
          if (this.remote === remote) this.hold.relistLacks(mirroredKeys(this.context()), keys);
        },
        // A key synced (its status kept) or held: a Service the Link picks, not any of the remote's.
        mirrored: (key) => this.statuses.has(key) || this.hold.holds(key),
        exported: (key, at) => {
          if (this.remote === remote) this.metrics.exported(key, at);
        },
        synced: () => {
          const services = remote.serviceKeys().length;
          shared.log.info({ ...this.logFields(), services }, 'remote caches synced');
          this.listedOnce = true;
          this.unsynced = new Set(remote.serviceKeys());
          // Before any sync: the orphans this list finds may be too many to remove at once.
          this.hold.firstList(config, mirroredKeys(this.context()), (key) => remote.lists(key));
          this.enqueueAll();
        },
        health: (connected, error, resource) => {
          if (this.remote === remote) this.setRemoteApi(connected, error, resource);
        },
        identity: (identity) => {
          if (this.remote !== remote) return;
          const named = namedBy(identity);
          if (named) this.said = { fingerprint, identity: named };
          this.setIdentity(identity, client.server);
        },
        gatewayAddresses: (addresses, fromService) => {
          if (this.remote !== remote) return;
          const changed = !sameAddresses(this.knownGateway?.addresses, addresses);
          this.knownGateway = { addresses, fromService };
          // Not changed: the first listing confirmed what a previous connection found.
          if (!changed) return;
          shared.log.info({ ...this.logFields(), addresses }, 'remote gateway address changed');
          this.probe.trigger();
          this.enqueueAll();
        },
      },
      carried,
    );
    this.remote = remote;
    remote.start();
  }

  /**
   * What every log line about this Link carries: `link` as namespace/name, and the cluster it
   * targets as `target_cluster` (the process's base fields hold the local `cluster`).
   */
  private logFields(): { link: string; target_cluster: string } {
    const { linkNamespace, linkName, clusterName } = this.config;
    return { link: `${linkNamespace}/${linkName}`, target_cluster: clusterName };
  }

  /**
   * Whether the remote API can be listed and watched (RemoteAPIAvailable, isthmus_remote_api_up):
   * by every remote informer the Link runs (remote-api-sources.ts); `resource`, what the failing one
   * reads. A change is logged once: a Warning when it becomes unreachable, with why; Info when it is
   * reachable again, with for how long it was not. The retries in between say nothing.
   */
  private setRemoteApi(up: boolean, error: unknown, resource: string | undefined): void {
    const { config } = this;
    const failure = up
      ? undefined
      : remoteApiFailure(
          error,
          {
            cluster: config.clusterName,
            secret: `${config.linkNamespace}/${config.credentialsSecret}`,
            account: this.link.metadata?.annotations?.[LINK_SERVICE_ACCOUNT_ANNOTATION],
          },
          resource,
        );
    const change = remoteApiChange(this.unreachableSince, up, performance.now());
    this.unreachableSince = change.since;
    if (change.notice?.kind === 'unreachable')
      this.shared.log.warn(
        { ...this.logFields(), reason: error === undefined ? undefined : describeError(error) },
        'remote API unreachable',
      );
    else if (change.notice?.kind === 'reachable')
      this.shared.log.info(
        { ...this.logFields(), down_seconds: change.notice.downSeconds },
        'remote API reachable again',
      );
    this.remoteApiUp = up;
    this.remoteApiError = failure?.message;
    this.remoteApiReason = failure?.reason;
    this.metrics.remoteApiUp(up);
    this.queue.add(STATUS);
  }

  /**
   * What the remote said of the Link's cluster, at a connection or at a re-check after a break
   * (identity-gate.ts). A refusal (a mismatch, or a remote that said a name on this connection and
   * cannot say now) keeps every mirror as it is (the remote is not listed: as an outage) and is
   * said once (a Warning log line and Event) per message; `isthmus_remote_api_up` is 0, since the
   * Link's cluster is not known to be what the credentials reach.
   */
  private setIdentity(identity: RemoteIdentity, server: string): void {
    const { shared, config } = this;
    const fields = this.logFields();
    const names = {
      cluster: config.clusterName,
      server,
      secret: `${config.linkNamespace}/${config.credentialsSecret}`,
    };
    const plan = planIdentity(identity, names, {
      before: this.refusal,
      remoteSynced: this.remote?.isSynced ?? false,
      remoteApiUp: this.remoteApiUp,
    });
    if (plan.kind === 'refused') {
      if (plan.restart) {
        void this.disconnect();
        this.queue.add(CONNECT);
      }
      if (plan.markDown) {
        this.remoteApiUp = false;
        this.remoteApiError = undefined;
        this.remoteApiReason = undefined;
        this.metrics.remoteApiUp(false);
        this.queue.add(STATUS);
      }
      if (!plan.announce) return;
      this.refusal = plan.refusal;
      shared.log.warn({ ...fields, reason: plan.refusal.reason }, plan.refusal.message);
      void shared.recorder?.record(this.link, 'Warning', plan.refusal.reason, plan.refusal.message);
      return;
    }
    if (plan.unchecked)
      shared.log.info(
        fields,
        `could not read namespace ${SYSTEM_NAMESPACE} of the remote (forbidden), so targetClusterName was not checked against the name the remote was installed with`,
      );
    if (plan.mirroringAgain) shared.log.info(fields, 'remote cluster name confirmed: mirroring again');
    this.refusal = undefined;
    this.nameChecked = true;
    this.queue.add(STATUS);
  }

  /** The credentials could not be read or used: said once per reason (credentials-use.ts). */
  private credentialsUnavailable(message: string): void {
    const notice = credentialsNotice(this.credentialsError, message, this.remote !== undefined);
    if (!notice.changed) return;
    this.credentialsError = message;
    this.queue.add(STATUS);
    if (notice.warning === undefined) return;
    this.shared.log.warn({ ...this.logFields(), reason: 'CredentialsUnavailable' }, notice.warning);
    void this.shared.recorder?.record(this.link, 'Warning', 'CredentialsUnavailable', notice.warning);
  }

  private clearCredentialsError(): void {
    if (this.credentialsError === undefined) return;
    this.credentialsError = undefined;
    this.queue.add(STATUS);
  }

  private async disconnect(): Promise<void> {
    const remote = this.remote;
    this.remote = undefined;
    this.connectedWith = undefined;
    await remote?.stop();
  }
}
