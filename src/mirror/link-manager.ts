/**
 * One per controller process: watches the Links of its cluster and runs one LinkWatcher per Link.
 * A new Link starts a watcher; an edited Link updates it in place (no teardown); a deleted Link has
 * its mirrors removed before the finalizer `multicluster.isthmus.dev/mirrors` is released, which
 * Linkerd does not do (its mirrors outlive the Link). An invalid Link gets a status condition, and
 * so does a second Link to a cluster another Link already mirrors (link-claims.ts). Mirrors of a
 * cluster no Link targets any more are swept: process memory alone would forget a Link retargeted
 * while the controller was down.
 */
import { describeError, isIsthmusError } from '../errors.js';
import type { Informer, InformerEvent } from '../kube/informer.js';
import { LINK_FINALIZER } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { Link } from '../kube/types.js';
import { STOP_GRACE_MS, WorkQueue } from '../kube/work-queue.js';
import { cleanupConfig, clusterMirrorCount, removeClusterMirrors } from './cluster-cleanup.js';
import {
  claimConflict,
  clusterHolder,
  heldCluster,
  type LinkClaim,
  orphanClusters,
  sameLink,
} from './link-claims.js';
import { type LinkConfig, type ParsedLink, parseLinkSpec } from './link-config.js';
import { linkStatus, sameStatus } from './link-status.js';
import { LinkWatcher } from './link-watcher.js';
import type { SharedLocal } from './shared.js';

/** Queue key (Link keys are `namespace/name`): remove the mirrors of clusters no Link targets. */
const SWEEP = '@sweep';

export class LinkManager {
  private readonly watchers = new Map<string, { watcher: LinkWatcher; config: LinkConfig }>();
  private readonly queue: WorkQueue;
  private readonly unsubscribe: (() => void)[] = [];
  private stopped = false;

  constructor(
    private readonly links: Informer<Link>,
    private readonly shared: SharedLocal,
  ) {
    this.queue = new WorkQueue({
      ...(shared.queueBackoff ? { backoff: shared.queueBackoff } : {}),
      handler: (key) => (key === SWEEP ? this.sweep() : this.sync(key)),
      onError: (key, err, failures) => {
        if (isIsthmusError(err, 'NOT_LEADER')) return;
        // `link` is always a Link's namespace/name: the sweep of orphaned mirrors is no Link.
        const fields = {
          ...(key === SWEEP ? { task: 'sweep' } : { link: key }),
          failures,
          err: describeError(err),
        };
        // The Link went away or changed under us: its informer event queues the key again.
        if (expectedRace(err) && failures < RACE_RETRIES_QUIET) shared.log.debug(fields, 'link sync retried');
        else shared.log.warn(fields, 'link sync failed');
      },
    });
  }

  start(): void {
    this.unsubscribe.push(
      this.links.onEvent((e) => this.onLinkEvent(e)),
      this.shared.leadership.subscribe((leading) => {
        if (leading) this.queueAll();
      }),
    );
    this.queueAll();
  }

  /** Links first: the sweep spares clusters that a watcher serves. */
  private queueAll(): void {
    for (const link of this.links.list()) this.queue.add(keyOf(link));
    this.queue.add(SWEEP);
  }

  private onLinkEvent(e: InformerEvent<Link>): void {
    this.queue.add(keyOf(e.object));
    const targets = new Set([target(e.object), ...(e.type === 'update' ? [target(e.old)] : [])]);
    // Another Link to the same cluster may now hold it, or lose it.
    for (const link of this.links.list()) if (targets.has(target(link))) this.queue.add(keyOf(link));
    // A new target, or a new target checked (its watcher names it in the status): the old cluster's
    // mirrors may now be orphans.
    if (
      e.type !== 'update' ||
      target(e.old) !== target(e.object) ||
      e.old.status?.mirroredClusterName !== e.object.status?.mirroredClusterName
    )
      this.queue.add(SWEEP);
  }

  watcher(namespace: string, name: string): LinkWatcher | undefined {
    return this.watchers.get(`${namespace}/${name}`)?.watcher;
  }

  /**
   * Bounded like each watcher's stop (link-watcher.ts), and alongside them: a Link sync still
   * running starts no watcher, and one it updates does nothing once stopped.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const u of this.unsubscribe.splice(0)) u();
    const [abandoned] = await Promise.all([
      this.queue.stop({ graceMs: STOP_GRACE_MS }),
      ...[...this.watchers.values()].map((w) => w.watcher.stop()),
    ]);
    if (abandoned) this.shared.log.warn({}, 'stopped with a Link sync still waiting for the API server');
    this.watchers.clear();
  }

  private async sync(key: string): Promise<void> {
    const [namespace = '', name = ''] = key.split('/');
    const link = this.links.get(namespace, name);
    const current = this.watchers.get(key);
    if (!link) {
      // Gone after we released the finalizer, or without it: then the sweep finds its mirrors.
      await this.stopWatcher(key);
      return;
    }
    const leader = this.shared.leadership.isLeader();
    const parsed = this.parse(link);
    const claims = this.claims();
    if (link.metadata?.deletionTimestamp) {
      if (!leader) return;
      // Stop first: a running watcher could re-create a mirror that clean-up just deleted.
      await this.stopWatcher(key);
      if ((link.metadata.finalizers ?? []).includes(LINK_FINALIZER)) {
        const meta = link.metadata;
        const config = parsed.ok
          ? parsed.config
          : cleanupConfig(meta.namespace ?? '', meta.name ?? '', link.spec?.targetClusterName);
        // Another Link to the cluster holds its mirrors, or takes them over once this one is gone
        // (no delete and re-create, which would give every mirror a new cluster IP); one being
        // deleted too takes nothing over.
        const others = claims.filter((c) => !sameLink(c.link, link) && !c.link.metadata?.deletionTimestamp);
        if (config && !clusterHolder(others, config.clusterName))
          await removeClusterMirrors(this.shared, config);
        await this.releaseFinalizer(link);
      }
      return;
    }
    if (leader && !(link.metadata?.finalizers ?? []).includes(LINK_FINALIZER)) {
      await this.addFinalizer(link);
      return; // the update comes back as an event
    }
    const conflict = parsed.ok ? claimConflict(link, parsed.config.clusterName, claims) : undefined;
    const valid: ParsedLink = conflict ? { ok: false, reason: conflict } : parsed;
    if (!valid.ok) {
      await this.stopWatcher(key);
      this.shared.log.warn({ link: key, reason: valid.reason }, 'invalid Link');
      if (leader) await this.writeInvalid(link, valid.reason, claims);
      return;
    }
    if (current && current.config.clusterName !== valid.config.clusterName) {
      // A new target cluster is a new set of mirrors. The old cluster's are not deleted here: the
      // Link holds them (status.mirroredClusterName) until the new watcher has checked the new name
      // against the remote, and only then does the sweep find them orphaned. A mistyped name, which
      // the remote disowns (RemoteClusterMismatch), so deletes none, and fixing it keeps them.
      await this.stopWatcher(key);
      this.queue.add(key);
      return;
    }
    if (!current) {
      // One watcher per cluster: a Link that lost it (made invalid, or younger) may still run one.
      for (const [other, w] of this.watchers) {
        if (w.config.clusterName === valid.config.clusterName) await this.stopWatcher(other);
      }
      if (this.stopped) return;
      const watcher = new LinkWatcher(link, valid.config, this.shared);
      this.watchers.set(key, { watcher, config: valid.config });
      watcher.start();
      this.shared.log.info(
        { link: key, target_cluster: valid.config.clusterName },
        'watching linked cluster',
      );
      return;
    }
    if (JSON.stringify(current.config) === JSON.stringify(valid.config)) {
      current.watcher.setLink(link);
      return;
    }
    current.config = valid.config;
    current.watcher.update(link, valid.config);
    this.shared.log.info({ link: key }, 'Link changed');
  }

  private parse(link: Link): ParsedLink {
    return parseLinkSpec(link, {
      localGateway: this.shared.localGateway !== false,
      ...(this.shared.localCluster ? { localCluster: this.shared.localCluster } : {}),
    });
  }

  /** The valid Links and their clusters (Links are few: one per remote cluster). */
  private claims(): LinkClaim[] {
    return this.links.list().flatMap((link) => {
      const parsed = this.parse(link);
      return parsed.ok ? [{ link, cluster: parsed.config.clusterName }] : [];
    });
  }

  /** A stopped watcher leaves its mirrors: the sweep decides whether any Link still wants them. */
  private async stopWatcher(key: string): Promise<void> {
    const current = this.watchers.get(key);
    if (!current) return;
    this.watchers.delete(key);
    await current.watcher.stop();
    this.queue.add(SWEEP);
  }

  /**
   * Removes the mirrors of clusters that no Link targets and no watcher serves, and frees their
   * egress ports: what a Link retargeted while the controller was down, or through an invalid
   * edit, or deleted without our finalizer left. Runs on the complete Link list only (the manager
   * starts once its informer has synced).
   */
  private async sweep(): Promise<void> {
    if (!this.shared.leadership.isLeader()) return;
    const watched = [...this.watchers.values()].map((w) => w.config.clusterName);
    for (const cluster of orphanClusters(this.shared.services.list(), this.links.list(), watched)) {
      const config = cleanupConfig('', '', cluster);
      if (!config) continue;
      this.shared.log.info({ target_cluster: cluster }, 'removing the mirrors of a cluster no Link targets');
      await removeClusterMirrors(this.shared, config);
    }
  }

  private async addFinalizer(link: Link): Promise<void> {
    const meta = link.metadata ?? {};
    await this.patchLink(link, {
      finalizers: [...(meta.finalizers ?? []), LINK_FINALIZER],
      resourceVersion: meta.resourceVersion,
    });
  }

  private async releaseFinalizer(link: Link): Promise<void> {
    const meta = link.metadata ?? {};
    // resourceVersion makes this a compare-and-swap: a concurrent finalizer change gives 409.
    await this.patchLink(link, {
      finalizers: (meta.finalizers ?? []).filter((f) => f !== LINK_FINALIZER),
      resourceVersion: meta.resourceVersion,
    });
  }

  /**
   * A compare-and-swap of the Link as the cache holds it. The cache may be behind: the Link was
   * deleted meanwhile (404: a finalizer released by the previous sync), or changed (409: our own
   * status write, a user's edit). Neither is a failure: the informer's event for what happened
   * queues the Link again, and that sync decides on the newer object.
   */
  private async patchLink(link: Link, metadata: Record<string, unknown>): Promise<void> {
    const meta = link.metadata ?? {};
    try {
      await this.shared.client.patch(R.links, meta.namespace, meta.name ?? '', { metadata });
    } catch (err) {
      if (!expectedRace(err)) throw err;
      this.shared.log.debug(
        { link: keyOf(link), err: describeError(err) },
        'Link changed under a finalizer update: waiting for its event',
      );
    }
  }

  /**
   * Ready=False LinkInvalid. What else the status says stays true of what exists: the mirrors the
   * Link holds (kept while it is invalid, and still served by the gateway) and the remote gateway
   * addresses last followed, rather than zeros. A Link that lost its cluster to an older one holds
   * no mirror (that one counts them).
   */
  private async writeInvalid(link: Link, reason: string, claims: readonly LinkClaim[]): Promise<void> {
    const meta = link.metadata ?? {};
    const held = heldCluster(link);
    const holder = held === undefined ? undefined : clusterHolder(claims, held);
    const config =
      held === undefined || (holder && !sameLink(holder, link))
        ? undefined
        : cleanupConfig(meta.namespace ?? '', meta.name ?? '', held);
    const status = linkStatus(
      {
        invalid: reason,
        remoteSynced: false,
        remoteApiUp: false,
        gatewayAlive: 'unknown',
        gatewayAddresses: link.status?.gatewayAddresses ?? [],
        mirrored: config ? clusterMirrorCount(this.shared, config) : 0,
        problems: [],
        ...(meta.generation !== undefined ? { generation: meta.generation } : {}),
      },
      link.status,
    );
    if (sameStatus(link.status, status)) return;
    try {
      await this.shared.client.patchStatus(R.links, meta.namespace, meta.name ?? '', { status });
    } catch (err) {
      // Deleted since the cache saw it: its delete event stops here.
      if (isIsthmusError(err, 'KUBE_NOT_FOUND')) return;
      throw err;
    }
    void this.shared.recorder?.record(link, 'Warning', 'LinkInvalid', reason);
  }
}

/** 404 or 409 on a Link: the object went away or changed under us, and its event re-queues it. */
function expectedRace(err: unknown): boolean {
  return isIsthmusError(err, 'KUBE_NOT_FOUND') || isIsthmusError(err, 'KUBE_CONFLICT');
}

/** Failures of one key logged at debug while they are races (expectedRace), then at warn. */
const RACE_RETRIES_QUIET = 3;

function target(link: Link): unknown {
  return link.spec?.targetClusterName;
}

function keyOf(link: Link): string {
  return `${link.metadata?.namespace ?? ''}/${link.metadata?.name ?? ''}`;
}
