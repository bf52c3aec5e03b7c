/**
 * A connection's first question, which cluster the remote is (remote-identity.ts), and its asking
 * again until the answer is no refusal; the gate (identity-gate.ts) asks it again at every break.
 * remote-cluster.ts starts its informers once this has accepted the remote.
 */
import { isIsthmusError } from '../errors.js';
import { Backoff, type BackoffPolicy, DEFAULT_BACKOFF } from '../kube/backoff.js';
import type { KubeClient } from '../kube/client.js';
import { SYSTEM_NAMESPACE } from '../kube/keys.js';
import { R } from '../kube/resources.js';
import type { V1Namespace } from '../kube/types.js';
import { IdentityGate } from './identity-gate.js';
import type { RemoteApiSource, SourceHealth } from './remote-api-sources.js';
import { type NamedIdentity, type RemoteIdentity, refused, remoteIdentity } from './remote-identity.js';

/** The first read of a connection: the GET of `isthmus-system` that says which cluster it is. */
export const IDENTITY: RemoteApiSource = { name: 'identity', resource: 'namespaces' };

export interface IdentityCheckDeps {
  /** The remote client itself: the question goes past the gate. */
  client: KubeClient;
  /** The Link's cluster name, which the remote should say. */
  cluster: string;
  backoff: BackoffPolicy | undefined;
  /** What the remote said on the connection this one replaces (RemoteClusterOptions.before). */
  before: NamedIdentity | undefined;
  /** The health of the `IDENTITY` read. */
  health(health: SourceHealth): void;
  /** An answer that differs from the one reported before (RemoteClusterEvents.identity). */
  identity(identity: RemoteIdentity): void;
  /** The remote said it is the Link's cluster, or cannot say and is trusted: watch it. */
  accepted(): void;
}

export class IdentityCheck {
  /** Asks the remote which cluster it is, at the connection and after every break. */
  readonly gate: IdentityGate;
  /** The next identity check (after a failure, or of a mismatch). */
  private verifyTimer: NodeJS.Timeout | undefined;
  /** The last answer reported (JSON): re-checks that change nothing say nothing. */
  private reported: string | undefined;
  private stopped = false;

  constructor(private readonly deps: IdentityCheckDeps) {
    this.gate = new IdentityGate(
      () => this.askIdentity(),
      (identity) => this.report(identity),
      deps.before,
    );
  }

  start(): void {
    void this.verify(new Backoff(this.deps.backoff ?? DEFAULT_BACKOFF));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.verifyTimer);
  }

  /**
   * The connection's first question (identity-gate.ts asks it). A remote that does not answer is
   * an outage (health), asked again with backoff, as the informers would; so is a refusal.
   */
  private async verify(backoff: Backoff): Promise<void> {
    let identity: RemoteIdentity;
    try {
      identity = await this.gate.identity();
    } catch (err) {
      if (this.stopped) return;
      this.deps.health({ connected: false, error: err });
      this.verifyLater(backoff);
      return;
    }
    if (this.stopped) return;
    this.deps.health({ connected: true });
    if (refused(identity)) this.verifyLater(backoff);
    else this.deps.accepted();
  }

  private verifyLater(backoff: Backoff): void {
    if (this.stopped) return;
    this.gate.broken();
    this.verifyTimer = setTimeout(() => void this.verify(backoff), backoff.next());
    this.verifyTimer.unref();
  }

  /**
   * One GET of the remote's `isthmus-system` namespace (which the remote-access role may read),
   * past the gate. A 403 or a missing label cannot say: trusted unless the remote said a name
   * before on this connection (the gate's `recheck`, remote-identity.ts).
   */
  private async askIdentity(): Promise<RemoteIdentity> {
    let namespace: V1Namespace | 'forbidden' | undefined;
    try {
      namespace = await this.deps.client.get<V1Namespace>(R.namespaces, undefined, SYSTEM_NAMESPACE);
    } catch (err) {
      if (!isIsthmusError(err, 'KUBE_FORBIDDEN')) throw err;
      namespace = 'forbidden';
    }
    return remoteIdentity(namespace, this.deps.cluster);
  }

  private report(identity: RemoteIdentity): void {
    const said = JSON.stringify(identity);
    if (this.stopped || said === this.reported) return;
    this.reported = said;
    this.deps.identity(identity);
  }
}
