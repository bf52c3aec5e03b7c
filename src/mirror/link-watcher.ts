/**
 * One Link: watches the remote cluster's exported and federated member Services (and their
 * EndpointSlices, and its gateway Service), keeps the local mirrors in line through a keyed work
 * queue, probes the remote gateway and writes the Link's status when it changes. Linkerd's
 * cluster_watcher.go plus the fixes listed in shared/DESIGN.md (orphans only after a complete list,
 * conflicts never overwritten, mirrors kept through a remote outage, address of the remote gateway
 * followed, credentials rotated in place picked up).
 */
import { describeError, IsthmusError, isIsthmusError } from '../errors.js';
import { hostPort } from '../host-port.js';
import type { KubeClient } from '../kube/client.js';
import type { Informer } from '../kube/informer.js';
import { objectKey } from '../kube/informer-store.js';
import { ISTHMUS_MIRROR_LABEL, SERVICE_NAME_LABEL, SYSTEM_NAMESPACE } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { Link, LinkStatus, V1Secret, V1Service } from '../kube/types.js';
import { STOP_GRACE_MS, WorkQueue } from '../kube/work-queue.js';
import type { AppliedAction } from './applier.js';
import { BlockedKeys } from './blocked-keys.js';
import {
  credentialsFingerprint,
  credentialsLifetime,
  readCredentials,
  watchCredentials,
} from './credentials-watch.js';
import { NO_DIRECT_ENDPOINTS } from './direct-endpoints.js';
import type { LinkConfig } from './link-config.js';
import { linkConditionEvents } from './link-events.js';
import { LinkMetrics } from './link-metrics.js';
import { CREDENTIALS_KEPT, type LinkState, linkStatus, sameStatus } from './link-status.js';
import {
  mirroredKeys,
  NO_REMOTE_ENDPOINTS,
  remoteKeyOf,
  type SyncContext,
  syncService,
} from './mirror-sync.js';
import type { ServiceMirrorStatus } from './plan-mirror.js';
import { ProbeWorker } from './probe-worker.js';
import { RemoteCluster } from './remote-cluster.js';
import { preferredGateway } from './remote-gateway.js';
import {
  mismatchMessage,
  type NamedIdentity,
  namedBy,
  type RemoteIdentity,
  unconfirmedMessage,
} from './remote-identity.js';
import type { SharedLocal } from './shared.js';
import { SYNC_FAILING_AFTER, SYNC_FAILING_AFTER_MS } from './skip-reason.js';

/** Queue keys that are not Services: connect to the remote API; write the Link status. */
const CONNECT = '@connect';
const STATUS = '@status';

/** The Link's reasons for listing nothing of the remote (link-status.ts). */
type RemoteRefusal = 'RemoteClusterMismatch' | 'RemoteClusterUnconfirmed';

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
  private readonly failures = new Map<string, { count: number; since: number }>();
  private readonly metrics: LinkMetrics;
  /** Aborted by stop(): ends a read of the credentials in flight. */
  private readonly abort = new AbortController();
  private readonly unsubscribe: (() => void)[] = [];
  /** undefined until the remote API has answered or failed once. */
  private remoteApiUp: boolean | undefined;
  private remoteApiError: string | undefined;
  /** performance.now() when the remote API was last found unreachable; undefined while it answers. */
  private unreachableSince: number | undefined;
  private credentialsError: string | undefined;
  /**
   * Why the API the credentials reach is not this Link's cluster, or no longer says it is
   * (remote-identity.ts): nothing is listed, and no mirror is touched, until a connection says
   * otherwise.
   */
  private refusal: { reason: RemoteRefusal; message: string } | undefined;
  /**
   * The last answer of the remote that named a cluster, and the credentials it was heard with: a
   * connection started over on the same credentials (after a refusal, a Link edit) refuses a
   * remote that cannot say, as the one before would have. New credentials are checked afresh.
   */
  private said: { fingerprint: string; identity: NamedIdentity } | undefined;
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
  private knownGateway: { addresses: string[]; fromService: boolean } | undefined;
  private stopped = false;

  constructor(
    link: Link,
    config: LinkConfig,
    private readonly shared: SharedLocal,
  ) {
    this.link = link;
    this.config = config;
    this.metrics = new LinkMetrics(shared.metrics, shared.leadership, config.clusterName);
    this.queue = new WorkQueue({
      concurrency: shared.workers,
      ...(shared.queueBackoff ? { backoff: shared.queueBackoff } : {}),
      ...(shared.terminalRetryMs !== undefined ? { terminalRetryMs: shared.terminalRetryMs } : {}),
      handler: (key) => this.handle(key),
      onError: (key, err, failures) => {
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
        // Dead takes the mirrors' endpoints out of service, which pages: a warning, with why.
        const fields = { ...this.logFields(), alive };
        if (alive === false)
          shared.log.warn({ ...fields, reason: this.probe.lastError }, 'remote gateway liveness changed');
        else shared.log.info(fields, 'remote gateway liveness changed');
        this.enqueueAll();
      },
      // Liveness stays as it was (nothing is known of the remote): only GatewayAlive's reason changes.
      onLocalGateway: (error, before) => {
        // Warned once per outage: a gateway rollout alternates refused, timed out and "certificates
        // not loaded", and each new text is only a debug line (the condition's message has it).
        if (error && before === undefined)
          shared.log.warn({ ...this.logFields(), reason: error }, "this cluster's gateway cannot probe");
        else if (error)
          shared.log.debug(
            { ...this.logFields(), reason: error },
            "this cluster's gateway still cannot probe",
          );
        else shared.log.info(this.logFields(), "this cluster's gateway probes again");
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
        // A slice is labelled with its mirror Service (and the first one named after it), whose
        // labels say which remote key it serves.
        const meta = e.object.metadata ?? {};
        const service = meta.labels?.[SERVICE_NAME_LABEL] ?? meta.name ?? '';
        const owner =
          shared.services.get(meta.namespace, service) ??
          ({ metadata: { ...meta, name: service } } as V1Service);
        const key = remoteKeyOf(owner, cluster());
        if (key && !shared.ownWrites?.isEcho('EndpointSlice', e, () => this.queue.add(key)))
          this.queue.add(key);
      }),
      shared.namespaces.onEvent((e) => {
        const ns = e.object.metadata?.name;
        for (const key of this.remote?.serviceKeys(ns) ?? []) this.queue.add(key);
      }),
      shared.onGatewayAddresses(() => this.enqueueAll()),
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
    const before = this.config;
    this.link = link;
    this.config = config;
    const fallbackChanged = before.gatewayAddresses.join() !== config.gatewayAddresses.join();
    // Addresses that were the Link's own fallback are not the edited Link's; a LB's still are.
    if (before.hasGateway !== config.hasGateway || (fallbackChanged && !this.knownGateway?.fromService))
      this.knownGateway = undefined;
    const remoteChanged =
      before.hasGateway !== config.hasGateway ||
      before.credentialsSecret !== config.credentialsSecret ||
      JSON.stringify(before.selector) !== JSON.stringify(config.selector) ||
      JSON.stringify(before.federatedServiceSelector) !== JSON.stringify(config.federatedServiceSelector) ||
      JSON.stringify(before.remoteDiscoverySelector) !== JSON.stringify(config.remoteDiscoverySelector);
    if (before.credentialsSecret !== config.credentialsSecret) this.watchCredentials();
    if (remoteChanged) {
      void this.disconnect();
      this.queue.add(CONNECT);
    }
    if (fallbackChanged) this.remote?.setFallback(config.gatewayAddresses);
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
    let result: Awaited<ReturnType<typeof syncService>>;
    try {
      result = await syncService(this.context(key), namespace, name);
    } catch (err) {
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
    if (result.retry) throw result.retry;
    if (result.status?.reason === 'PortRangeExhausted') {
      throw new IsthmusError('PORT_RANGE_EXHAUSTED', result.status.message ?? 'egress port range exhausted');
    }
  }

  /**
   * The mirrors a sync deleted because the remote has no Service this Link mirrors at their key: a
   * log line each, saying why. One whose key this controller never mirrored (a Service made by hand
   * with this Link's mark, isthmus.dev/mirror, which makes it one of the Link's mirrors; or one
   * whose export went away while the controller was down) is an Event on the Link too, so that
   * `kubectl describe link` tells where it went. An export that went away left its trace in the
   * Link's status already, and a large unexport must not spend the Link's Event budget (the
   * recorder's spam filter) before its troubles.
   */
  private reportDeletions(key: string, known: boolean, applied: readonly AppliedAction[]): void {
    const cluster = this.config.clusterName;
    const why = known ? `${cluster} no longer exports ${key}` : `${cluster} exports no Service ${key}`;
    for (const a of applied) {
      if (a.action !== 'deleteService' || a.outcome !== 'deleted') continue;
      const mirror = `${a.namespace}/${a.name}`;
      const message = `deleted Service ${mirror}, a mirror of ${cluster} (${ISTHMUS_MIRROR_LABEL}=${cluster}): ${why}`;
      this.shared.log.info({ ...this.logFields(), key, mirror }, message);
      if (!known) void this.shared.recorder?.record(this.link, 'Normal', 'MirrorDeleted', message);
    }
  }

  /**
   * A sync that threw (it is retried with backoff): once it has failed SYNC_FAILING_AFTER times in
   * a row over SYNC_FAILING_AFTER_MS, the key is reported SyncFailing and counts as synced, so
   * ServicesMirrored can say False rather than wait for a success that may never come (a webhook
   * failing closed), and status.services names it. The message holds no count: a retry that fails
   * the same way changes nothing (no status write, no Event).
   */
  private syncFailed(key: string, namespace: string, name: string, err: unknown): void {
    const now = Date.now();
    const seen = this.failures.get(key) ?? { count: 0, since: now };
    seen.count++;
    this.failures.set(key, seen);
    const afterMs = this.shared.syncFailingAfterMs ?? SYNC_FAILING_AFTER_MS;
    if (seen.count < SYNC_FAILING_AFTER || now - seen.since < afterMs) return;
    const message = `sync failing, retried with backoff (a mirror in place is kept): ${describeError(err)}`;
    this.record(key, { namespace, name, reason: 'SyncFailing', message }, false);
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
      // Worth telling: not mirrored, or mirrored without some of its ports (a message says which).
      if (
        (status.reason !== 'Mirrored' || status.message) &&
        (before?.reason !== status.reason || before?.message !== status.message)
      ) {
        const message = `${key}: ${status.message ?? status.reason}`;
        const reason = status.reason === 'Mirrored' ? 'PortsNotMirrored' : status.reason;
        // NotAllowed is what the export's owner asked for (isthmus.dev/allowed-clusters), not a fault.
        const intended = status.reason === 'NotAllowed';
        const fields = { ...this.logFields(), key, reason };
        if (intended) this.shared.log.info(fields, message);
        else this.shared.log.warn(fields, message);
        void this.shared.recorder?.record(this.link, intended ? 'Normal' : 'Warning', reason, message);
      }
      // An export (export-timing.ts) is timed when its mirror is first ready.
      if (ready) this.metrics.ready(key);
    }
    // Counted incrementally: a scan of every status per sync made the initial sync O(N²).
    this.mirroredCount += (status?.reason === 'Mirrored' ? 1 : 0) - (before?.reason === 'Mirrored' ? 1 : 0);
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
    const s: LinkState = {
      remoteSynced: this.remote?.isSynced ?? false,
      remoteApiUp: this.remoteApiUp,
      gatewayAlive: this.config.hasGateway ? this.probe.alive : undefined,
      gatewayAddresses: this.gatewayAddresses(),
      mirrored: this.mirrored(),
      problems: [...this.statuses.values()].filter((x) => x.reason !== 'Mirrored'),
    };
    if (this.link.metadata?.generation !== undefined) s.generation = this.link.metadata.generation;
    if (this.credentialsError) s.credentialsError = this.credentialsError;
    if (this.refusal?.reason === 'RemoteClusterMismatch') s.remoteClusterMismatch = this.refusal.message;
    if (this.refusal?.reason === 'RemoteClusterUnconfirmed')
      s.remoteClusterUnconfirmed = this.refusal.message;
    if (this.nameChecked) s.mirroredClusterName = this.config.clusterName;
    if (this.unsynced) s.servicesUnsynced = this.unsynced.size;
    // A connection made with credentials read before keeps running (connect()).
    if (this.credentialsError && this.remote) s.credentialsKept = true;
    if (this.remoteApiError) s.remoteApiError = this.remoteApiError;
    if (this.probe.lastError) s.probeError = this.probe.lastError;
    if (this.config.hasGateway && this.probe.localError) s.localGatewayError = this.probe.localError;
    const target = this.config.hasGateway ? this.probe.target : undefined;
    if (target) s.probeTarget = target;
    return s;
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

  /**
   * A restarted controller keeps the status it finds until it knows better (as it keeps endpoint
   * readiness): no Ready=False/Syncing or GatewayAlive=Unknown flap on every restart. A gateway
   * changed since (Link edited, address moved) is known better: the status says Unknown for it.
   */
  private statusDecided(link: Link): boolean {
    if (!link.status?.conditions?.length) return true;
    if (this.credentialsError || this.refusal || this.remoteApiUp === false) return true;
    if (!this.remote?.isSynced) return false;
    // The cluster whose mirrors the Link holds is known better (link-claims.ts reads it).
    if (this.nameChecked && link.status.mirroredClusterName !== this.config.clusterName) return true;
    // A local gateway that cannot probe is known now, and is no news of the remote's liveness.
    if (this.probe.localError !== undefined) return true;
    if (!this.config.hasGateway || this.probe.alive !== 'unknown' || this.probe.superseded) return true;
    // The remote gateway moved while we were away: the local gateway's /probe dials only addresses
    // a Link names, so its probe waits for this status to name the new one.
    return (
      this.remote.gatewayKnown &&
      (link.status.gatewayAddresses ?? []).join() !== this.gatewayAddresses().join()
    );
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
      ...(key === undefined ? {} : { blockedBy: (holder: string) => this.blocked.add(key, holder) }),
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

  /** The remote gateway's addresses: the connection's, else the last known, else the Link's. */
  private gatewayAddresses(): string[] {
    return this.remote?.addresses ?? this.knownGateway?.addresses ?? this.config.gatewayAddresses;
  }

  private remoteGateway(): string | undefined {
    const chosen = preferredGateway(this.gatewayAddresses(), this.shared.clusterFamily());
    return chosen === undefined ? undefined : hostPort(chosen, this.config.gatewayPort);
  }

  /**
   * The gateway to probe; undefined (probe nothing yet) while a first connection is on its way to
   * say where it is, so that the Link's gatewayAddress, possibly stale (or a hostname that then
   * resolves), is not probed and then dropped for it. Without a connection to ask (credentials
   * unusable, remote API unreachable), the Link's gatewayAddress is probed.
   */
  private probeTarget(): string | undefined {
    const waiting =
      this.knownGateway === undefined &&
      !this.remote?.gatewayKnown &&
      this.credentialsError === undefined &&
      this.remoteApiUp !== false;
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
      if (this.remote && fingerprint === this.connectedWith) {
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
    if (this.said?.fingerprint !== fingerprint) this.said = undefined;
    const carried = {
      ...(this.knownGateway ? { addresses: this.knownGateway.addresses } : {}),
      ...(this.said ? { before: this.said.identity } : {}),
    };
    const remote: RemoteCluster = new RemoteCluster(
      client,
      config,
      shared,
      {
        changed: (key) => this.queue.add(key),
        exported: (key, at) => {
          if (this.remote === remote) this.metrics.exported(key, at);
        },
        synced: () => {
          const services = remote.serviceKeys().length;
          shared.log.info({ ...this.logFields(), services }, 'remote caches synced');
          this.listedOnce = true;
          this.unsynced = new Set(remote.serviceKeys());
          this.enqueueAll();
        },
        health: (connected, error) => {
          if (this.remote === remote) this.setRemoteApi(connected, error);
        },
        identity: (identity) => {
          if (this.remote !== remote) return;
          const named = namedBy(identity);
          if (named) this.said = { fingerprint, identity: named };
          this.setIdentity(identity, client.server);
        },
        gatewayAddresses: (addresses, fromService) => {
          if (this.remote !== remote) return;
          const changed = addresses.join() !== this.knownGateway?.addresses.join();
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
   * Whether the remote API can be listed and watched (RemoteAPIAvailable, isthmus_remote_api_up).
   * A change is logged once: a Warning when it becomes unreachable, with why; Info when it is
   * reachable again, with for how long it was not. The retries in between say nothing.
   */
  private setRemoteApi(up: boolean, error: string | undefined): void {
    if (!up && this.unreachableSince === undefined) {
      this.unreachableSince = performance.now();
      this.shared.log.warn({ ...this.logFields(), reason: error }, 'remote API unreachable');
    } else if (up && this.unreachableSince !== undefined) {
      const down_seconds = Math.round((performance.now() - this.unreachableSince) / 100) / 10;
      this.unreachableSince = undefined;
      this.shared.log.info({ ...this.logFields(), down_seconds }, 'remote API reachable again');
    }
    this.remoteApiUp = up;
    this.remoteApiError = error;
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
    const { shared } = this;
    const fields = this.logFields();
    const refusal = this.refusalOf(identity, server);
    if (refusal) {
      // Found by a re-check after the caches had listed (identity-gate.ts refused the re-list or
      // the watch): nothing of them is believed now. Start over as a new connection, which lists
      // nothing until the remote agrees; the mirrors stay as they are meanwhile.
      if (this.remote?.isSynced) {
        void this.disconnect();
        this.queue.add(CONNECT);
      }
      // A re-check of the same refusal (remote-cluster.ts asks again with backoff) changes nothing.
      const same = refusal.reason === this.refusal?.reason && refusal.message === this.refusal.message;
      if (same && this.remoteApiUp === false) return;
      this.remoteApiUp = false;
      this.remoteApiError = undefined;
      this.metrics.remoteApiUp(false);
      this.queue.add(STATUS);
      if (same) return;
      this.refusal = refusal;
      shared.log.warn({ ...fields, reason: refusal.reason }, refusal.message);
      void shared.recorder?.record(this.link, 'Warning', refusal.reason, refusal.message);
      return;
    }
    if (identity.verdict === 'unknown' && identity.why === 'forbidden')
      shared.log.info(
        fields,
        `could not read namespace ${SYSTEM_NAMESPACE} of the remote (forbidden), so targetClusterName was not checked against the name the remote was installed with`,
      );
    if (this.refusal !== undefined) shared.log.info(fields, 'remote cluster name confirmed: mirroring again');
    this.refusal = undefined;
    this.nameChecked = true;
    this.queue.add(STATUS);
  }

  /** The Link's condition reason and message for an answer that lets nothing be listed, else undefined. */
  private refusalOf(
    identity: RemoteIdentity,
    server: string,
  ): { reason: RemoteRefusal; message: string } | undefined {
    const { config } = this;
    const names = {
      cluster: config.clusterName,
      server,
      secret: `${config.linkNamespace}/${config.credentialsSecret}`,
    };
    if (identity.verdict === 'mismatch')
      return {
        reason: 'RemoteClusterMismatch',
        message: mismatchMessage({ ...names, installed: identity.installed }),
      };
    if (identity.verdict === 'unconfirmed')
      return {
        reason: 'RemoteClusterUnconfirmed',
        message: unconfirmedMessage({ ...names, why: identity.why, before: identity.before }),
      };
    return undefined;
  }

  /**
   * The credentials could not be read or used. Said once per reason: with a working connection
   * kept, as a Warning (log and Event), since the Link goes on working until a restart; without,
   * the queue reports the failed connect.
   */
  private credentialsUnavailable(message: string): void {
    if (message === this.credentialsError) return;
    this.credentialsError = message;
    this.queue.add(STATUS);
    if (!this.remote) return;
    const note = `${message}: ${CREDENTIALS_KEPT}`;
    this.shared.log.warn({ ...this.logFields(), reason: 'CredentialsUnavailable' }, note);
    void this.shared.recorder?.record(this.link, 'Warning', 'CredentialsUnavailable', note);
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
