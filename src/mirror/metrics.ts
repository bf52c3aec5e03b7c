/**
 * The mirror controller's Prometheus metrics (shared/DESIGN.md "Metrics", names close to Linkerd's).
 * Registered once per registry and shared by every LinkWatcher of the process: a second
 * runController on the same registry reuses them rather than failing on duplicate names.
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import { perRegistry } from '../per-registry.js';

export interface MirrorMetrics {
  gatewayAlive: Gauge<'target_cluster_name'>;
  remoteGatewayInfo: Gauge<'target_cluster_name' | 'version'>;
  probeLatency: Histogram<'target_cluster_name'>;
  probes: Counter<'target_cluster_name' | 'result'>;
  localGatewayUp: Gauge<'target_cluster_name'>;
  mirroredServices: Gauge<'target_cluster_name'>;
  syncs: Counter<'target_cluster_name'>;
  syncErrors: Counter<'target_cluster_name'>;
  remoteApiUp: Gauge<'target_cluster_name'>;
  credentialsExpiration: Gauge<'target_cluster_name'>;
  credentialsLifetime: Gauge<'target_cluster_name'>;
  exportToReady: Histogram<'target_cluster_name'>;
  deletionsHeld: Gauge<'target_cluster_name'>;
}

export const mirrorMetrics = perRegistry((registers): MirrorMetrics => {
  const metrics: MirrorMetrics = {
    gatewayAlive: new Gauge({
      name: 'gateway_alive',
      help: '1 when the remote gateway answered its last probes, 0 when it is considered dead',
      labelNames: ['target_cluster_name'],
      registers,
    }),
    remoteGatewayInfo: new Gauge({
      name: 'isthmus_remote_gateway_info',
      help: 'Always 1: the version the remote gateway answered its last successful probe with',
      labelNames: ['target_cluster_name', 'version'],
      registers,
    }),
    probeLatency: new Histogram({
      name: 'gateway_probe_latency_ms',
      help: 'Latency of successful probes of a remote gateway, in milliseconds',
      labelNames: ['target_cluster_name'],
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000],
      registers,
    }),
    probes: new Counter({
      name: 'gateway_probes_total',
      help: "Probes of remote gateways by result: success, failure (the remote's), local_failure (this cluster's gateway did not answer, or cannot probe: nothing is known of the remote)",
      labelNames: ['target_cluster_name', 'result'],
      registers,
    }),
    // Per Link, as gateway_alive: a local failure is counted where it hides a remote, and a Link
    // refused by the local gateway alone (no Link names its address there) shows as that Link's.
    localGatewayUp: new Gauge({
      name: 'isthmus_local_gateway_up',
      help: "1 while this cluster's gateway answers the probes of the remote gateway as able to probe; 0 while it does not answer or cannot probe (gateway_alive then keeps its last value)",
      labelNames: ['target_cluster_name'],
      registers,
    }),
    mirroredServices: new Gauge({
      name: 'isthmus_mirrored_services',
      help: 'Remote services currently mirrored',
      labelNames: ['target_cluster_name'],
      registers,
    }),
    syncs: new Counter({
      name: 'isthmus_mirror_syncs_total',
      help: 'Reconciliations of one remote Service key (controller-runtime reconcile_total), errors included',
      labelNames: ['target_cluster_name'],
      registers,
    }),
    syncErrors: new Counter({
      name: 'isthmus_mirror_sync_errors_total',
      help: 'Failed reconciliations of a mirror (each is retried with backoff)',
      labelNames: ['target_cluster_name'],
      registers,
    }),
    remoteApiUp: new Gauge({
      name: 'isthmus_remote_api_up',
      help: '1 while the remote API server can be listed and watched',
      labelNames: ['target_cluster_name'],
      registers,
    }),
    credentialsExpiration: new Gauge({
      name: 'isthmus_remote_credentials_expiration_timestamp_seconds',
      help: "When the token of a Link's credentials expires (Unix seconds); absent for a token that never expires",
      labelNames: ['target_cluster_name'],
      registers,
    }),
    credentialsLifetime: new Gauge({
      name: 'isthmus_remote_credentials_lifetime_seconds',
      help: "How long the token of a Link's credentials is valid in all (exp - nbf); absent for a token that never expires",
      labelNames: ['target_cluster_name'],
      registers,
    }),
    exportToReady: new Histogram({
      name: 'isthmus_export_to_ready_seconds',
      help: 'From a remote Service becoming exported (made exported, or labelled later; never the list that starts a watch) to ready local mirror endpoints',
      labelNames: ['target_cluster_name'],
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
    // Per replica, as isthmus_remote_api_up: each decides the hold from its own remote view, and a
    // follower holding is what it would do on taking over.
    deletionsHeld: new Gauge({
      name: 'isthmus_mirror_deletions_held',
      help: "Mirrors kept although the remote's last list lacks their Services: one list would have removed too many at once (deleted when the grace period ends unless listed again)",
      labelNames: ['target_cluster_name'],
      registers,
    }),
  };
  return metrics;
});
