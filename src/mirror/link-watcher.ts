/**
 * One Link: watches the remote cluster's exported and federated member Services (and their
 * EndpointSlices, and its gateway Service), keeps the local mirrors in line through a keyed work
 * queue, probes the remote gateway and writes the Link's status when it changes. Linkerd's
 * cluster_watcher.go plus the fixes listed in shared/DESIGN.md (orphans only after a complete list,
 * conflicts never overwritten, mirrors kept through a remote outage, address of the remote gateway
 * followed, credentials rotated in place picked up).
 *
 * This class and its helpers hold the state and do the I/O (informers, queue, API calls, logs,
 * Events); what to do is decided by pure functions, each in a module named for its decision:
 * link-edit.ts (what an edit restarts), credentials-use.ts (reconnect or keep), remote-refusal.ts
 * (the remote's cluster name), remote-api-sources.ts, remote-api-health.ts and remote-api-failure.ts
 * (when and why the remote API is down), followed-gateway.ts (which gateway to follow and probe),
 * slice-event-key.ts, sync-failures.ts, mirror-notices.ts (what a sync's outcome is worth saying),
 * deletion-hold.ts (which removals a remote list that shrank may not make yet), probe-notices.ts,
 * link-state.ts and status-decided.ts (what the status says, and when to write it).
 *
 * The helpers take their dependencies explicitly: link-connection.ts (the credentials, and the
 * remote connection made with them), remote-api-report.ts (what is known of the remote API),
 * mirror-report.ts (what the syncs found), link-probe.ts (the remote gateway's probe),
 * local-events.ts (the local changes that queue keys), link-deletion-hold.ts and
 * link-status-writer.ts (the status, gathered and written). This class owns the queue and the sync.
 */
import { describeError, isIsthmusError } from '../errors.js';
import type { Link, LinkStatus } from '../kube/types.js';
import { STOP_GRACE_MS, WorkQueue } from '../kube/work-queue.js';
import { BlockedKeys } from './blocked-keys.js';
import { NO_DIRECT_ENDPOINTS } from './direct-endpoints.js';
import type { LinkConfig } from './link-config.js';
import { LinkConnection } from './link-connection.js';
import { LinkDeletionHold } from './link-deletion-hold.js';
import { planLinkEdit } from './link-edit.js';
import { LinkMetrics } from './link-metrics.js';
import { linkProbe } from './link-probe.js';
import { LinkStatusWriter } from './link-status-writer.js';
import { watchLocal } from './local-events.js';
import { MirrorReport } from './mirror-report.js';
import {
  mirroredKeys,
  NO_REMOTE_ENDPOINTS,
  type SyncContext,
  type SyncResult,
  syncService,
} from './mirror-sync.js';
import type { ProbeWorker } from './probe-worker.js';
import { RemoteApiReport } from './remote-api-report.js';
import type { RemoteCluster } from './remote-cluster.js';
import type { SharedLocal } from './shared.js';
import { syncError } from './sync-failures.js';

/** Queue keys that are not Services: connect to the remote API; write the Link status. */
const CONNECT = '@connect';
const STATUS = '@status';

export class LinkWatcher {
  private config: LinkConfig;
  private link: Link;
  /** The credentials and the remote connection made with them (link-connection.ts). */
  private readonly connection: LinkConnection;
  private readonly queue: WorkQueue;
  private readonly probe: ProbeWorker;
  /** What each key's sync found (mirror-report.ts). */
  private readonly mirrors: MirrorReport;
  /** What is known of the remote API: up, its identity, the credentials (remote-api-report.ts). */
  private readonly remoteApi: RemoteApiReport;
  /** The Link's status, computed from all of the above and written when it changes. */
  private readonly status: LinkStatusWriter;
  /** The local Services that block a key's mirror name, whose deletion queues it again. */
  private readonly blocked = new BlockedKeys();
  private readonly metrics: LinkMetrics;
  /** Removals a shrunk remote list would make, held for a while (link-deletion-hold.ts). */
  private readonly hold: LinkDeletionHold;
  /** Aborted by stop(): ends a read of the credentials in flight. */
  private readonly abort = new AbortController();
  private readonly unsubscribe: (() => void)[] = [];
  private stopped = false;

  constructor(
    link: Link,
    config: LinkConfig,
    private readonly shared: SharedLocal,
  ) {
    this.link = link;
    this.config = config;
    this.metrics = new LinkMetrics(shared.metrics, shared.leadership, config.clusterName);
    // What every part of the Link is made with.
    const base = {
      shared,
      metrics: this.metrics,
      config: () => this.config,
      cluster: () => this.config.clusterName,
      link: () => this.link,
      logFields: () => this.logFields(),
      statusChanged: () => this.queue.add(STATUS),
    };
    this.hold = new LinkDeletionHold({ ...base, sync: (key) => this.queue.add(key) });
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
    this.mirrors = new MirrorReport({ ...base, mirrors: () => mirroredKeys(this.context()) });
    this.remoteApi = new RemoteApiReport({
      ...base,
      reconnect: () => {
        void this.connection.disconnect();
        this.queue.add(CONNECT);
      },
    });
    this.connection = new LinkConnection({
      ...base,
      report: this.remoteApi,
      events: {
        changed: (key, current) => {
          if (current && this.hold.holds(key) && current.lists(key)) this.hold.listed(key);
          this.queue.add(key);
        },
        listShrunk: (keys) => this.hold.relistLacks(mirroredKeys(this.context()), keys),
        // A key synced (its status kept) or held: a Service the Link picks, not any of the remote's.
        mirrored: (key) => this.mirrors.has(key) || this.hold.holds(key),
        exported: (key, at) => this.metrics.exported(key, at),
        synced: (remote, config) => this.remoteSynced(remote, config),
        gatewayMoved: () => {
          this.probe.trigger();
          this.enqueueAll();
        },
      },
      stopped: () => this.stopped,
      signal: this.abort.signal,
      connectLater: () => this.queue.add(CONNECT),
    });
    this.probe = linkProbe(config, {
      ...base,
      target: () => this.connection.probeTarget(),
      livenessChanged: () => this.enqueueAll(),
    });
    this.status = new LinkStatusWriter({
      ...base,
      connection: this.connection,
      remoteApi: this.remoteApi,
      mirrors: this.mirrors,
      probe: this.probe,
      hold: this.hold,
    });
  }

  get clusterName(): string {
    return this.config.clusterName;
  }

  /** The running connection's remote (link-connection.ts). */
  private get remote(): RemoteCluster | undefined {
    return this.connection.remote;
  }

  start(): void {
    this.unsubscribe.push(
      ...watchLocal(this.shared, {
        cluster: () => this.config.clusterName,
        blocked: this.blocked,
        sync: (key) => this.queue.add(key),
        remoteKeys: (ns) => this.remote?.serviceKeys(ns) ?? [],
        syncAll: () => this.enqueueAll(),
        steppedDown: () => this.metrics.steppedDown(),
      }),
    );
    if (this.config.hasGateway) this.probe.start();
    this.connection.watchCredentials();
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
    const plan = planLinkEdit(this.config, config, this.connection.knownGateway?.fromService ?? false);
    this.hold.edited(this.config, config);
    this.link = link;
    this.config = config;
    if (plan.forgetKnownGateway) this.connection.forgetKnownGateway();
    if (plan.rewatchCredentials) this.connection.watchCredentials();
    if (plan.reconnect) {
      void this.connection.disconnect();
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
    return this.status.snapshot();
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
    const disconnected = this.connection.disconnect();
    if (await this.queue.stop({ graceMs: STOP_GRACE_MS }))
      this.shared.log.warn(this.logFields(), 'stopped with a sync still waiting for the API server');
    await Promise.all([disconnected, this.connection.stopWatchingCredentials()]);
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
    for (const key of this.mirrors.keys()) this.queue.add(key);
    this.queue.add(STATUS);
  }

  private async handle(key: string): Promise<void> {
    if (this.stopped) return;
    if (key === CONNECT) return this.connection.connect();
    if (key === STATUS) return this.status.write();
    if (!this.shared.leadership.isLeader()) return;
    // Nothing is decided on a partial view; the complete list re-queues every key. Until the first
    // list, the count is of the mirrors there are, which a local event may have changed.
    if (!this.remote?.isSynced) {
      if (!this.mirrors.listedOnce) this.queue.add(STATUS);
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
      this.mirrors.syncFailed(key, namespace, name, err);
      throw err;
    }
    this.mirrors.synced(key, result);
    const err = syncError(result);
    if (err) throw err;
  }

  /** Every cache of `remote` (connected with `config`) holds a complete list. */
  private remoteSynced(remote: RemoteCluster, config: LinkConfig): void {
    const services = remote.serviceKeys().length;
    this.shared.log.info({ ...this.logFields(), services }, 'remote caches synced');
    this.mirrors.listedAll(remote.serviceKeys());
    // Before any sync: the orphans this list finds may be too many to remove at once.
    this.hold.firstList(config, mirroredKeys(this.context()), (key) => remote.lists(key));
    this.enqueueAll();
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
            onApplied: (applied, status) => this.mirrors.reportHandOver(key, applied, status),
          }),
      held: (ns, name) => {
        const k = `${ns}/${name}`;
        return this.hold.holds(k) ? { status: this.mirrors.get(k) } : undefined;
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
        remote: this.connection.remoteGateway() ?? '',
      }),
    };
  }

  /**
   * What every log line about this Link carries: `link` as namespace/name, and the cluster it
   * targets as `target_cluster` (the process's base fields hold the local `cluster`).
   */
  private logFields(): { link: string; target_cluster: string } {
    const { linkNamespace, linkName, clusterName } = this.config;
    return { link: `${linkNamespace}/${linkName}`, target_cluster: clusterName };
  }
}
