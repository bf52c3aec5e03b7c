/**
 * What one Link knows of the remote API it connects to, and the telling of each change: whether it
 * can be listed and watched, and why not (remote-api-failure.ts, remote-api-health.ts); whether the
 * remote is the Link's cluster (remote-refusal.ts); whether the credentials could be read and used
 * (credentials-use.ts). The LinkWatcher's status is computed from these (link-state.ts); the
 * decisions are the pure functions named, this does the logs, Events and the gauge.
 */
import { describeError } from '../errors.js';
import { LINK_SERVICE_ACCOUNT_ANNOTATION, SYSTEM_NAMESPACE } from '../kube/keys.js';
import type { Link } from '../kube/types.js';
import { credentialsNotice } from './credentials-use.js';
import type { LinkConfig } from './link-config.js';
import type { LinkMetrics } from './link-metrics.js';
import type { LinkFacts } from './link-state.js';
import { type RemoteApiReason, remoteApiFailure } from './remote-api-failure.js';
import { remoteApiChange } from './remote-api-health.js';
import type { RemoteIdentity } from './remote-identity.js';
import { planIdentity, type Refusal } from './remote-refusal.js';
import type { SharedLocal } from './shared.js';

export interface RemoteApiReportDeps {
  shared: SharedLocal;
  metrics: LinkMetrics;
  config(): LinkConfig;
  link(): Link;
  logFields(): object;
  /** Queues a status write. */
  statusChanged(): void;
  /** Drops the connection and queues a new one. */
  reconnect(): void;
}

export class RemoteApiReport {
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
   * A connection has checked the Link's targetClusterName against the remote (or found a remote
   * that cannot say): the status may name it as the cluster whose mirrors the Link holds.
   */
  private nameChecked = false;

  constructor(private readonly deps: RemoteApiReportDeps) {}

  /** What the status is computed from (link-state.ts LinkFacts, status-decided.ts). */
  facts(): Pick<
    LinkFacts,
    'remoteApiUp' | 'remoteApiError' | 'remoteApiReason' | 'credentialsError' | 'refusal' | 'nameChecked'
  > {
    return {
      remoteApiUp: this.remoteApiUp,
      remoteApiError: this.remoteApiError,
      remoteApiReason: this.remoteApiReason,
      credentialsError: this.credentialsError,
      refusal: this.refusal,
      nameChecked: this.nameChecked,
    };
  }

  /**
   * Whether the remote API can be listed and watched (RemoteAPIAvailable, isthmus_remote_api_up):
   * by every remote informer the Link runs (remote-api-sources.ts); `resource`, what the failing one
   * reads. A change is logged once: a Warning when it becomes unreachable, with why; Info when it is
   * reachable again, with for how long it was not. The retries in between say nothing.
   */
  setRemoteApi(up: boolean, error: unknown, resource: string | undefined): void {
    const { shared } = this.deps;
    const config = this.deps.config();
    const failure = up
      ? undefined
      : remoteApiFailure(
          error,
          {
            cluster: config.clusterName,
            secret: `${config.linkNamespace}/${config.credentialsSecret}`,
            account: this.deps.link().metadata?.annotations?.[LINK_SERVICE_ACCOUNT_ANNOTATION],
          },
          resource,
        );
    const change = remoteApiChange(this.unreachableSince, up, performance.now());
    this.unreachableSince = change.since;
    if (change.notice?.kind === 'unreachable')
      shared.log.warn(
        { ...this.deps.logFields(), reason: error === undefined ? undefined : describeError(error) },
        'remote API unreachable',
      );
    else if (change.notice?.kind === 'reachable')
      shared.log.info(
        { ...this.deps.logFields(), down_seconds: change.notice.downSeconds },
        'remote API reachable again',
      );
    this.remoteApiUp = up;
    this.remoteApiError = failure?.message;
    this.remoteApiReason = failure?.reason;
    this.deps.metrics.remoteApiUp(up);
    this.deps.statusChanged();
  }

  /**
   * What the remote said of the Link's cluster, at a connection or at a re-check after a break
   * (identity-gate.ts). A refusal (a mismatch, or a remote that said a name on this connection and
   * cannot say now) keeps every mirror as it is (the remote is not listed: as an outage) and is
   * said once (a Warning log line and Event) per message; `isthmus_remote_api_up` is 0, since the
   * Link's cluster is not known to be what the credentials reach. `remoteSynced`: the connection's.
   */
  setIdentity(identity: RemoteIdentity, server: string, remoteSynced: boolean): void {
    const { shared } = this.deps;
    const config = this.deps.config();
    const fields = this.deps.logFields();
    const names = {
      cluster: config.clusterName,
      server,
      secret: `${config.linkNamespace}/${config.credentialsSecret}`,
    };
    const plan = planIdentity(identity, names, {
      before: this.refusal,
      remoteSynced,
      remoteApiUp: this.remoteApiUp,
    });
    if (plan.kind === 'refused') {
      if (plan.restart) this.deps.reconnect();
      if (plan.markDown) {
        this.remoteApiUp = false;
        this.remoteApiError = undefined;
        this.remoteApiReason = undefined;
        this.deps.metrics.remoteApiUp(false);
        this.deps.statusChanged();
      }
      if (!plan.announce) return;
      this.refusal = plan.refusal;
      shared.log.warn({ ...fields, reason: plan.refusal.reason }, plan.refusal.message);
      void shared.recorder?.record(this.deps.link(), 'Warning', plan.refusal.reason, plan.refusal.message);
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
    this.deps.statusChanged();
  }

  /**
   * The credentials could not be read or used: said once per reason (credentials-use.ts).
   * `connected`: a connection made with credentials read before runs.
   */
  credentialsUnavailable(message: string, connected: boolean): void {
    const { shared } = this.deps;
    const notice = credentialsNotice(this.credentialsError, message, connected);
    if (!notice.changed) return;
    this.credentialsError = message;
    this.deps.statusChanged();
    if (notice.warning === undefined) return;
    shared.log.warn({ ...this.deps.logFields(), reason: 'CredentialsUnavailable' }, notice.warning);
    void shared.recorder?.record(this.deps.link(), 'Warning', 'CredentialsUnavailable', notice.warning);
  }

  clearCredentialsError(): void {
    if (this.credentialsError === undefined) return;
    this.credentialsError = undefined;
    this.deps.statusChanged();
  }
}
