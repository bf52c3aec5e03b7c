/**
 * Public surface of the mirror controller for the other parts (cli `isthmus controller` and
 * `isthmus check`, the failover controller sharing the process). Internals stay importable by path.
 */
export {
  type ControllerConfig,
  type RunningController,
  runController,
} from './controller.js';
export { readyGatewayAddresses } from './gateway-addresses.js';
export { electLeader, MIRROR_LEASE_NAME } from './leadership.js';
export { type LinkConfig, type ParsedLink, parseLinkSpec } from './link-config.js';
export { type LinkState, linkStatus } from './link-status.js';
export { type MirrorMetrics, mirrorMetrics } from './metrics.js';
export { formatEgressPorts, mirrorName, parseEgressPorts } from './mirror-objects.js';
export { type Action, type MirrorPlan, type MirrorPlanInput, planMirror } from './plan-mirror.js';
export { DEFAULT_EGRESS_RANGE, PortAllocator, type PortRange } from './port-allocator.js';
export { Leadership, type Logger } from './shared.js';
export { type MirrorReason, skipReason } from './skip-reason.js';
