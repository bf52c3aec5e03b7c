/**
 * The failover controller's Prometheus metrics (shared/DESIGN.md "Metrics"). Registered once per
 * registry, so the failover and mirror controllers can share one process and one /metrics.
 */
import { Counter, Gauge } from 'prom-client';
import { perRegistry } from '../per-registry.js';

export interface FailoverMetrics {
  /** 1 while a split's traffic is on its backups (state Fallback), else 0. */
  active: Gauge<'namespace' | 'split'>;
  /** Reconciliations that failed and were retried. */
  syncErrors: Counter<string>;
}

export const failoverMetrics = perRegistry((registers): FailoverMetrics => {
  const metrics: FailoverMetrics = {
    active: new Gauge({
      name: 'isthmus_failover_active',
      help: '1 while the TrafficSplit sends its traffic to backups rather than the primary',
      labelNames: ['namespace', 'split'],
      registers,
    }),
    syncErrors: new Counter({
      name: 'isthmus_failover_sync_errors_total',
      help: 'Failed reconciliations of a TrafficSplit (each is retried with backoff)',
      registers,
    }),
  };
  return metrics;
});
