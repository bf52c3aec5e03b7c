/**
 * The federation controller's Prometheus metrics. Registered once per registry, so it shares the
 * controller process's /metrics with the mirror and failover controllers.
 */
import { Counter, Gauge } from 'prom-client';
import { perRegistry } from '../per-registry.js';

export interface FederationMetrics {
  set(namespace: string, service: string, members: number, readyMembers: number): void;
  forget(namespace: string, service: string): void;
  /** Removes every federation's series (a replica that stops leading). */
  clear(): void;
  /** Reconciliations that failed and were retried. */
  syncErrors: Counter<string>;
}

export const federationMetrics = perRegistry((registers): FederationMetrics => {
  const labelNames = ['namespace', 'service'] as const;
  const members = new Gauge({
    name: 'isthmus_federation_members',
    help: 'Member clusters of a federated service (<service>-federated), the local one included',
    labelNames,
    registers,
  });
  const ready = new Gauge({
    name: 'isthmus_federation_ready_members',
    help: 'Member clusters of a federated service that have a ready endpoint (for a remote member: its gateway answers and the remote Service has ready endpoints)',
    labelNames,
    registers,
  });
  const metrics: FederationMetrics = {
    set(namespace, service, count, readyCount) {
      members.set({ namespace, service }, count);
      ready.set({ namespace, service }, readyCount);
    },
    forget(namespace, service) {
      members.remove({ namespace, service });
      ready.remove({ namespace, service });
    },
    clear() {
      members.reset();
      ready.reset();
    },
    syncErrors: new Counter({
      name: 'isthmus_federation_sync_errors_total',
      help: 'Failed reconciliations of a federated service (each is retried with backoff)',
      registers,
    }),
  };
  return metrics;
});
