/**
 * Gateways of the end-to-end tests, running in process: one of a cluster, and the start of the
 * unlink tests (two linked clusters, each with its gateway, and west exporting an echo Service).
 */
import { type Logger, pino } from 'pino';
import { R } from '../../kube/resources.js';
import { type GatewayFlags, gatewayOptionsFromFlags } from '../config.js';
import { type RunningGateway, runGateway } from '../run-gateway.js';
import { echo, startTcpBackend } from '../test-support/backends.js';
import {
  type Cluster,
  endpointSlice,
  exportedService,
  gatewayFlags,
  startLinkedClusters,
  waitFor,
} from './fixtures.js';

/**
 * The gateway of `cluster` (named `name`) with all three faces on `host`, `extra` flags on top,
 * logging to `logger` (silent unless given), without process metrics.
 */
export function startGateway(
  cluster: Cluster,
  name: string,
  host: string,
  extra: GatewayFlags = {},
  logger: Logger = pino({ level: 'silent' }),
): Promise<RunningGateway> {
  const config = gatewayOptionsFromFlags({ ...gatewayFlags(cluster, name, host), ...extra });
  return runGateway(config, { logger, processMetrics: false });
}

export interface LinkedGateways {
  east: Cluster;
  west: Cluster;
  eastGw: RunningGateway;
  westGw: RunningGateway;
  /** The echo backend behind west's `echo`. */
  backendPort: number;
}

/**
 * East and west as startLinkedClusters makes them (west's Link admits east), their gateways
 * listening on `hosts` (silent, no process metrics) and ready, and west's `ns/echo` exported at
 * `port`, served by an echo backend. Everything goes onto `cleanups`.
 */
export async function startLinkedGateways(
  hosts: { east: string; west: string },
  ns: string,
  port: number,
  cleanups: Array<() => unknown>,
): Promise<LinkedGateways> {
  const { east, west } = await startLinkedClusters(hosts.east, ns, cleanups);
  const backend = await startTcpBackend(echo);
  cleanups.push(() => backend.close());
  const westGw = await startGateway(west, 'west', hosts.west);
  cleanups.push(() => westGw.stop());
  const eastGw = await startGateway(east, 'east', hosts.east);
  cleanups.push(() => eastGw.stop());
  await waitFor('gateways ready', () => westGw.readiness().ready && eastGw.readiness().ready, 15_000);
  await west.kube.create(R.services, exportedService(ns, 'echo', port));
  await west.kube.create(R.endpointSlices, endpointSlice(ns, 'echo', '127.0.0.1', backend.port));
  return { east, west, eastGw, westGw, backendPort: backend.port };
}
