/**
 * What every LinkWatcher of one controller process shares: the local client and caches, the egress
 * port allocator, metrics, events, leadership. Shared so that N Links cost one watch per local
 * resource, and so that egress ports are unique across all Links (one local gateway serves them all).
 */

import type { BackoffPolicy } from '../kube/backoff.js';
import type { KubeClient } from '../kube/client.js';
import type { EventRecorder } from '../kube/events.js';
import type { Informer } from '../kube/informer.js';
import type { LeadershipGained, LeadershipLost } from '../kube/leader-election.js';
import type { V1EndpointSlice, V1Namespace, V1Secret, V1Service } from '../kube/types.js';
import type { QueueBackoff } from '../kube/work-queue.js';
import type { HoldClock } from './deletion-hold.js';
import type { GatewayListening } from './gateway-listening.js';
import type { VacatedNames } from './hand-over.js';
import type { MirrorMetrics } from './metrics.js';
import type { OwnWrites } from './own-writes.js';
import type { PodMirrorLookup } from './pod-mirror-index.js';
import type { PortAllocator } from './port-allocator.js';
import type { Resolve } from './remote-gateway.js';

export interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {}, debug() {} };

/** Why leadership changed, as the Lease said it (leader-election.ts); absent when set by hand. */
export type LeadershipChange = LeadershipGained | LeadershipLost;

/** Who may write. Only the leader writes; followers keep caches warm and take over at once. */
export class Leadership {
  private leading: boolean;
  private readonly subscribers = new Set<(leading: boolean, why?: LeadershipChange) => void>();

  constructor(leading = true) {
    this.leading = leading;
  }

  isLeader(): boolean {
    return this.leading;
  }

  set(leading: boolean, why?: LeadershipChange): void {
    if (leading === this.leading) return;
    this.leading = leading;
    for (const s of this.subscribers) s(leading, why);
  }

  subscribe(fn: (leading: boolean, why?: LeadershipChange) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }
}

export interface SharedLocal {
  client: KubeClient;
  /** This cluster's name, when known (exports may admit only some clusters). */
  localCluster?: string;
  /** Every local Service: mirrors, and strangers that hold a mirror's name (conflicts). */
  services: Informer<V1Service>;
  /** Deleted Services whose ClusterIP a new mirror of their name keeps (hand-over.ts). */
  vacated?: Pick<VacatedNames, 'get'>;
  /** Per-pod mirrors of a headless parent, from an index (absent: scan `services`). */
  podMirrors?: PodMirrorLookup;
  /** Local EndpointSlices labelled managed-by=mirror.isthmus.dev. */
  slices: Informer<V1EndpointSlice>;
  namespaces: Informer<V1Namespace>;
  /** false: this cluster has no gateway (`--no-gateway`), so only Links without one are valid. */
  localGateway?: boolean;
  /** Addresses of the ready local gateway pods (or the configured static list). */
  gatewayAddresses(): string[];
  /** The IP family a Service gets here by default (the `kubernetes` Service's), when known. */
  clusterFamily(): string | undefined;
  /** Subscribe to changes of gatewayAddresses(). */
  onGatewayAddresses(fn: () => void): () => void;
  allocator: PortAllocator;
  /** The egress ports the local gateways listen on (absent: not known, every port is listed). */
  listening?: Pick<GatewayListening, 'ports'>;
  /**
   * Subscribe to the mirrors whose waited-for egress ports resolved, as the allocator's owners
   * (`<cluster>/<namespace>/<name>`, port-allocator.ts `mirrorOwner`).
   */
  onListening?(fn: (mirrors: ReadonlySet<string>) => void): () => void;
  metrics: MirrorMetrics;
  recorder?: EventRecorder;
  leadership: Leadership;
  /** Base URL of the local gateway admin server, for /probe. */
  adminUrl: string;
  log: Logger;
  /** Builds the remote API client from a Link's credentials Secret. */
  remoteClient(secret: V1Secret): KubeClient;
  resolve?: Resolve;
  /** How often gateway hostnames are re-resolved. */
  resolveIntervalMs: number;
  /** Passed to remote informers: how fast they retry a failing remote API. */
  remoteBackoff?: BackoffPolicy;
  /** Retry policy of the per-Link work queues. */
  queueBackoff?: QueueBackoff;
  /** Delay before a terminal sync failure is tried again (absent: the queue's TERMINAL_RETRY_MS). */
  terminalRetryMs?: number;
  /** How long a key's syncs must keep failing before SyncFailing (absent: SYNC_FAILING_AFTER_MS). */
  syncFailingAfterMs?: number;
  /** Remote Service keys synced at once per Link (each sync is a few sequential API calls). */
  workers: number;
  /** Our own writes, whose watch echoes need no sync (absent: every event syncs). */
  ownWrites?: OwnWrites;
  /**
   * How long removals a shrunk remote list would make are held (deletion-hold.ts; absent:
   * DEFAULT_DELETION_GRACE_MS, 0: never held), and the clock that ends the hold (absent: real time).
   */
  deletionGraceMs?: number;
  deletionClock?: HoldClock;
}
