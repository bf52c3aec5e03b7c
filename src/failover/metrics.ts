/**
 * The failover controller's Prometheus metrics (shared/DESIGN.md "Metrics"). Registered once per
 * registry, so the failover and mirror controllers can share one process and one /metrics.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface FailoverMetrics {
  /** 1 while a split's traffic is on its backups (state Fallback), else 0. */
  active: Gauge<'namespace' | 'split'>;
  /** Reconciliations that failed and were retried. */
  syncErrors: Counter<string>;
}

const cache = new WeakMap<Registry, FailoverMetrics>();

export function failoverMetrics(registry: Registry): FailoverMetrics {
  const known = cache.get(registry);
  if (known) return known;
  const registers = [registry];
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
  cache.set(registry, metrics);
  return metrics;
}
