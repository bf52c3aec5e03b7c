/** What every part of a running gateway shares (run-gateway.ts assembles them). */
import type { Logger } from 'pino';
import type { GatewayConfig } from './config.js';
import type { GatewayMetrics } from './metrics.js';
import type { StopList } from './stop-list.js';

export interface GatewayContext {
  config: GatewayConfig;
  log: Logger;
  metrics: GatewayMetrics;
  /** Where each part registers how it closes (in reverse order at stop). */
  stops: StopList;
  /** Readiness may have changed: the admin port's health service looks again. */
  refresh(): void;
}
