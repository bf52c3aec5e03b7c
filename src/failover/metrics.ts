/**
 * The failover controller's Prometheus metrics (shared/DESIGN.md "Metrics"). Registered once per
 * registry, so the failover and mirror controllers can share one process and one /metrics.
 */
import { Counter, Gauge } from 'prom-client';
import { perRegistry } from '../per-registry.js';
import type { SplitState } from './split-status.js';

export interface FailoverMetrics {
  /**
   * 1 while a failover split's weights are on its backups (the primary at 0, a backup above): in
   * Fallback, and still while nothing is ready after it (the weights stay there). Left as it was
   * while the split is Invalid (so are its weights); 0 for a steer-only split (the user's weights)
   * and for a split no caller reaches its backends through (failoverGauges).
   */
  active: Gauge<'namespace' | 'split'>;
  /**
   * 1 while the split's `status.state` is `NothingReady`: no backend (for a steer-only split, no
   * weighted backend) has a ready endpoint, so its callers get nothing, though the weights (left as
   * they were) may keep `active` at 0. 0 in any other state, `Invalid` included (what `isthmus check`
   * fails on, not a readiness verdict). Created and removed with `active`.
   */
  nothingReady: Gauge<'namespace' | 'split'>;
  /** Reconciliations that failed and were retried. */
  syncErrors: Counter<string>;
}

export const failoverMetrics = perRegistry((registers): FailoverMetrics => {
  const metrics: FailoverMetrics = {
    active: new Gauge({
      name: 'isthmus_failover_active',
      help: '1 while the failover TrafficSplit has its weights on backups rather than the primary (also while nothing is ready)',
      labelNames: ['namespace', 'split'],
      registers,
    }),
    nothingReady: new Gauge({
      name: 'isthmus_failover_nothing_ready',
      help: '1 while no backend of the TrafficSplit (for a steer-only split, no weighted backend) has a ready endpoint: its callers get nothing',
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

/**
 * The gauges of a claimed split. `onBackups`: a failover split's weights are on its backups (read
 * from the weights, so it holds through NothingReady and Invalid, where they stay as they were).
 * `steersNothing`: no caller reaches a backend through the split, its apex missing or another
 * split's (APEX_LOST_REASONS): both gauges 0, never absent, so the series still lists the split and
 * an alert on `== 1` (IsthmusFailoverActive, IsthmusFailoverNothingReady) does not fire for traffic
 * that is not there; `isthmus check` warns of the apex instead.
 */
export function failoverGauges(input: { onBackups: boolean; state: SplitState; steersNothing: boolean }): {
  active: number;
  nothingReady: number;
} {
  if (input.steersNothing) return { active: 0, nothingReady: 0 };
  return { active: input.onBackups ? 1 : 0, nothingReady: input.state === 'NothingReady' ? 1 : 0 };
}
