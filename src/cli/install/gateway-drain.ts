/**
 * How an installed gateway leaves on SIGTERM (a rolling update, a node drain), from
 * `--gateway-drain-delay`, `--gateway-shutdown-grace` and `--gateway-min-ready-seconds`. The
 * defaults suit kube-proxy and a load balancer that follows the Service's endpoints within
 * seconds; a cloud load balancer whose health checks take longer to notice a node (an NLB with
 * `externalTrafficPolicy: Local` takes 20–30 s) needs a longer drain, and a new replica it has
 * not registered yet should not count as available at once (`minReadySeconds`).
 */
import { parseDurationFlag } from '../common-flags.js';

export interface GatewayDrain {
  /** The gateway's `--drain-delay-ms`: unready but serving while endpoints and load balancers catch up. */
  delayMs: number;
  /** The gateway's `--shutdown-grace-ms`, counted from SIGTERM: open tunnels are cut after it. */
  graceMs: number;
  /** The gateway Deployment's `minReadySeconds`: a new replica counts as available only after it. */
  minReadySeconds: number;
}

export const DEFAULT_GATEWAY_DRAIN: GatewayDrain = { delayMs: 5_000, graceMs: 25_000, minReadySeconds: 0 };

export interface GatewayDrainFlags {
  /** A duration (`5s`, `1m`); absent: 5s. */
  gatewayDrainDelay?: string;
  /** A duration; absent: 25s. */
  gatewayShutdownGrace?: string;
  /** Whole seconds; absent: 0. */
  gatewayMinReadySeconds?: string;
}

/** The install flags of GatewayDrainFlags, for `--no-gateway`'s refusal of gateway flags. */
export const GATEWAY_DRAIN_FLAGS: ReadonlyArray<readonly [keyof GatewayDrainFlags, string]> = [
  ['gatewayDrainDelay', '--gateway-drain-delay'],
  ['gatewayShutdownGrace', '--gateway-shutdown-grace'],
  ['gatewayMinReadySeconds', '--gateway-min-ready-seconds'],
];

/** Past this the kubelet's wait for a stopping pod holds a node drain for longer than anyone expects. */
const MAX_GRACE_MS = 3_600_000;

export function gatewayDrainFromFlags(flags: GatewayDrainFlags, problems: string[]): GatewayDrain {
  const duration = (text: string | undefined, flag: string, fallback: number): number => {
    if (text === undefined) return fallback;
    try {
      return parseDurationFlag(text, flag);
    } catch (err) {
      problems.push((err as Error).message);
      return fallback;
    }
  };
  const delayMs = duration(flags.gatewayDrainDelay, '--gateway-drain-delay', DEFAULT_GATEWAY_DRAIN.delayMs);
  const graceMs = duration(
    flags.gatewayShutdownGrace,
    '--gateway-shutdown-grace',
    Math.max(DEFAULT_GATEWAY_DRAIN.graceMs, delayMs + 20_000),
  );
  if (delayMs > graceMs)
    problems.push(
      `--gateway-drain-delay ${flags.gatewayDrainDelay ?? '5s'} exceeds --gateway-shutdown-grace ${flags.gatewayShutdownGrace ?? '25s'} (the grace includes the delay)`,
    );
  if (graceMs > MAX_GRACE_MS) problems.push('--gateway-shutdown-grace must be at most 1h');
  const readyText = flags.gatewayMinReadySeconds ?? String(DEFAULT_GATEWAY_DRAIN.minReadySeconds);
  const minReadySeconds = Number(readyText);
  if (!/^\d+$/.test(readyText) || minReadySeconds > 3600)
    problems.push(`--gateway-min-ready-seconds must be an integer from 0 to 3600, got "${readyText}"`);
  return { delayMs: Math.round(delayMs), graceMs: Math.round(graceMs), minReadySeconds };
}

/** The gateway's own flags for the drain. */
export function gatewayDrainArgs(drain: GatewayDrain): string[] {
  return [`--drain-delay-ms=${drain.delayMs}`, `--shutdown-grace-ms=${drain.graceMs}`];
}

/** Room for the drain, then a clean stop, before the kubelet's SIGKILL. */
export function gatewayTerminationGraceSeconds(drain: GatewayDrain): number {
  return Math.ceil(drain.graceMs / 1000) + 5;
}

/** The API server's default progressDeadlineSeconds, which must exceed minReadySeconds. */
const DEFAULT_PROGRESS_DEADLINE_SECONDS = 600;

/**
 * The Deployment's minReadySeconds, and a progressDeadlineSeconds above it where the default is not
 * (kube-apiserver refuses a deadline that does not exceed minReadySeconds).
 */
export function gatewayRolloutFields(drain: GatewayDrain): {
  minReadySeconds: number;
  progressDeadlineSeconds?: number;
} {
  const { minReadySeconds } = drain;
  return minReadySeconds < DEFAULT_PROGRESS_DEADLINE_SECONDS
    ? { minReadySeconds }
    : { minReadySeconds, progressDeadlineSeconds: minReadySeconds + DEFAULT_PROGRESS_DEADLINE_SECONDS };
}
