/**
 * The series of one Link, and which replica exposes them. Every replica watches the remote API
 * and probes the remote gateway (followers keep warm to take over at once), so what those observe
 * is each replica's own and live: `isthmus_remote_api_up`, the credentials' expiry and lifetime
 * (and `gateway_alive`, `isthmus_remote_gateway_info`, kept by the probe worker). Only the leader
 * syncs, so only the leader knows how many Services are mirrored and when an export became ready:
 * `isthmus_mirrored_services` is the leader's alone, removed (not zeroed) by a replica that stops
 * leading, whose last value would go stale (a `max by` alert kept firing, a sum counting twice).
 */
import type { credentialsLifetime } from './credentials-watch.js';
import type { MirrorMetrics } from './metrics.js';
import type { Leadership } from './shared.js';

export class LinkMetrics {
  /** Exports (remote keys) waiting for a ready mirror, with when they began (export-timing.ts). */
  private readonly exports = new Map<string, number>();
  private readonly labels: { target_cluster_name: string };
  private stopped = false;

  constructor(
    private readonly metrics: MirrorMetrics,
    private readonly leadership: Leadership,
    cluster: string,
  ) {
    this.labels = { target_cluster_name: cluster };
  }

  /**
   * A Service became an export at `at` (local ms). Timed by the leader only: a follower does not
   * sync, so it would time what the leader made ready long ago once it takes over.
   */
  exported(key: string, at: number): void {
    if (this.leadership.isLeader()) this.exports.set(key, at);
  }

  /** The key's Service is gone or no longer picked: nothing to time. */
  forget(key: string): void {
    this.exports.delete(key);
  }

  /** The key's mirror is ready: an export waiting for it is timed, once. */
  ready(key: string): void {
    const since = this.exports.get(key);
    if (since === undefined) return;
    this.exports.delete(key);
    this.metrics.exportToReady.observe(this.labels, Math.max(0, (Date.now() - since) / 1000));
  }

  /** `count()`: Services mirrored now, asked only while this replica leads. */
  mirrored(count: () => number): void {
    if (this.leadership.isLeader() && !this.stopped) this.metrics.mirroredServices.set(this.labels, count());
    else this.metrics.mirroredServices.remove(this.labels);
  }

  /** This replica stopped leading: the leader's series go, and exports it would never time. */
  steppedDown(): void {
    this.exports.clear();
    this.metrics.mirroredServices.remove(this.labels);
  }

  remoteApiUp(up: boolean): void {
    this.metrics.remoteApiUp.set(this.labels, up ? 1 : 0);
  }

  /**
   * The token in use: its expiry, and its whole lifetime (alerts warn, as `isthmus check` does,
   * within a tenth of it); no series for a token that never expires.
   */
  lifetime(lifetime: ReturnType<typeof credentialsLifetime>): void {
    const { credentialsExpiration, credentialsLifetime: life } = this.metrics;
    if (lifetime) credentialsExpiration.set(this.labels, lifetime.expiresAt.getTime() / 1000);
    else credentialsExpiration.remove(this.labels);
    if (lifetime?.notBefore)
      life.set(this.labels, (lifetime.expiresAt.getTime() - lifetime.notBefore.getTime()) / 1000);
    else life.remove(this.labels);
  }

  /** The Link's watcher stopped: none of its series stays (a sync still finishing sets none). */
  remove(): void {
    this.stopped = true;
    this.steppedDown();
    this.metrics.remoteApiUp.remove(this.labels);
    this.lifetime(undefined);
  }
}
