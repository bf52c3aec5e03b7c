/**
 * One per controller process: watches the Links of its cluster and runs one LinkWatcher per Link.
 * A new Link starts a watcher; an edited Link updates it in place (no teardown); a deleted Link has
 * its mirrors removed before the finalizer `multicluster.isthmus.dev/mirrors` is released, which
 * Linkerd does not do (its mirrors outlive the Link). An invalid Link gets a status condition.
 */
import { describeError } from '../errors.js';
import type { Informer } from '../kube/informer.js';
import { LINK_FINALIZER } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { Link } from '../kube/types.js';
import { type LinkConfig, parseLinkSpec } from './link-config.js';
import { linkStatus, sameStatus } from './link-status.js';
import { LinkWatcher } from './link-watcher.js';
import type { SharedLocal } from './shared.js';
import { WorkQueue } from './work-queue.js';

export class LinkManager {
  private readonly watchers = new Map<string, { watcher: LinkWatcher; config: LinkConfig }>();
  private readonly queue: WorkQueue;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly links: Informer<Link>,
    private readonly shared: SharedLocal,
  ) {
    this.queue = new WorkQueue({
      ...(shared.queueBackoff ? { backoff: shared.queueBackoff } : {}),
      handler: (key) => this.sync(key),
      onError: (key, err) => shared.log.warn({ link: key, err: describeError(err) }, 'link sync failed'),
    });
  }

  start(): void {
    this.unsubscribe.push(
      this.links.onEvent((e) => this.queue.add(keyOf(e.object))),
      this.shared.leadership.subscribe((leading) => {
        if (leading) for (const link of this.links.list()) this.queue.add(keyOf(link));
      }),
    );
    for (const link of this.links.list()) this.queue.add(keyOf(link));
  }

  watcher(namespace: string, name: string): LinkWatcher | undefined {
    return this.watchers.get(`${namespace}/${name}`)?.watcher;
  }

  async stop(): Promise<void> {
    for (const u of this.unsubscribe.splice(0)) u();
    await this.queue.stop();
    await Promise.all([...this.watchers.values()].map((w) => w.watcher.stop()));
    this.watchers.clear();
  }

  private async sync(key: string): Promise<void> {
    const [namespace = '', name = ''] = key.split('/');
    const link = this.links.get(namespace, name);
    const current = this.watchers.get(key);
    if (!link) {
      // Gone without our finalizer (or after we released it): nothing left to clean.
      this.watchers.delete(key);
      await current?.watcher.stop();
      return;
    }
    const leader = this.shared.leadership.isLeader();
    const parsed = parseLinkSpec(link, {
      localGateway: this.shared.localGateway !== false,
      ...(this.shared.localCluster ? { localCluster: this.shared.localCluster } : {}),
    });
    if (link.metadata?.deletionTimestamp) {
      if (!leader) return;
      // Stop first: a running watcher could re-create a mirror that clean-up just deleted.
      this.watchers.delete(key);
      await current?.watcher.stop();
      if ((link.metadata.finalizers ?? []).includes(LINK_FINALIZER)) {
        const config = parsed.ok ? parsed.config : cleanupConfig(link);
        if (config) await new LinkWatcher(link, config, this.shared).cleanup();
        await this.releaseFinalizer(link);
      }
      return;
    }
    if (leader && !(link.metadata?.finalizers ?? []).includes(LINK_FINALIZER)) {
      await this.addFinalizer(link);
      return; // the update comes back as an event
    }
    if (!parsed.ok) {
      this.watchers.delete(key);
      await current?.watcher.stop();
      this.shared.log.warn({ link: key, reason: parsed.reason }, 'invalid Link');
      if (leader) await this.writeInvalid(link, parsed.reason);
      return;
    }
    if (current && current.config.clusterName !== parsed.config.clusterName) {
      // A new target cluster is a new set of mirrors: the old cluster's mirrors go first.
      this.watchers.delete(key);
      await current.watcher.stop();
      if (leader) await new LinkWatcher(link, current.config, this.shared).cleanup();
      this.queue.add(key);
      return;
    }
    if (!current) {
      const watcher = new LinkWatcher(link, parsed.config, this.shared);
      this.watchers.set(key, { watcher, config: parsed.config });
      watcher.start();
      this.shared.log.info({ link: key, cluster: parsed.config.clusterName }, 'watching linked cluster');
      return;
    }
    if (JSON.stringify(current.config) !== JSON.stringify(parsed.config)) {
      current.config = parsed.config;
      current.watcher.update(link, parsed.config);
      this.shared.log.info({ link: key }, 'Link changed');
    }
  }

  private async addFinalizer(link: Link): Promise<void> {
    const meta = link.metadata ?? {};
    await this.shared.client.patch(R.links, meta.namespace, meta.name ?? '', {
      metadata: {
        finalizers: [...(meta.finalizers ?? []), LINK_FINALIZER],
        resourceVersion: meta.resourceVersion,
      },
    });
  }

  private async releaseFinalizer(link: Link): Promise<void> {
    const meta = link.metadata ?? {};
    // resourceVersion makes this a compare-and-swap: a concurrent finalizer change gives 409 → retry.
    await this.shared.client.patch(R.links, meta.namespace, meta.name ?? '', {
      metadata: {
        finalizers: (meta.finalizers ?? []).filter((f) => f !== LINK_FINALIZER),
        resourceVersion: meta.resourceVersion,
      },
    });
  }

  private async writeInvalid(link: Link, reason: string): Promise<void> {
    const meta = link.metadata ?? {};
    const status = linkStatus(
      {
        invalid: reason,
        remoteSynced: false,
        remoteApiUp: false,
        gatewayAlive: 'unknown',
        gatewayAddresses: [],
        mirrored: 0,
        problems: [],
        ...(meta.generation !== undefined ? { generation: meta.generation } : {}),
      },
      link.status,
    );
    if (sameStatus(link.status, status)) return;
    await this.shared.client.patchStatus(R.links, meta.namespace, meta.name ?? '', { status });
    void this.shared.recorder?.record(link, 'Warning', 'LinkInvalid', reason);
  }
}

/**
 * Clean-up needs only the cluster name: a Link made invalid by an edit still had mirrors, and its
 * deletion must remove them. Other fields get harmless placeholders.
 */
function cleanupConfig(link: Link): LinkConfig | undefined {
  const spec = link.spec ?? ({} as Link['spec']);
  const parsed = parseLinkSpec({
    ...link,
    spec: { targetClusterName: spec.targetClusterName, clusterCredentialsSecret: '-', gatewayAddress: '-' },
  });
  return parsed.ok ? parsed.config : undefined;
}

function keyOf(link: Link): string {
  return `${link.metadata?.namespace ?? ''}/${link.metadata?.name ?? ''}`;
}
