/**
 * One Link's status: the facts its LinkWatcher's parts hold, gathered into the LinkState the status
 * is computed from (link-state.ts, link-status.ts), and the write of it when it changes and may be
 * written (status-decided.ts), with the Events of the conditions it changes (link-events.ts).
 */
import { isIsthmusError } from '../errors.js';
import { R } from '../kube/resources.js';
import type { Link, LinkStatus } from '../kube/types.js';
import type { LinkConfig } from './link-config.js';
import type { LinkConnection } from './link-connection.js';
import type { LinkDeletionHold } from './link-deletion-hold.js';
import { linkConditionEvents } from './link-events.js';
import type { LinkMetrics } from './link-metrics.js';
import { linkStateOf } from './link-state.js';
import { type LinkState, linkStatus, sameStatus } from './link-status.js';
import type { MirrorReport } from './mirror-report.js';
import type { ProbeWorker } from './probe-worker.js';
import type { RemoteApiReport } from './remote-api-report.js';
import type { SharedLocal } from './shared.js';
import { statusDecided } from './status-decided.js';

/** Where the facts are: the LinkWatcher's parts, read when the status is computed. */
export interface LinkStatusSources {
  shared: SharedLocal;
  metrics: LinkMetrics;
  config(): LinkConfig;
  link(): Link;
  connection: LinkConnection;
  remoteApi: RemoteApiReport;
  mirrors: MirrorReport;
  probe: ProbeWorker;
  hold: LinkDeletionHold;
}

export class LinkStatusWriter {
  constructor(private readonly s: LinkStatusSources) {}

  /** Link status as last computed (for tests and `isthmus check`). */
  snapshot(): LinkStatus {
    return linkStatus(this.state(), this.s.link().status);
  }

  async write(): Promise<void> {
    const { shared, metrics, mirrors } = this.s;
    metrics.mirrored(() => mirrors.mirrored());
    if (!shared.leadership.isLeader()) return;
    const current = shared.client;
    const link = await current.get<Link>(R.links, this.s.config().linkNamespace, this.s.config().linkName);
    if (!link || link.metadata?.deletionTimestamp) return;
    if (!this.decided(link)) return;
    const status = linkStatus(this.state(), link.status);
    if (sameStatus(link.status, status)) return;
    try {
      await current.patchStatus(R.links, this.s.config().linkNamespace, this.s.config().linkName, { status });
    } catch (err) {
      // Deleted since the read: the manager stops this watcher on the Link's delete event.
      if (!isIsthmusError(err, 'KUBE_NOT_FOUND')) throw err;
      return;
    }
    // Told once per written change, by the leader that wrote it.
    for (const e of linkConditionEvents(link.status?.conditions, status.conditions ?? []))
      void shared.recorder?.record(this.s.link(), e.type, e.reason, e.message);
  }

  private state(): LinkState {
    const { connection, mirrors, probe, hold } = this.s;
    const config = this.s.config();
    const remote = connection.remote;
    const held = hold.current();
    const state = linkStateOf({
      generation: this.s.link().metadata?.generation,
      clusterName: config.clusterName,
      hasGateway: config.hasGateway,
      connected: remote !== undefined,
      remoteSynced: remote?.isSynced ?? false,
      ...this.s.remoteApi.facts(),
      gatewayAddresses: connection.gatewayAddresses(),
      mirrored: mirrors.mirrored(),
      statuses: mirrors.values(),
      unsynced: mirrors.unsyncedCount,
      probe,
    });
    return held ? { ...state, deletionsHeld: held } : state;
  }

  /** Whether what is known now may overwrite the status found (status-decided.ts). */
  private decided(link: Link): boolean {
    const { connection, probe } = this.s;
    const config = this.s.config();
    const { credentialsError, refusal, remoteApiUp, nameChecked } = this.s.remoteApi.facts();
    return statusDecided(link.status, {
      credentialsError,
      refused: refusal !== undefined,
      remoteApiUp,
      remoteSynced: connection.remote?.isSynced ?? false,
      nameChecked,
      clusterName: config.clusterName,
      localGatewayError: probe.localError,
      hasGateway: config.hasGateway,
      alive: probe.alive,
      superseded: probe.superseded,
      gatewayKnown: connection.remote?.gatewayKnown ?? false,
      gatewayAddresses: () => connection.gatewayAddresses(),
    });
  }
}
