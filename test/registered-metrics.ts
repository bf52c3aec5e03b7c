/** Every metric name the gateway, the controller and identity register (for tests of dashboards and alerts). */
import { Registry } from 'prom-client';
import { failoverMetrics } from '../src/failover/metrics.js';
import { federationMetrics } from '../src/federation/metrics.js';
import { createGatewayMetrics } from '../src/gateway/metrics.js';
import { createIdentityMetrics } from '../src/identity/identity-metrics.js';
import { mirrorMetrics } from '../src/mirror/metrics.js';

export async function registeredMetricNames(): Promise<Set<string>> {
  const gateway = createGatewayMetrics({ processMetrics: false });
  const identity = createIdentityMetrics();
  try {
    const controller = new Registry();
    mirrorMetrics(controller);
    failoverMetrics(controller);
    federationMetrics(controller);
    const all = [
      ...(await gateway.registry.getMetricsAsJSON()),
      ...(await controller.getMetricsAsJSON()),
      ...(await identity.registry.getMetricsAsJSON()),
    ];
    return new Set(all.map((m) => m.name));
  } finally {
    gateway.close();
    identity.close();
  }
}
